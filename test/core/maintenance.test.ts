/**
 * Background upkeep: a vault key past its rotation period is rotated and the vault re-wrapped,
 * on schedule, with no operator; a second pass finds nothing to do.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TenantRegistry } from '../../src/core/registry.js';
import { describeEachBackend, openTestRegistry, type TestRegistry } from '../helpers/backends.js';

const ops = { actor: 'ops' };

describeEachBackend('scheduled maintenance', (backend) => {
  let t: TestRegistry;
  let acme: TenantRegistry;
  let oldVault: string;
  let freshVault: string;
  const ids: string[] = [];

  beforeAll(async () => {
    t = await openTestRegistry(backend);
    acme = t.registry.forTenant((await t.registry.tenants.create({ name: 'acme' })).id);
    oldVault = (await acme.vaults.create({ name: 'old' }, ops)).id;
    freshVault = (await acme.vaults.create({ name: 'fresh' }, ops)).id;
    for (let i = 0; i < 30; i++) {
      ids.push(
        (
          await acme.credentials.store(
            { vaultId: oldVault, name: `k${i}`, type: 'api_key', value: `v${i}` },
            ops,
          )
        ).id,
      );
    }
    // The old vault's key was made 100 days ago.
    await t.db.session((s) =>
      s.exec(`UPDATE vault_keys SET created_at = now() - interval '100 days' WHERE vault_id = '${oldVault}'`),
    );
  });
  afterAll(() => t.close());

  it('rotates keys past their period and re-wraps them; leaves young keys alone', async () => {
    const report = await t.registry.runMaintenance({ rotateAfterDays: 90, rewrapBatches: 10 });
    expect(report).toMatchObject({ rotated: 1, rewrapped: 30 });
    const status = await acme.vaults.keyStatus(oldVault);
    expect(status.currentVersion).toBe(2);
    expect(status.versions.map((v) => [v.version, v.dataKeys])).toEqual([
      [1, 0],
      [2, 30],
    ]);
    expect((await acme.vaults.keyStatus(freshVault)).currentVersion).toBe(1);
    expect((await acme.credentials.reveal(ids[17]!, { ...ops, reason: 'after upkeep' })).value).toBe('v17');
    const [row] = (await acme.audit.query({ vaultId: oldVault, action: 'key_rotate', limit: 1 })).items;
    expect(row).toMatchObject({ actor: 'system:maintenance', outcome: 'granted', version: 2 });
  });

  it('a second pass finds nothing to do; a period of 0 never rotates', async () => {
    expect(await t.registry.runMaintenance({ rotateAfterDays: 90 })).toEqual({
      rotated: 0,
      rewrapped: 0,
      purged: 0,
    });
    await t.db.session((s) => s.exec(`UPDATE vault_keys SET created_at = now() - interval '1000 days'`));
    expect(await t.registry.runMaintenance({ rotateAfterDays: 0 })).toMatchObject({ rotated: 0 });
  });
});
