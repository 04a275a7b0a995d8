/**
 * The verify walkthrough of the README, as a user runs it: a real `credreg serve`, its sealer on,
 * `audit keys`, `audit checkpoint` and `audit export --proofs` into files, then `audit verify` on
 * those files alone, with the server gone.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, cleanEnv, runCli, type ServeHandle, startServe } from '../helpers/cli-server.js';
import { freePort } from '../helpers/processes.js';
import { waitUntil } from '../helpers/wait.js';

describe('credreg audit checkpoint, export --proofs and verify', () => {
  let server: ServeHandle;
  let token: string;
  const dir = mkdtempSync(join(tmpdir(), 'credreg-audit-'));
  const file = (name: string) => join(dir, name);
  const credreg = (args: string[], stdin = '', env: NodeJS.ProcessEnv = {}): Promise<CliResult> =>
    runCli(args, { ...cleanEnv(), CREDREG_ADDR: server.addr, CREDREG_TOKEN: token, ...env }, stdin);
  const ok = async (args: string[], stdin = '') => {
    const r = await credreg(args, stdin);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };
  /** `credreg audit verify` with no server address and no token at all. */
  const verify = async (args: string[]) =>
    runCli(['audit', 'verify', ...args], {
      ...cleanEnv(),
      CREDREG_ADDR: `http://127.0.0.1:${await freePort()}`,
    });

  beforeAll(async () => {
    // The sealer on, as in production: the checkpoint must agree with what it sealed meanwhile.
    server = await startServe({ CREDREG_AUDIT_SEAL_INTERVAL_MS: '100' });
    token = server.platformToken;
    const tenant = JSON.parse(await ok(['tenant', 'create', 'acme', '--json'])) as { id: string };
    token = (await ok(['token', 'create-admin', '--tenant', tenant.id, '--name', 'alice'])).trim();
    await ok(['vault', 'create', 'payments']);
    await ok(['cred', 'put', 'payments', 'stripe', '--type', 'api_key'], 'sk_live_1\n');
    for (let i = 0; i < 5; i++) await ok(['cred', 'get', 'payments/stripe', '--reason', `check ${i}`]);
  });
  afterAll(() => server?.stop());

  it('the walkthrough: keys, checkpoint, export, then verify offline', async () => {
    writeFileSync(file('key.pem'), await ok(['audit', 'keys']));
    expect(readFileSync(file('key.pem'), 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    const older = await ok(['audit', 'checkpoint']);
    expect(older).toMatch(/^credreg\/audit\/[0-9a-f-]{36}\n\d+\n\S+\ntime \S+\n\n— credreg\/audit\//);
    writeFileSync(file('older.txt'), older);
    // More rows, a newer checkpoint, and an export of them.
    for (let i = 0; i < 3; i++) await ok(['cred', 'get', 'payments/stripe', '--reason', `later ${i}`]);
    writeFileSync(file('cp.txt'), await ok(['audit', 'checkpoint']));
    const exported = await ok(['audit', 'export', '--format', 'jsonl', '--proofs']);
    writeFileSync(file('log.jsonl'), exported);
    const lines = exported.trimEnd().split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ format: 'credreg-audit-export/1' });
    expect(exported).not.toContain('sk_live_1');

    const good = await verify([
      '--log',
      file('log.jsonl'),
      '--checkpoint',
      file('cp.txt'),
      '--previous',
      file('older.txt'),
      '--public-key',
      file('key.pem'),
    ]);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toMatch(/^verified: \d+ entries/);

    // One reason edited in the file: exit 7, naming the index and the reason.
    const at = lines.findIndex((line) => line.includes('"reason":"check 1"'));
    expect(at).toBeGreaterThan(0);
    const edited = lines.map((line, i) => (i === at ? line.replace('check 1', 'check 9') : line));
    writeFileSync(file('edited.jsonl'), `${edited.join('\n')}\n`);
    const bad = await verify([
      '--log',
      file('edited.jsonl'),
      '--checkpoint',
      file('cp.txt'),
      '--public-key',
      file('key.pem'),
    ]);
    expect(bad.code).toBe(7);
    const index = (JSON.parse(lines[at]!) as { leafIndex: number }).leafIndex;
    expect(bad.stderr).toContain(`at index ${index}: edited`);
  });

  it('the sealer keeps the tree close behind the log by itself, with no checkpoint asked for', async () => {
    await ok(['cred', 'get', 'payments/stripe', '--reason', 'sealed by the loop']);
    const rows = (
      JSON.parse(await ok(['audit', 'list', '--limit', '1000', '--json'])) as { items: unknown[] }
    ).items.length;
    // Proofs are answered up to the sealed size only: the newest row's becomes answerable once sealed.
    await waitUntil(
      async () => {
        const res = await fetch(`${server.addr}/v1/audit/proof?index=${rows - 1}&treeSize=${rows}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        return res.status === 200;
      },
      'the sealer to catch up',
      120_000,
    );
  });

  it('--proofs exports the whole log: CSV and filters are usage errors', async () => {
    const csv = await credreg(['audit', 'export', '--format', 'csv', '--proofs']);
    expect(csv.code).toBe(2);
    expect(csv.stderr).toMatch(/--format jsonl/);
    const filtered = await credreg(['audit', 'export', '--proofs', '--action', 'reveal']);
    expect(filtered.code).toBe(2);
    expect(filtered.stderr).toMatch(/drop --action/);
  });
});
