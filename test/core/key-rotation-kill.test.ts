/**
 * A re-wrap process killed (SIGKILL) in the middle loses nothing: the next re-wrap resumes and every
 * value still reveals. PostgreSQL only: killing PGlite, which does not fsync, risks its files.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TenantRegistry } from '../../src/core/registry.js';
import { describeEachBackend, openTestRegistry, type TestRegistry } from '../helpers/backends.js';

const ops = { actor: 'ops' };

describeEachBackend('re-wrap killed midway', (backend) => {
  if (backend.name !== 'postgres') {
    it.skip('needs PostgreSQL (a killed PGlite process may corrupt its files)', () => {});
    return;
  }
  let t: TestRegistry;
  let acme: TenantRegistry;
  let vaultId: string;
  const ids: string[] = [];

  beforeAll(async () => {
    t = await openTestRegistry(backend);
    acme = t.registry.forTenant((await t.registry.tenants.create({ name: 'acme' })).id);
    vaultId = (await acme.vaults.create({ name: 'v' }, ops)).id;
    for (let i = 0; i < 300; i++) {
      ids.push(
        (await acme.credentials.store({ vaultId, name: `k${i}`, type: 'api_key', value: `v${i}` }, ops)).id,
      );
    }
    await acme.vaults.rotateKey(vaultId, ops);
  }, 120_000);
  afterAll(() => t.close());

  it('SIGKILL during a re-wrap, then resume: nothing lost, every value reveals', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'test/helpers/rewrap-child.ts',
        t.url!,
        t.prefix,
        t.rootKey,
        acme.tenantId,
        vaultId,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_code, signal) => resolve(signal)),
    );
    while ((out.match(/^batch /gm) ?? []).length < 10) {
      if (child.exitCode !== null) throw new Error(`the child ended early: ${out}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const midway = await acme.vaults.keyStatus(vaultId);
    const left = midway.versions.find((v) => v.version === 1)!.dataKeys;
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(300);
    expect(await acme.vaults.rewrap(vaultId, {}, ops)).toEqual({ rewrapped: left, remaining: 0 });
    for (let i = 0; i < ids.length; i++) {
      expect((await acme.credentials.reveal(ids[i]!, { ...ops, reason: 'after kill' })).value).toBe(`v${i}`);
    }
  });
});
