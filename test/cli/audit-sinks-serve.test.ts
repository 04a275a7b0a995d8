/**
 * Audit sinks in `credreg serve`, as an operator runs them: configured by CREDREG_AUDIT_SINKS,
 * fed by the serve loops (sealer, then sinks) with no one calling them by hand.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, cleanEnv, runCli, type ServeHandle, startServe } from '../helpers/cli-server.js';
import { waitUntil } from '../helpers/wait.js';

describe('credreg serve with an audit sink', () => {
  let server: ServeHandle;
  let token: string;
  const path = join(mkdtempSync(join(tmpdir(), 'credreg-sink-serve-')), 'audit.jsonl');
  const ok = async (args: string[], stdin = '') => {
    const r: CliResult = await runCli(
      args,
      { ...cleanEnv(), CREDREG_ADDR: server.addr, CREDREG_TOKEN: token },
      stdin,
    );
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    server = await startServe({
      CREDREG_AUDIT_SEAL_INTERVAL_MS: '100',
      CREDREG_AUDIT_SINK_INTERVAL_MS: '100',
      CREDREG_AUDIT_SINKS: JSON.stringify([{ name: 'local', kind: 'file', path }]),
    });
    token = server.platformToken;
  });
  afterAll(() => server?.stop());

  it('streams each reveal to the file sink without anyone asking, and never the value', async () => {
    const tenant = JSON.parse(await ok(['tenant', 'create', 'acme', '--json'])) as { id: string };
    token = (await ok(['token', 'create-admin', '--tenant', tenant.id, '--name', 'alice'])).trim();
    await ok(['vault', 'create', 'payments']);
    await ok(['cred', 'put', 'payments', 'stripe', '--type', 'api_key'], 'sk_live_canary_1\n');
    await ok(['cred', 'get', 'payments/stripe', '--reason', 'streamed']);
    await waitUntil(
      async () => existsSync(path) && readFileSync(path, 'utf8').includes('"reason":"streamed"'),
      'the reveal in the sink file',
      120_000,
    );
    const lines = readFileSync(path, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.every((l) => l.tenantId === tenant.id)).toBe(true);
    // The rows in leaf order; a checkpoint may come between them, after the rows it covers.
    const access = lines.filter((l) => l.type === 'access');
    expect(access.map((l) => l.leafIndex)).toEqual(access.map((_, i) => i));
    for (const cp of lines.filter((l) => l.type === 'checkpoint')) {
      expect(lines.slice(0, lines.indexOf(cp)).filter((l) => l.type === 'access')).toHaveLength(cp.treeSize);
    }
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain('sk_live_canary_1');
    expect(text).not.toContain(token);
  });
});
