/**
 * A supervisor restarting `credreg serve` on the embedded store right after it was killed: the
 * restart must succeed at once (the dead owner's lock is the kernel's, gone with it), and nothing
 * acknowledged before the kill may be missing.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collect, credreg, exited, LISTENING } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

describe('credreg serve restarted right after SIGKILL (embedded store)', () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'credreg-restart-')), 'data');
  const env = {
    CREDREG_DATA_DIR: dataDir,
    CREDREG_LISTEN: '127.0.0.1:0',
    CREDREG_MAINTENANCE_INTERVAL_MS: '0',
    CREDREG_AUDIT_SEAL_INTERVAL_MS: '0',
    CREDREG_AUDIT_SINK_INTERVAL_MS: '0',
  };
  const started: ChildProcess[] = [];
  afterAll(() => {
    for (const c of started) if (c.exitCode === null) c.kill('SIGKILL');
  });

  async function start(args: string[]) {
    const child = credreg(['serve', ...args], env);
    started.push(child);
    const log = collect(child);
    const gone = exited(child).then((code) => {
      throw new Error(`serve exited with ${code}: ${log.out()}`);
    });
    const m = await Promise.race([waitFor(() => log.out().match(LISTENING), 'the listening line'), gone]);
    gone.catch(() => {});
    return { child, log, base: m[1]! };
  }

  it('starts again at once, three times in a row, and keeps every acknowledged write', async () => {
    const first = await start(['--migrate']);
    const platform = first.log.out().match(/platform admin token[^\n]*?(crp\.[A-Za-z0-9._-]+)/)![1]!;
    const call = async (base: string, token: string, method: string, path: string, body?: unknown) => {
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
    const tenant = await call(first.base, platform, 'POST', '/v1/tenants', { name: 'acme' });
    const admin = await call(first.base, platform, 'POST', `/v1/tenants/${tenant.body.id}/tokens`, {
      name: 'alice',
      role: 'admin',
    });
    const token = admin.body.token as string;
    const vault = await call(first.base, token, 'POST', '/v1/vaults', { name: 'payments' });
    expect(vault.status).toBe(201);

    let current = first;
    const acknowledged: { id: string; value: string }[] = [];
    for (let round = 0; round < 3; round++) {
      const value = `sk_live_round_${round}`;
      const stored = await call(current.base, token, 'POST', `/v1/vaults/${vault.body.id}/credentials`, {
        name: `stripe-${round}`,
        type: 'api_key',
        value,
      });
      expect(stored.status).toBe(201);
      acknowledged.push({ id: stored.body.id as string, value });
      current.child.kill('SIGKILL');
      await exited(current.child);
      current = await start([]); // at once: no back-off, no retry
    }
    for (const { id, value } of acknowledged) {
      const r = await call(current.base, token, 'POST', `/v1/credentials/${id}/reveal`, { reason: 'check' });
      expect(r.status).toBe(200);
      expect(r.body.value).toBe(value);
    }
    // Four cold starts of the embedded store: about a minute on a busy 2-core machine.
  }, 300_000);
});
