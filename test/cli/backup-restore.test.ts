/**
 * The restore drill, as an operator runs it: `credreg serve` on an embedded store, credentials
 * stored and revealed, `credreg backup` while it runs, `credreg restore` into a new directory, a
 * second server on that one with the same root key. Then `POST /v1/backup` on each backend: a
 * snapshot on the embedded store, the pg_dump answer on PostgreSQL.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { restoreEmbeddedBackup } from '../../src/db/embedded-restore.js';
import { describeEachBackend } from '../helpers/backends.js';
import { collect, credreg, exited, LISTENING } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';
import { seedTenant, startServer, type TestServer } from '../http/helpers.js';

const quiet = {
  CREDREG_LISTEN: '127.0.0.1:0',
  CREDREG_MAINTENANCE_INTERVAL_MS: '0',
  CREDREG_AUDIT_SEAL_INTERVAL_MS: '0',
  CREDREG_AUDIT_SINK_INTERVAL_MS: '0',
};

async function run(args: string[], env: Record<string, string>) {
  const child = credreg(args, env);
  const log = collect(child);
  const code = await exited(child);
  return { code, out: log.out() };
}

describe('the restore drill (embedded store, real processes)', () => {
  const root = mkdtempSync(join(tmpdir(), 'credreg-backup-'));
  const original = join(root, 'original');
  const restored = join(root, 'restored');
  const archive = join(root, 'credreg.backup.tar.gz');
  const started: ChildProcess[] = [];
  afterAll(() => {
    for (const c of started) if (c.exitCode === null) c.kill('SIGKILL');
  });

  async function serve(dataDir: string, args: string[] = []) {
    const child = credreg(['serve', ...args], { ...quiet, CREDREG_DATA_DIR: dataDir });
    started.push(child);
    const log = collect(child);
    const gone = exited(child).then((code) => {
      throw new Error(`serve exited with ${code}: ${log.out()}`);
    });
    const m = await Promise.race([waitFor(() => log.out().match(LISTENING), 'the listening line'), gone]);
    gone.catch(() => {});
    const base = m[1]!;
    const call = async (token: string, method: string, path: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    return { child, log, base, call };
  }

  it('every value reveals from the restored copy with the same root key, and the access log is intact', async () => {
    const first = await serve(original, ['--migrate']);
    const platform = first.log.out().match(/platform admin token[^\n]*?(crp\.[A-Za-z0-9._-]+)/)![1]!;
    const tenant = await first.call(platform, 'POST', '/v1/tenants', { name: 'acme' });
    const admin = await first.call(platform, 'POST', `/v1/tenants/${tenant.body.id}/tokens`, {
      name: 'alice',
      role: 'admin',
    });
    const token = admin.body.token as string;
    const vault = await first.call(token, 'POST', '/v1/vaults', { name: 'payments' });
    const values = new Map<string, string>();
    for (let i = 0; i < 3; i++) {
      const value = `sk_live_${i}_${'x'.repeat(20)}`;
      const stored = await first.call(token, 'POST', `/v1/vaults/${vault.body.id}/credentials`, {
        name: `stripe-${i}`,
        type: 'api_key',
        value,
      });
      expect(stored.status).toBe(201);
      values.set(stored.body.id as string, value);
    }
    const [someId] = values.keys();
    expect(
      (await first.call(token, 'POST', `/v1/credentials/${someId}/reveal`, { reason: 'before' })).status,
    ).toBe(200);
    const logBefore = (await first.call(token, 'GET', '/v1/audit?limit=100')).body.items as unknown[];
    expect(logBefore.length).toBeGreaterThan(3);

    // A tenant token may not take one; the platform token may, through the CLI.
    expect((await first.call(token, 'POST', '/v1/backup')).status).toBe(403);
    const backedUp = await run(['backup', '--out', archive], {
      CREDREG_ADDR: first.base,
      CREDREG_TOKEN: platform,
    });
    expect(backedUp.code, backedUp.out).toBe(0);
    expect(backedUp.out).toMatch(/holds no root key/);
    expect(statSync(archive).mode & 0o777).toBe(0o600);
    const again = await run(['backup', '--out', archive], {
      CREDREG_ADDR: first.base,
      CREDREG_TOKEN: platform,
    });
    expect(again.code).not.toBe(0);
    expect(again.out).toMatch(/EEXIST|exists/);

    const unpacked = await run(
      ['restore', '--from', archive, '--data-dir', restored, '--root-key-file', join(original, 'root.key')],
      {},
    );
    expect(unpacked.code, unpacked.out).toBe(0);
    expect(unpacked.out).toMatch(/restored into .* \(schema version \d+\)/);
    const twice = await run(['restore', '--from', archive, '--data-dir', restored], {});
    expect(twice.code).not.toBe(0);
    expect(twice.out).toMatch(/is not empty .*restore into a new, empty directory/);
    const notABackup = join(root, 'not-a-backup');
    writeFileSync(notABackup, 'hello');
    const wrong = await run(['restore', '--from', notABackup, '--data-dir', join(root, 'other')], {});
    expect(wrong.code).not.toBe(0);
    expect(wrong.out).toMatch(/not a credreg backup/);

    // The original keeps running: the copy is another store, with its own lock.
    const second = await serve(restored);
    for (const [id, value] of values) {
      const r = await second.call(token, 'POST', `/v1/credentials/${id}/reveal`, { reason: 'restore drill' });
      expect(r.status).toBe(200);
      expect(r.body.value).toBe(value);
    }
    const logAfter = (await second.call(token, 'GET', '/v1/audit?limit=100')).body.items as { id: string }[];
    const after = new Map(logAfter.map((row) => [row.id, row]));
    for (const row of logBefore as { id: string }[]) expect(after.get(row.id)).toEqual(row);
    // and since: the tenant token's refused backup, then the drill's own reveals
    expect(logAfter.length).toBe(logBefore.length + 1 + values.size);
    expect(readFileSync(join(restored, 'root.key'))).toEqual(readFileSync(join(original, 'root.key')));
  }, 300_000); // two servers started, four CLI processes: minutes on a busy two-core machine

  it('a restored store without its root key refuses to start rather than make a new key', async () => {
    const keyless = join(root, 'keyless');
    expect((await run(['restore', '--from', archive, '--data-dir', keyless], {})).out).toMatch(
      /holds no root key: copy the original root.key/,
    );
    const r = await run(['serve'], { ...quiet, CREDREG_DATA_DIR: keyless });
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/root key/i);
  }, 240_000);
});

describe('restoreEmbeddedBackup', () => {
  it('a gzipped file that is not a store is refused, and leaves the directory empty for the next attempt', async () => {
    const target = join(mkdtempSync(join(tmpdir(), 'credreg-backup-')), 'target');
    await expect(restoreEmbeddedBackup(gzipSync('not a tarball'), target)).rejects.toThrow(
      /not a credreg backup/,
    );
    expect(readdirSync(target)).toEqual([]);
  }, 120_000);
});

describeEachBackend('POST /v1/backup', (backend) => {
  let s: TestServer;
  let platform: string;
  afterAll(async () => s?.stop());

  it(backend.name === 'pglite'
    ? 'answers a gzipped snapshot of the store to a platform token only'
    : 'answers 409 with pg_dump guidance on PostgreSQL', async () => {
    s = await startServer(backend);
    platform = (await s.registry.authenticator.bootstrap())!;
    const acme = await seedTenant(s, 'acme');
    const tenantToken = Object.values(acme.tokens)[0] as string;
    expect((await s.call('POST', '/v1/backup', { token: tenantToken })).status).toBe(403);
    expect((await s.call('POST', '/v1/backup')).status).toBe(401);
    if (backend.name === 'pglite') {
      const res = await fetch(`${s.base}/v1/backup`, {
        method: 'POST',
        headers: { authorization: `Bearer ${platform}` },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/gzip');
      const bytes = new Uint8Array(await res.arrayBuffer());
      expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);
    } else {
      const r = await s.call('POST', '/v1/backup', { token: platform });
      expect(r.status).toBe(409);
      expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(r.body).toMatchObject({
        code: 'CONFLICT',
        detail: expect.stringMatching(/pg_dump.*root key/),
      });
    }
  }, 240_000);
});
