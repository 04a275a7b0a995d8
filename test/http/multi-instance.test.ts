/**
 * Three `credreg serve` processes on one PostgreSQL database behind a real HAProxy, run as an
 * operator runs them: requests are spread over all three, a token revoked through one is refused by
 * every one within the token cache's lifetime, scheduled upkeep runs once per interval between them
 * (not once each), and the instance holding the upkeep lease, killed outright, costs no request once
 * the health check has taken it out, and no upkeep: its lease lapses and a survivor takes over.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, type TestDatabase } from '../helpers/backends.js';
import { collect, credreg, exited, freePort, LISTENING } from '../helpers/processes.js';
import { waitFor, waitUntil } from '../helpers/wait.js';

const HAPROXY = '/usr/sbin/haproxy';
const RUNS = Boolean(process.env.DATABASE_URL) && existsSync(HAPROXY);
const TITLE = 'three credreg serve processes behind HAProxy, on PostgreSQL';
const SUITE = RUNS ? TITLE : `${TITLE} (set DATABASE_URL and install haproxy to run)`;

/** The documented bound on a revocation reaching another instance: its token cache's lifetime. */
const TOKEN_CACHE_TTL_MS = 1000;
const MAINTENANCE_INTERVAL_MS = 2000;
/** Scheduling, request and polling slack on a busy two-core machine, on top of a bound. */
const MARGIN_MS = 3000;
/** Each instance's /metrics is read on its main listener, as a Prometheus scrape with a token would. */
const METRICS_TOKEN = randomBytes(32).toString('base64url');

interface Instance {
  child: ChildProcess;
  out(): string;
  base: string;
}

function serve(env: Record<string, string>): Instance {
  const child = credreg(['serve'], env);
  return { child, out: collect(child).out, base: '' };
}

const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || !alive(child)) return;
  const gone = exited(child);
  child.kill('SIGKILL');
  await gone;
}

async function call(base: string, method: string, path: string, token?: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    // HAProxy's own error pages are HTML
  }
  return { status: res.status, body: parsed };
}

/** Requests one instance has answered on a route, from its own /metrics (every status). */
async function served(base: string, route: string, method: string): Promise<number> {
  const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  if (res.status !== 200) throw new Error(`${base}/metrics answered ${res.status}: ${await res.text()}`);
  const text = await res.text();
  let n = 0;
  for (const m of text.matchAll(/^credreg_http_requests_total\{([^}]*)\} (\d+)$/gm)) {
    if (m[1]!.includes(`route="${route}"`) && m[1]!.includes(`method="${method}"`)) n += Number(m[2]);
  }
  return n;
}

