/**
 * PostgreSQL dropping the service's connections while they are in use (`pg_terminate_backend`, what
 * a server restart, a failover or an idle-session killer does): the process must live, every
 * failure must be a 503 problem document with Retry-After, the pool must replace the broken
 * connections, and reveals must resume by themselves. Runs `credreg serve` as a real process.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, type TestDatabase } from '../helpers/backends.js';
import { collect, credreg, freePort } from '../helpers/processes.js';
import { waitFor, waitUntil } from '../helpers/wait.js';

const postgres = BACKENDS.find((b) => b.name === 'postgres');
const APP = 'credreg-connection-loss';

(postgres ? describe : describe.skip)('connections terminated under load (PostgreSQL)', () => {
  let t: TestDatabase;
  let server: ChildProcess;
  let log: { out: () => string };
  let base: string;
  let admin: pg.Client;

  beforeAll(async () => {
    t = await postgres!.open();
    const url = new URL(t.url!);
    url.searchParams.set('application_name', APP);
    const port = await freePort();
    server = credreg(['serve'], {
      DATABASE_URL: url.toString(),
      CREDREG_ROOT_KEY: randomBytes(32).toString('base64'),
      CREDREG_DB_ROLE_PREFIX: t.prefix,
      CREDREG_LISTEN: `127.0.0.1:${port}`,
      CREDREG_MAINTENANCE_INTERVAL_MS: '0',
      CREDREG_RATE_LIMIT: '1000000',
      CREDREG_DB_POOL_MAX: '8',
      CREDREG_LOG_LEVEL: 'warn',
    });
    log = collect(server);
    base = `http://127.0.0.1:${port}`;
    await waitUntil(
      () =>
        fetch(`${base}/healthz`).then(
          (r) => r.ok,
          () => false,
        ),
      'the service',
      120_000,
    );
    admin = new pg.Client({ connectionString: t.url });
    await admin.connect();
  });
  afterAll(async () => {
    if (server && server.exitCode === null) server.kill('SIGKILL');
    await admin?.end();
    await t?.close();
  });

  const call = async (token: string, method: string, path: string, body?: unknown, id?: string) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
        ...(id ? { 'x-request-id': id } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  };

  it('the process lives, errors are 503 with Retry-After, and reveals resume', async () => {
    const platform = log.out().match(/platform admin token[^\n]*?(crp\.[A-Za-z0-9._-]+)/)![1]!;
    const tenant = await call(platform, 'POST', '/v1/tenants', { name: 'acme' });
    const token = (
      await call(platform, 'POST', `/v1/tenants/${tenant.body.id}/tokens`, { name: 'ops', role: 'admin' })
    ).body.token as string;
    const vault = await call(token, 'POST', '/v1/vaults', { name: 'payments' });
    const cred = await call(token, 'POST', `/v1/vaults/${vault.body.id}/credentials`, {
      name: 'stripe',
      type: 'api_key',
      value: 'sk_live_connection_loss',
    });
    expect(cred.status).toBe(201);

    const statuses = new Map<number, number>();
    const granted: string[] = [];
    const failures: { status: number; retryAfter: string | null; type: string | null; code: unknown }[] = [];
    let stop = false;
    let n = 0;
    const worker = async () => {
      while (!stop) {
        const id = `loss-${n++}`;
        try {
          const r = await call(
            token,
            'POST',
            `/v1/credentials/${cred.body.id}/reveal`,
            { reason: 'load' },
            id,
          );
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          if (r.status === 200) {
            expect(r.body.value).toBe('sk_live_connection_loss');
            granted.push(r.headers.get('x-request-id')!); // the server's id, the one its row carries
          } else {
            failures.push({
              status: r.status,
              retryAfter: r.headers.get('retry-after'),
              type: r.headers.get('content-type'),
              code: r.body.code,
            });
          }
        } catch (err) {
          // The service must answer every request it accepted; a dropped socket means it died.
          if (!stop) throw err;
        }
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    const ok = () => {
      if (server.exitCode !== null || server.signalCode !== null)
        throw new Error(`the service died:\n${log.out()}`);
      return statuses.get(200) ?? 0;
    };
    let terminated = 0;
    for (let round = 0; round < 5; round++) {
      const before = ok();
      await waitFor(() => (ok() >= before + 20 ? ['resumed'] : null) as RegExpMatchArray | null, 'reveals');
      const r = await admin.query(
        'SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) x',
        [APP],
      );
      terminated += r.rows[0].n;
    }
    // Reveals resume on fresh connections, without a restart.
    const after = ok();
    await waitFor(
      () => (ok() >= after + 50 ? ['resumed'] : null) as RegExpMatchArray | null,
      'reveals after',
    );
    stop = true;
    await Promise.all(workers);

    expect(server.exitCode).toBeNull();
    expect(terminated).toBeGreaterThan(0);
    expect([...statuses.keys()].filter((s) => s !== 200 && s !== 503)).toEqual([]);
    for (const f of failures) {
      // The database away, or the access-log row lost with it: both say retry.
      expect(f).toMatchObject({ status: 503, code: expect.stringMatching(/^(AUDIT_)?UNAVAILABLE$/) });
      expect(f.type).toMatch(/^application\/problem\+json/);
      expect(f.retryAfter).toMatch(/^\d+$/);
    }
    // No value left without its committed row.
    const rows = await admin.query<{ request_id: string }>(
      "SELECT request_id FROM credential_access_log WHERE action = 'reveal' AND outcome = 'granted'",
    );
    const logged = new Set(rows.rows.map((r) => r.request_id));
    expect(granted.filter((id) => !logged.has(id))).toEqual([]);
    expect(log.out()).not.toMatch(/Unhandled|uncaught/i);
  }, 300_000);
});
