/**
 * The remote commands as a user runs them: a real `credreg serve` on a temporary embedded store,
 * driven by real `credreg` processes over HTTP, values piped in on stdin.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const ENTRY = ['--import', 'tsx', 'src/cli/index.ts'];

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment without anything that would point a child at another database or server. */
function cleanEnv(): NodeJS.ProcessEnv {
  const { DATABASE_URL: _db, CREDREG_ADDR: _addr, CREDREG_TOKEN: _token, ...rest } = process.env;
  return rest;
}

describe('credreg remote commands end to end (a real `credreg serve`, driven by the CLI over HTTP)', () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'credreg-remote-')), 'data');
  let server: ChildProcess;
  let serverLog = '';
  let addr: string;
  let platformToken: string;
  let tenantToken: string;
  let vaultId: string;
  let credentialId: string;

  /** Runs `credreg <args>` against the server, with `stdin` piped in (empty when not given). */
  function credreg(args: string[], options: { token?: string; stdin?: string } = {}): Promise<Result> {
    const env = {
      ...cleanEnv(),
      CREDREG_ADDR: addr,
      ...(options.token ? { CREDREG_TOKEN: options.token } : {}),
    };
    const child = spawn(process.execPath, [...ENTRY, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.end(options.stdin ?? '');
    return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  }

  /** `credreg <args> --json`, expected to succeed. */
  async function json<T>(args: string[], options: { token?: string; stdin?: string } = {}): Promise<T> {
    const r = await credreg([...args, '--json'], options);
    expect(r, r.stderr).toMatchObject({ code: 0 });
    return JSON.parse(r.stdout) as T;
  }

  beforeAll(async () => {
    server = spawn(process.execPath, [...ENTRY, 'serve', '--migrate'], {
      // Upkeep off: a scheduled re-wrap would race the keys tests (they run it by hand).
      env: {
        ...cleanEnv(),
        CREDREG_DATA_DIR: dataDir,
        CREDREG_LISTEN: '127.0.0.1:0',
        CREDREG_MAINTENANCE_INTERVAL_MS: '0',
        CREDREG_AUDIT_SEAL_INTERVAL_MS: '0',
        CREDREG_AUDIT_SINK_INTERVAL_MS: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout!.on('data', (d) => (serverLog += d));
    server.stderr!.on('data', (d) => (serverLog += d));
    addr = (
      await waitFor(() => serverLog.match(/credreg listening on (http:\/\/[\d.:]+)/), 'the listening line')
    )[1]!;
    platformToken = (
      await waitFor(
        () => serverLog.match(/platform admin token.*?(crp\.[A-Za-z0-9._-]+)/),
        'the bootstrap token',
      )
    )[1]!;
  });
  afterAll(() => {
    if (server.exitCode === null) server.kill('SIGKILL');
  });

  it('printed the bootstrap platform token exactly once', () => {
    expect(serverLog.match(/platform admin token/g)).toHaveLength(1);
  });

  it('tenant create, then token create-admin, print the new token alone on stdout', async () => {
    const tenant = await json<{ id: string; name: string }>(['tenant', 'create', 'acme'], {
      token: platformToken,
    });
    expect(tenant.name).toBe('acme');

    const list = await credreg(['tenant', 'list'], { token: platformToken });
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+NAME\s+CREATED\n/);
    expect(list.stdout).toContain(tenant.id);

    const admin = await credreg(['token', 'create-admin', '--tenant', tenant.id, '--name', 'alice'], {
      token: platformToken,
    });
    expect(admin.code, admin.stderr).toBe(0);
    expect(admin.stdout).toMatch(/^cr[a-z]\.[A-Za-z0-9._-]+\n$/);
    expect(admin.stderr).toMatch(/role admin .* not shown again/);
    tenantToken = admin.stdout.trim();
  });

  it('vault create and cred put store a credential whose value came from stdin and is never printed', async () => {
    vaultId = (await json<{ id: string }>(['vault', 'create', 'payments'], { token: tenantToken })).id;

    const put = await credreg(
      ['cred', 'put', vaultId, 'stripe', '--type', 'api_key', '--metadata', '{"team":"billing"}'],
      {
        token: tenantToken,
        stdin: 'sk_live_first\n',
      },
    );
    expect(put.code, put.stderr).toBe(0);
    expect(put.stdout).toMatch(/^NAME\s+stripe$/m);
    expect(put.stdout).toMatch(/^VERSION\s+1$/m);
    expect(put.stdout + put.stderr).not.toContain('sk_live_first');
    credentialId = put.stdout.match(/^ID\s+(\S+)$/m)![1]!;
  });

  it('cred get --reason prints the value alone, ready for a pipe; --json prints the whole reveal', async () => {
    const get = await credreg(['cred', 'get', credentialId, '--reason', 'e2e check'], { token: tenantToken });
    expect(get).toEqual({ code: 0, stdout: 'sk_live_first\n', stderr: '' });

    const revealed = await json<{ value: string; version: number }>(
      ['cred', 'get', credentialId, '--reason', 'e2e check'],
      { token: tenantToken },
    );
    expect(revealed).toMatchObject({
      credentialId,
      name: 'stripe',
      type: 'api_key',
      value: 'sk_live_first',
      version: 1,
    });
  });

  it('cred show prints metadata, never the value; cred deactivate refuses reveals until cred activate', async () => {
    const show = await credreg(['cred', 'show', 'payments/stripe'], { token: tenantToken });
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/^NAME\s+stripe$/m);
    expect(show.stdout).toMatch(/^ACTIVE\s+true$/m);
    expect(show.stdout).not.toContain('sk_live');
    const off = await credreg(['cred', 'deactivate', 'payments/stripe'], { token: tenantToken });
    expect(off).toMatchObject({ code: 0, stdout: 'stripe is deactivated\n' });
    const refused = await credreg(['cred', 'get', 'payments/stripe', '--reason', 'while off'], {
      token: tenantToken,
    });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/deactivated/);
    expect(refused.stdout).toBe('');
    const on = await credreg(['cred', 'activate', credentialId], { token: tenantToken });
    expect(on).toMatchObject({ code: 0, stdout: 'stripe is active\n' });
    expect(
      (await credreg(['cred', 'get', credentialId, '--reason', 'back on'], { token: tenantToken })).code,
    ).toBe(0);
  });

  it('cred get without --reason exits 2 (usage) and reveals nothing', async () => {
    const get = await credreg(['cred', 'get', credentialId], { token: tenantToken });
    expect(get.code).toBe(2);
    expect(get.stderr).toMatch(/required option '--reason <text>' not specified/);
    expect(get.stdout).toBe('');
  });

  it('cred rotate reads the new value from stdin; check-and-set refuses a stale version', async () => {
    const rotate = await credreg(['cred', 'rotate', credentialId, '--expected-version', '1'], {
      token: tenantToken,
      stdin: 'sk_live_second\n',
    });
    expect(rotate).toMatchObject({ code: 0, stdout: 'rotated stripe to version 2\n' });

    const stale = await credreg(['cred', 'rotate', credentialId, '--expected-version', '1'], {
      token: tenantToken,
      stdin: 'sk_live_third\n',
    });
    expect(stale.code).toBe(5);
    expect(stale.stderr).toMatch(/^credreg: VERSION_MISMATCH: [^\n]+\n$/);
    expect(stale.stderr).not.toContain('sk_live_third');

    const current = await credreg(['cred', 'get', credentialId, '--reason', 'after rotation'], {
      token: tenantToken,
    });
    expect(current.stdout).toBe('sk_live_second\n');
    const first = await credreg(['cred', 'get', credentialId, '--reason', 'old one', '--at-version', '1'], {
      token: tenantToken,
    });
    expect(first.stdout).toBe('sk_live_first\n');
  });

  it('cred rotation set, show and cred rotate --rotator: the random rotator makes the next value', async () => {
    const put = await json<{ id: string }>(['cred', 'put', vaultId, 'rotating', '--type', 'api_key'], {
      token: tenantToken,
      stdin: 'first-value\n',
    });
    const set = await credreg(
      [
        'cred',
        'rotation',
        'set',
        put.id,
        '--rotator',
        'random',
        '--schedule',
        'P30D',
        '--settings',
        '{"length":40}',
      ],
      { token: tenantToken },
    );
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/^ROTATOR\s+random \{"length":40,/m);
    expect(set.stdout).toMatch(/^SCHEDULE\s+P30D$/m);
    const bad = await credreg(['cred', 'rotation', 'set', put.id, '--rotator', 'nope'], {
      token: tenantToken,
    });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/rotation\.rotator\.type/);
    const rotated = await credreg(['cred', 'rotate', put.id, '--rotator'], { token: tenantToken });
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toMatch(/version 2 \(random\)/);
    const get = await credreg(['cred', 'get', put.id, '--reason', 'check'], { token: tenantToken });
    expect(get.stdout).toMatch(/^[A-Za-z0-9_-]{40}\n$/);
    const show = await credreg(['cred', 'rotation', 'show', put.id], { token: tenantToken });
    expect(show.stdout).toMatch(/^STATE\s+idle$/m);
    expect(show.stdout + rotated.stdout + set.stdout).not.toContain(get.stdout.trim());
  });

  it('cred rotation set --rotator webhook prints the signing secret once; rotation signing-secret replaces it', async () => {
    const put = await json<{ id: string }>(['cred', 'put', vaultId, 'hooked', '--type', 'api_key'], {
      token: tenantToken,
      stdin: 'sk_live_hooked\n',
    });
    const url = 'https://rotate.example.com/credreg';
    const set = await credreg(['cred', 'rotation', 'set', put.id, '--rotator', 'webhook', '--url', url], {
      token: tenantToken,
    });
    expect(set.code, set.stderr).toBe(0);
    const secret = set.stdout.match(/^SIGNING SECRET\s+(whsec_\S+)$/m)?.[1];
    expect(secret).toMatch(/^whsec_/);
    expect(set.stdout).toContain(`ROTATOR\twebhook {"url":"${url}"}`);
    const show = await credreg(['cred', 'rotation', 'show', put.id], { token: tenantToken });
    expect(show.stdout).toMatch(/^ROTATOR\s+webhook/m);
    expect(show.stdout).not.toContain('SIGNING SECRET');
    const replaced = await json<{ signingSecret: string; previousRetiresAt: string }>(
      ['cred', 'rotation', 'signing-secret', put.id],
      { token: tenantToken },
    );
    expect(replaced.signingSecret).toMatch(/^whsec_/);
    expect(replaced.signingSecret).not.toBe(secret);
    expect(new Date(replaced.previousRetiresAt).getTime()).toBeGreaterThan(Date.now() + 23 * 3_600_000);
  });

  it('cred store --expiry-alerts, cred update and vault update set the alerts; cred list shows expiry and next rotation', async () => {
    const expires = new Date(Date.now() + 20 * 86_400_000).toISOString();
    const stored = await credreg(
      [
        'cred',
        'store',
        vaultId,
        'expiring',
        '--type',
        'api_key',
        '--expires',
        expires,
        '--expiry-alerts',
        'P14D,P1D',
      ],
      { token: tenantToken, stdin: 'soon-gone\n' },
    );
    expect(stored.code, stored.stderr).toBe(0);
    expect(stored.stdout).toMatch(/^EXPIRY ALERTS\s+P14D,P1D$/m);
    const id = stored.stdout.match(/^ID\s+(\S+)$/m)![1]!;
    const inherit = await credreg(['cred', 'update', id, '--expiry-alerts', 'inherit'], {
      token: tenantToken,
    });
    expect(inherit.code, inherit.stderr).toBe(0);
    expect(inherit.stdout).toMatch(/^EXPIRY ALERTS\s+P30D,P7D,P1D \(the vault's\)$/m);
    const vault = await credreg(['vault', 'update', vaultId, '--expiry-alerts', 'P3D,PT6H'], {
      token: tenantToken,
    });
    expect(vault.code, vault.stderr).toBe(0);
    expect(vault.stdout).toMatch(/^EXPIRY ALERTS\s+P3D,PT6H$/m);
    const bad = await credreg(['cred', 'update', id, '--expiry-alerts', 'soon'], { token: tenantToken });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/expiryAlerts\.0/);

    const list = await credreg(['cred', 'list', vaultId], { token: tenantToken });
    expect(list.code, list.stderr).toBe(0);
    const [header, ...rows] = list.stdout.trimEnd().split('\n');
    expect(header).toMatch(/\bEXPIRES\s+NEXT ROTATION\b/);
    expect(rows.find((r) => /\bexpiring\b/.test(r))).toContain(expires);
    // The credential that rotates every 30 days shows when it rotates next.
    expect(rows.find((r) => /\brotating\b/.test(r))).toMatch(/\d{4}-\d\d-\d\dT[\d:.]+Z/);
    const { items } = await json<{ items: { name: string; effectiveExpiryAlerts: string[] }[] }>(
      ['cred', 'list', vaultId],
      { token: tenantToken },
    );
    expect(items.find((c) => c.name === 'expiring')?.effectiveExpiryAlerts).toEqual(['P3D', 'PT6H']);
    const reset = await credreg(['vault', 'update', vaultId, '--expiry-alerts', 'default'], {
      token: tenantToken,
    });
    expect(reset.stdout).toMatch(/^EXPIRY ALERTS\s+P30D,P7D,P1D \(default\)$/m);
  });

  it('cred versions lists both versions', async () => {
    const table = await credreg(['cred', 'versions', credentialId], { token: tenantToken });
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^VERSION\s+STAGES\s+KEY VERSION\s+CREATED\s+CREATED BY\s+DESTROYED\n/);
    expect(table.stdout).toMatch(/\n2\s+current\s/);
    expect(table.stdout).toMatch(/\n1\s+previous\s/);
    const { items } = await json<{ items: { version: number }[] }>(['cred', 'versions', credentialId], {
      token: tenantToken,
    });
    expect(items.map((v) => v.version).sort()).toEqual([1, 2]);
  });

  it('stores and reveals a structured value as JSON', async () => {
    const db = await json<{ id: string }>(['cred', 'put', vaultId, 'db', '--type', 'basic_auth'], {
      token: tenantToken,
      stdin: '{"username":"app","password":"hunter2-db"}\n',
    });
    const get = await credreg(['cred', 'get', db.id, '--reason', 'migration'], { token: tenantToken });
    expect(get.code).toBe(0);
    expect(JSON.parse(get.stdout)).toEqual({ username: 'app', password: 'hunter2-db' });

    const bad = await credreg(['cred', 'put', vaultId, 'db2', '--type', 'basic_auth'], {
      token: tenantToken,
      stdin: '{"username":"app","password":"hunter2-typo"',
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(
      'credreg: the value of a basic_auth credential must be JSON; what was given is not\n',
    );
  });

  it('names and paths instead of ids: cred get payments/stripe, cred versions, cred list and vault get by name', async () => {
    const [byPath, byId, db] = await Promise.all([
      credreg(['cred', 'get', 'payments/stripe', '--reason', 'x'], { token: tenantToken }),
      credreg(['cred', 'get', credentialId, '--reason', 'x'], { token: tenantToken }),
      credreg(['cred', 'get', 'payments/db', '--reason', 'x'], { token: tenantToken }),
    ]);
    expect(byPath.code, byPath.stderr).toBe(0);
    expect(byPath.stdout).toBe(byId.stdout);
    expect(JSON.parse(db.stdout)).toEqual({ username: 'app', password: 'hunter2-db' });

    const [versions, listed, vault, vaults] = await Promise.all([
      json<{ items: { version: number }[] }>(['cred', 'versions', 'payments/stripe'], { token: tenantToken }),
      json<{ items: { name: string }[] }>(['cred', 'list', 'payments', '--prefix', 'str'], {
        token: tenantToken,
      }),
      json<{ id: string }>(['vault', 'get', 'payments'], { token: tenantToken }),
      json<{ items: { id: string }[] }>(['vault', 'list', '--name', 'payments'], { token: tenantToken }),
    ]);
    expect(versions.items.map((v) => v.version).sort()).toEqual([1, 2]);
    expect(listed.items.map((c) => c.name)).toEqual(['stripe']);
    expect(vault.id).toBe(vaultId);
    expect(vaults.items.map((v) => v.id)).toEqual([vaultId]);
  }, 120_000);

  it('a path that names nothing, or no path at all, fails with a message and reveals nothing', async () => {
    const [missing, noVault, bare, field] = await Promise.all([
      credreg(['cred', 'get', 'payments/nope', '--reason', 'x'], { token: tenantToken }),
      credreg(['cred', 'get', 'nowhere/stripe', '--reason', 'x'], { token: tenantToken }),
      credreg(['cred', 'get', 'stripe', '--reason', 'x'], { token: tenantToken }),
      credreg(['cred', 'versions', 'payments/stripe#password'], { token: tenantToken }),
    ]);
    for (const r of [missing, noVault, bare, field]) {
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).not.toContain('sk_live');
    }
    expect(missing.stderr).toMatch(/NOT_FOUND: credential not found/);
    expect(noVault.stderr).toBe(missing.stderr);
    expect(bare.stderr).toMatch(/vault\/name \(e\.g\. payments\/stripe\)/);
    expect(field.stderr).toMatch(/takes no #field/);
  }, 120_000);

  it('cred put into a vault by name, then rotate, rm and restore by path', async () => {
    const put = await json<{ id: string }>(['cred', 'put', 'payments', 'by-path', '--type', 'api_key'], {
      token: tenantToken,
      stdin: 'path-v1\n',
    });
    const rotated = await json<{ version: number }>(['cred', 'rotate', 'payments/by-path'], {
      token: tenantToken,
      stdin: 'path-v2\n',
    });
    expect(rotated.version).toBe(2);
    const rm = await json<{ id: string; deletedAt: string }>(['cred', 'rm', 'payments/by-path'], {
      token: tenantToken,
    });
    expect(rm.id).toBe(put.id);
    const gone = await credreg(['cred', 'get', 'payments/by-path', '--reason', 'x'], { token: tenantToken });
    expect(gone.stderr).toMatch(/NOT_FOUND/);
    const restored = await json<{ id: string; deletedAt: string | null }>(
      ['cred', 'restore', 'payments/by-path'],
      { token: tenantToken },
    );
    expect(restored).toMatchObject({ id: put.id, deletedAt: null });
    const get = await credreg(['cred', 'get', 'payments/by-path', '--reason', 'x'], { token: tenantToken });
    expect(get).toEqual({ code: 0, stdout: 'path-v2\n', stderr: '' });
  }, 120_000);

  it('keys rotate, status, rewrap and destroy move a vault to a new key; values still reveal', async () => {
    expect(
      await json<{ version: number }>(['keys', 'rotate', '--vault', vaultId], { token: tenantToken }),
    ).toEqual({ version: 2 });
    const refused = await credreg(['keys', 'destroy', vaultId, '1'], { token: tenantToken });
    expect(refused.code).toBe(5);
    expect(refused.stderr.trim()).toMatch(/^credreg: CONFLICT: \d+ data keys still use vault key version 1/);
    const moved = await json<{ rewrapped: number; remaining: number }>(
      ['keys', 'rewrap', vaultId, '--batch-size', '1'],
      {
        token: tenantToken,
      },
    );
    expect(moved.remaining).toBe(0);
    expect(moved.rewrapped).toBeGreaterThan(0);
    expect((await credreg(['keys', 'destroy', vaultId, '1'], { token: tenantToken })).code).toBe(0);
    const status = await credreg(['keys', 'status', '--vault', vaultId], { token: tenantToken });
    expect(status.stdout).toMatch(/^VERSION\s+CURRENT\s+DATA KEYS/);
    const which = await credreg(['keys', 'rotate'], { token: tenantToken });
    expect([which.code, which.stderr]).toEqual([
      2, // a usage error: see exit-codes.ts
      'credreg: which vault? give its id or name, as an argument or with --vault\n',
    ]);
    const got = await credreg(['cred', 'get', credentialId, '--reason', 'after key rotation'], {
      token: tenantToken,
    });
    expect(got.code).toBe(0);
    expect(got.stdout.length).toBeGreaterThan(0);
  });

  it('keys root-status and rotate-root (platform admin): every vault key under the current root key', async () => {
    const status = await credreg(['keys', 'root-status'], { token: platformToken });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(
      /^PROVIDER\s+KEY\s+CURRENT\s+VAULT KEYS\nlocal\s+local:[0-9a-f]{16}\s+yes\s+\d+\n/,
    );
    expect(status.stdout).toMatch(/\n0 vault keys left to re-wrap\n$/);
    expect(await json(['keys', 'rotate-root'], { token: platformToken })).toEqual({
      rewrapped: 0,
      failed: 0,
    });
    const tenant = await credreg(['keys', 'root-status'], { token: tenantToken });
    expect(tenant.code).toBe(3);
    expect(tenant.stderr).toMatch(/^credreg: FORBIDDEN/);
  });

  it('audit export --format jsonl writes every entry, reasons included, values never', async () => {
    const jsonl = await credreg(['audit', 'export', '--format', 'jsonl'], { token: tenantToken });
    expect(jsonl.code, jsonl.stderr).toBe(0);
    const entries = jsonl.stdout
      .trimEnd()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as {
            action: string;
            outcome: string;
            reason: string | null;
            credentialId: string;
          },
      );
    const mine = entries.filter((e) => e.credentialId === credentialId);
    expect(mine.filter((e) => e.action === 'store' && e.outcome === 'granted')).toHaveLength(1);
    expect(mine.filter((e) => e.action === 'rotate' && e.outcome === 'granted')).toHaveLength(1);
    expect(mine.filter((e) => e.action === 'rotate' && e.outcome === 'conflict')).toHaveLength(1);
    expect(mine.filter((e) => e.action === 'reveal' && e.reason === 'e2e check')).toHaveLength(2);
    expect(jsonl.stdout).not.toMatch(/sk_live_|hunter2/);

    const csv = await credreg(['audit', 'export', '--format', 'csv', '--credential', credentialId], {
      token: tenantToken,
    });
    expect(csv.code).toBe(0);
    const lines = csv.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(
      'id,tenantId,occurredAt,credentialId,vaultId,action,outcome,actor,reason,sourceIp,userAgent,requestId,clientRequestId,version,errorCode',
    );
    expect(lines).toHaveLength(mine.length + 1);
  });

  it('a wrong token exits 3 with a one-line message', async () => {
    const r = await credreg(['vault', 'list'], { token: 'crp.not-a-real-token' });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^credreg: [A-Z_]+: [^\n]+\n$/);
  });

  it('a tenant token cannot manage tenants', async () => {
    const r = await credreg(['tenant', 'create', 'other'], { token: tenantToken });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^credreg: FORBIDDEN: [^\n]+\n$/);
  });

  it('no token (3), or no server (6), with a one-line message', async () => {
    const noToken = await credreg(['vault', 'list']);
    expect(noToken).toMatchObject({
      code: 3,
      stderr: `credreg: no API token for ${addr}: run \`credreg login --addr ${addr}\`, set CREDREG_TOKEN, or pass --token\n`,
    });

    const dead = `http://127.0.0.1:${await freePort()}`;
    const noServer = await credreg(['vault', 'list', '--addr', dead], { token: tenantToken });
    expect(noServer).toMatchObject({
      code: 6,
      stderr: `credreg: UNAVAILABLE: the server at ${dead} could not be reached (ECONNREFUSED)\n`,
    });
  });
});
