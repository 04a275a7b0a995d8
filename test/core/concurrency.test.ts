import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TenantRegistry } from '../../src/core/registry.js';
import { describeEachBackend, openTestRegistry, type TestRegistry } from '../helpers/backends.js';

const alice = { actor: 'alice' };

describeEachBackend('concurrent rotation', (backend) => {
  let t: TestRegistry;
  let acme: TenantRegistry;

  beforeAll(async () => {
    t = await openTestRegistry(backend);
    acme = t.registry.forTenant((await t.registry.tenants.create({ name: 'acme' })).id);
  });
  afterAll(() => t.close());

  it('50 concurrent rotations of one credential give 50 new consecutive versions, none lost', async () => {
    const vault = await acme.vaults.create({ name: 'v', maxVersions: 100 }, alice);
    const c = await acme.credentials.store(
      { vaultId: vault.id, name: 'hot', type: 'api_key', value: 'v0' },
      alice,
    );
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => acme.credentials.rotate(c.id, `value-${i}`, alice)),
    );
    expect(results.map((r) => r.version).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 50 }, (_, i) => i + 2),
    );
    expect((await acme.credentials.get(c.id)).currentVersion).toBe(51);
    const versions = await acme.credentials.listVersions(c.id);
    expect(versions.map((v) => v.version)).toEqual(Array.from({ length: 51 }, (_, i) => 51 - i));
    // Each version holds the value of the rotation that was given its number.
    for (const r of results.filter((_, i) => i % 10 === 0)) {
      const i = results.indexOf(r);
      expect(
        (await acme.credentials.reveal(c.id, { ...alice, reason: 'check', version: r.version })).value,
      ).toBe(`value-${i}`);
    }
    const rotations = await acme.audit.query({ credentialId: c.id, action: 'rotate', limit: 1000 });
    expect(rotations.items.filter((e) => e.outcome === 'granted')).toHaveLength(50);
  });

  it('with check-and-set, exactly one of many racing rotations wins; the rest get VERSION_MISMATCH', async () => {
    const vault = await acme.vaults.create({ name: 'cas' }, alice);
    const c = await acme.credentials.store(
      { vaultId: vault.id, name: 'raced', type: 'api_key', value: 'v0' },
      alice,
    );
    const settled = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        acme.credentials.rotate(c.id, `v${i}`, { ...alice, expectedVersion: 1 }),
      ),
    );
    const won = settled.filter((s) => s.status === 'fulfilled');
    const lost = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost.every((s) => s.reason.code === 'VERSION_MISMATCH')).toBe(true);
    expect((await acme.credentials.get(c.id)).currentVersion).toBe(2);
  });

  it('concurrent stores of one name: one wins, the others get CONFLICT', async () => {
    const vault = await acme.vaults.create({ name: 'names' }, alice);
    const settled = await Promise.allSettled(
      Array.from({ length: 10 }, () =>
        acme.credentials.store({ vaultId: vault.id, name: 'same', type: 'api_key', value: 'x' }, alice),
      ),
    );
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(1);
    expect(
      settled
        .filter((s): s is PromiseRejectedResult => s.status === 'rejected')
        .every((s) => s.reason.code === 'CONFLICT'),
    ).toBe(true);
    expect((await acme.credentials.list(vault.id)).items).toHaveLength(1);
  });
});