(RUNS ? describe : describe.skip)(SUITE, () => {
  let dir: string;
  let t: TestDatabase | undefined;
  let instances: Instance[] = [];
  let haproxy: ChildProcess | undefined;
  let haproxyOut = '';
  let lb: string;
  let statsPort: number;
  let admin: string;
  let principalId: string;

  /** How an instance names itself in the upkeep lease. */
  const holderOf = (s: Instance) => `${hostname()}:${s.child.pid}`;
  const leaseHolder = async () => {
    const [row] = await t!.db.transaction((c) =>
      c.query<{ holder: string | null }>(`SELECT holder FROM job_leases WHERE name = 'maintenance'`),
    );
    return row?.holder ?? null;
  };

  /** Each server's state as HAProxy's health checks see it, from its stats page. */
  const serverStates = async () => {
    const csv = await (await fetch(`http://127.0.0.1:${statsPort}/stats;csv`)).text();
    const [header, ...rows] = csv.trim().split('\n');
    const cols = header!.replace(/^# /, '').split(',');
    const col = (row: string[], name: string) => row[cols.indexOf(name)] ?? '';
    const states = new Map<string, string>();
    for (const row of rows.map((r) => r.split(','))) {
      if (col(row, 'pxname') !== 'credreg' || /^(FRONTEND|BACKEND)$/.test(col(row, 'svname'))) continue;
      states.set(col(row, 'svname'), `${col(row, 'status')} ${col(row, 'check_status')}`);
    }
    return states;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'credreg-lb-'));
    // A database of its own, migrated once; the instances start without --migrate.
    t = await BACKENDS.find((b) => b.name === 'postgres')!.open();
    const env = {
      DATABASE_URL: t.url!,
      CREDREG_ROOT_KEY: randomBytes(32).toString('base64'),
      CREDREG_LISTEN: '127.0.0.1:0',
      CREDREG_DB_ROLE_PREFIX: t.prefix,
      CREDREG_DB_POOL_MAX: '5',
      CREDREG_LOG_LEVEL: 'info', // the listening line
      CREDREG_TOKEN_CACHE_TTL_MS: String(TOKEN_CACHE_TTL_MS),
      CREDREG_MAINTENANCE_INTERVAL_MS: String(MAINTENANCE_INTERVAL_MS),
      CREDREG_VAULT_KEY_ROTATION_DAYS: '90',
      // Every request reaches the instances from HAProxy's one address.
      CREDREG_RATE_LIMIT: '100000',
      CREDREG_METRICS_TOKEN: METRICS_TOKEN,
    };
    instances = [0, 1, 2].map(() => serve(env));
    await Promise.all(
      instances.map(async (s, i) => {
        const m = await waitFor(
          () => {
            if (!alive(s.child)) throw new Error(`instance ${i} exited during start-up:\n${s.out()}`);
            return s.out().match(LISTENING);
          },
          `instance ${i} to listen`,
          120_000,
        );
        s.base = m[1]!;
      }),
    );

    const port = await freePort();
    statsPort = await freePort();
    lb = `http://127.0.0.1:${port}`;
    const config = join(dir, 'haproxy.cfg');
    writeFileSync(
      config,
      [
        'global',
        '  maxconn 256',
        'defaults',
        '  mode http',
        '  timeout connect 2s',
        '  timeout client 30s',
        '  timeout server 30s',
        '  timeout check 2s',
        'frontend api',
        `  bind 127.0.0.1:${port}`,
        '  default_backend credreg',
        'backend credreg',
        '  balance roundrobin',
        '  option httpchk GET /readyz',
        '  http-check expect status 200',
        '  default-server inter 300 fall 2 rise 2',
        ...instances.map((s, i) => `  server s${i} ${new URL(s.base).host} check`),
        'listen stats',
        `  bind 127.0.0.1:${statsPort}`,
        '  stats enable',
        '  stats uri /stats',
        '',
      ].join('\n'),
    );
    // -db: stay in the foreground, a child of this test, whatever the configuration says.
    haproxy = spawn(HAPROXY, ['-db', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    haproxy.stdout!.on('data', (d) => (haproxyOut += d));
    haproxy.stderr!.on('data', (d) => (haproxyOut += d));
    await waitUntil(
      async () => {
        if (!alive(haproxy!)) throw new Error(`haproxy exited:\n${haproxyOut}`);
        const states = await serverStates().catch(() => new Map<string, string>());
        return states.size === 3 && [...states.values()].every((s) => s === 'UP L7OK');
      },
      'HAProxy to see all three instances healthy',
      60_000,
    );

    const platform = instances
      .map((s) => s.out().match(/platform admin token[^\n]*?(crp\.[A-Za-z0-9._-]+)/)?.[1])
      .find(Boolean)!;
    const tenant = await call(lb, 'POST', '/v1/tenants', platform, { name: 'acme' });
    expect(tenant.status).toBe(201);
    const first = await call(lb, 'POST', `/v1/tenants/${tenant.body.id}/tokens`, platform, { name: 'ops' });
    expect(first.status).toBe(201);
    admin = String(first.body.token);
    principalId = String(first.body.principalId);
  }, 240_000);

  afterAll(async () => {
    // Every process, whatever failed before; then the database and the temporary directory.
    await Promise.allSettled([stop(haproxy), ...instances.map((s) => stop(s.child))]);
    try {
      await t?.close();
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('the three started together on one empty database and minted one platform token between them', () => {
    const printed = instances.flatMap(
      (s) => s.out().match(/platform admin token[^\n]*?crp\.[A-Za-z0-9._-]+/g) ?? [],
    );
    expect(printed).toHaveLength(1);
  });

  it('spreads requests over all three instances (each counts its own in /metrics)', async () => {
    const before = await Promise.all(instances.map((s) => served(s.base, '/v1/vaults', 'GET')));
    const n = 30;
    for (let i = 0; i < n; i++) expect((await call(lb, 'GET', '/v1/vaults', admin)).status).toBe(200);
    const after = await Promise.all(instances.map((s) => served(s.base, '/v1/vaults', 'GET')));
    const each = after.map((a, i) => a - before[i]!);
    expect(each.reduce((x, y) => x + y, 0)).toBe(n);
    for (const [i, count] of each.entries()) expect(count, `instance ${i}`).toBeGreaterThanOrEqual(n / 6);
  });

  it('a token revoked through one instance is refused by every instance within the token cache lifetime', async () => {
    const created = await call(lb, 'POST', '/v1/tokens', admin, { principalId, role: 'reader' });
    expect(created.status).toBe(201);
    const victim = String(created.body.token);
    // Accepted everywhere first, which also leaves it in every instance's cache: the others
    // learn of the revocation only when their cached entry expires.
    for (const [i, s] of instances.entries()) {
      expect((await call(s.base, 'GET', '/v1/vaults', victim)).status, `instance ${i}`).toBe(200);
    }
    const revoked = await call(instances[0]!.base, 'DELETE', `/v1/tokens/${created.body.id}`, admin);
    expect(revoked.status).toBe(204);
    const at = Date.now();
    const took = await Promise.all(
      instances.map(async (s, i) => {
        await waitUntil(
          async () => (await call(s.base, 'GET', '/v1/vaults', victim)).status === 401,
          `instance ${i} to refuse the revoked token`,
          TOKEN_CACHE_TTL_MS + MARGIN_MS,
        );
        return Date.now() - at;
      }),
    );
    console.info(`revocation refused after ${took.join(' / ')} ms (instance 0 revoked it)`);
    // The one that revoked it forgot it at once; the first request after the revocation is refused.
    expect(took[0]).toBeLessThan(MARGIN_MS);
    for (const [i, s] of instances.entries()) {
      expect((await call(s.base, 'GET', '/v1/vaults', victim)).status, `instance ${i}, again`).toBe(401);
    }
    for (let i = 0; i < 3; i++) expect((await call(lb, 'GET', '/v1/vaults', victim)).status).toBe(401);
  });

  it('scheduled upkeep runs once per interval between the three, not once per instance', async () => {
    // Every vault key is born past its 90-day rotation period, so every maintenance pass that
    // runs rotates the vault's key once: the access log's key_rotate rows count the passes. Three
    // instances each running their own pass would rotate about three times per interval.
    await t!.db.session((s) =>
      s.exec(`ALTER TABLE vault_keys ALTER COLUMN created_at SET DEFAULT now() - interval '100 days'`),
    );
    try {
      const vault = await call(lb, 'POST', '/v1/vaults', admin, { name: 'upkeep' });
      expect(vault.status).toBe(201);
      const rotations = () =>
        t!.db.transaction((c) =>
          c.query<{ outcome: string; version: number; at: number }>(
            `SELECT outcome, version, (extract(epoch FROM occurred_at) * 1000)::float8 AS at
               FROM credential_access_log WHERE vault_id = $1 AND action = 'key_rotate' ORDER BY occurred_at`,
            [vault.body.id],
          ),
        );
      // The first rotation, then five more passes: six in all, over five intervals or more.
      const PASSES = 6;
      await waitUntil(
        async () => (await rotations()).length >= PASSES,
        `${PASSES} maintenance passes`,
        PASSES * MAINTENANCE_INTERVAL_MS * 3 + 30_000,
      );
      const rows = (await rotations()).slice(0, PASSES);
      // No two passes ran at once (a concurrent one would leave a conflict row, or a second
      // rotation moments after the first), and each made one new key version.
      expect(rows.map((r) => r.outcome)).toEqual(Array(PASSES).fill('granted'));
      expect(rows.map((r) => r.version)).toEqual([2, 3, 4, 5, 6, 7]);
      // Passes start at least a lease apart (the interval less a tenth) by the database's clock.
      // Each rotation lands a little after its pass started; a quarter of an interval per gap on
      // average absorbs that on a busy machine. Without the lease the gaps average a third of an
      // interval: three instances, each running its own pass.
      const gaps = rows.slice(1).map((r, i) => r.at - rows[i]!.at);
      console.info(`maintenance passes ${gaps.map((g) => Math.round(g)).join(' / ')} ms apart`);
      const average = gaps.reduce((x, y) => x + y, 0) / gaps.length;
      expect(average).toBeGreaterThan(0.75 * MAINTENANCE_INTERVAL_MS);
      // And the lease names one of the three as the holder of the latest pass.
      expect(instances.map(holderOf)).toContain(await leaseHolder());
    } finally {
      await t!.db.session((s) => s.exec('ALTER TABLE vault_keys ALTER COLUMN created_at SET DEFAULT now()'));
    }
  }, 120_000);

  it('the upkeep holder killed outright: the health check takes it out, no request fails, upkeep goes on', async () => {
    const victim = Math.max(0, instances.map(holderOf).indexOf((await leaseHolder()) ?? ''));
    const at = Date.now();
    await stop(instances[victim]!.child); // SIGKILL: no graceful shutdown, connections just drop
    await waitUntil(
      async () => (await serverStates()).get(`s${victim}`)?.startsWith('DOWN') === true,
      'HAProxy to mark the killed instance down',
      30_000,
    );
    console.info(`killed instance marked down after ${Date.now() - at} ms`);
    const survivors = instances.filter((_, i) => i !== victim);
    const before = await Promise.all(survivors.map((s) => served(s.base, '/v1/vaults', 'GET')));
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await call(lb, 'GET', '/v1/vaults', admin)).status);
    const write = await call(lb, 'POST', '/v1/vaults', admin, { name: 'after-the-kill' });
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(new Set(statuses)).toEqual(new Set([200]));
    expect(write.status).toBe(201);
    const after = await Promise.all(survivors.map((s) => served(s.base, '/v1/vaults', 'GET')));
    expect(after.map((a, i) => a - before[i]!).every((n) => n > 0)).toBe(true);
    expect(after[0]! - before[0]! + (after[1]! - before[1]!)).toBe(30);
    expect(alive(haproxy!)).toBe(true);
    // The dead holder's lease just lapses; a survivor claims a later interval.
    await waitUntil(
      async () => survivors.map(holderOf).includes((await leaseHolder()) ?? ''),
      'a surviving instance to claim the upkeep lease',
      3 * MAINTENANCE_INTERVAL_MS + MARGIN_MS,
    );
  }, 60_000);
});
