/**
 * Root-key rotation: with the old root key retired (still accepted for unwrapping) and a new one
 * current, every vault key in every tenant is re-wrapped under the new one; afterwards the old key
 * opens nothing and the new one everything. No data key or value is touched.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { decodeRootKey, LocalKeyProvider } from '../../src/keys/local-key-provider.js';
import { assemble } from '../../src/main.js';
import {
  describeEachBackend,
  expectCode,
  openTestRegistry,
  silentLogger,
  type TestRegistry,
  testConfig,
} from '../helpers/backends.js';
import { transitStandIn } from '../helpers/transit-stand-in.js';

const ops = { actor: 'ops' };

describeEachBackend('root key rotation', (backend) => {
  let t: TestRegistry;
  const newRoot = randomBytes(32).toString('base64');
  const credentials: Array<{ tenantId: string; id: string; value: string }> = [];
  const open = (rootKey: string, previous: string[] = []) =>
    assemble(t.db, {
      config: { ...testConfig(t.prefix, rootKey), previousRootKeys: previous },
      logger: silentLogger,
    });
  const wrappingKeyIds = async () =>
    (
      await t.db.transaction((c) =>
        c.query<{ id: string }>('SELECT DISTINCT provider_key_id AS id FROM vault_keys'),
      )
    ).map((r) => r.id);

  beforeAll(async () => {
    t = await openTestRegistry(backend);
    for (const name of ['north', 'south']) {
      const tenant = t.registry.forTenant((await t.registry.tenants.create({ name })).id);
      for (const v of ['a', 'b']) {
        const vault = await tenant.vaults.create({ name: v }, ops);
        const value = `${name}-${v}`;
        const c = await tenant.credentials.store(
          { vaultId: vault.id, name: 'c', type: 'api_key', value },
          ops,
        );
        credentials.push({ tenantId: tenant.tenantId, id: c.id, value });
      }
      // One vault with two key versions, both in use.
      const vaultA = (await tenant.vaults.list()).items[0]!;
      await tenant.vaults.rotateKey(vaultA.id, ops);
      const c2 = await tenant.credentials.store(
        { vaultId: vaultA.id, name: 'after', type: 'api_key', value: `${name}-v2` },
        ops,
      );
      credentials.push({ tenantId: tenant.tenantId, id: c2.id, value: `${name}-v2` });
    }
  });
  afterAll(() => t.close());

  const revealAll = async (registry: Awaited<ReturnType<typeof open>>) => {
    for (const c of credentials) {
      expect(
        (await registry.forTenant(c.tenantId).credentials.reveal(c.id, { ...ops, reason: 'check' })).value,
      ).toBe(c.value);
    }
  };

  it('re-wraps every vault key of every tenant under the new root key, then the old one opens nothing', async () => {
    const oldId = new LocalKeyProvider(decodeRootKey(t.rootKey)).keyId;
    const newId = new LocalKeyProvider(decodeRootKey(newRoot)).keyId;
    expect(await wrappingKeyIds()).toEqual([oldId]);

    const moving = await open(newRoot, [t.rootKey]);
    await revealAll(moving); // the retired key still unwraps, meanwhile
    expect(await moving.rotateRoot({ actor: 'platform:ops' })).toEqual({ rewrapped: 6 });
    expect(await wrappingKeyIds()).toEqual([newId]);
    expect(await moving.rotateRoot({ actor: 'platform:ops' })).toEqual({ rewrapped: 0 });

    await revealAll(await open(newRoot)); // a cold cache, the new key alone
    const stale = await open(t.rootKey);
    await expectCode(
      stale
        .forTenant(credentials[0]!.tenantId)
        .credentials.reveal(credentials[0]!.id, { ...ops, reason: 'x' }),
      'CRYPTO',
    );
  });

  it('is in each tenant access log, naming both root keys (ids, never key material)', async () => {
    for (const tenantId of new Set(credentials.map((c) => c.tenantId))) {
      const rows = (
        await t.registry.forTenant(tenantId).audit.query({ action: 'key_rotate', actor: 'platform:ops' })
      ).items;
      expect(rows).toHaveLength(3);
      expect(rows[0]!.reason).toMatch(/^root key rotation: local:[0-9a-f]{16} -> local:[0-9a-f]{16}$/);
    }
  });

  it('switching provider is a root rotation too: from the local key to Vault Transit', async () => {
    const transit = await transitStandIn();
    try {
      const toTransit = (previous: string[]) =>
        assemble(t.db, {
          config: {
            ...testConfig(t.prefix),
            keyProvider: {
              kind: 'vault-transit',
              addr: transit.addr,
              token: 'test-token',
              key: 'credreg',
              mount: 'transit',
            },
            previousRootKeys: previous,
          },
          logger: silentLogger,
        });
      const moving = await toTransit([newRoot]);
      expect(await moving.rotateRoot({ actor: 'platform:ops' })).toEqual({ rewrapped: 6 });
      const providers = await t.db.transaction((c) =>
        c.query<{ p: string }>('SELECT DISTINCT provider AS p FROM vault_keys'),
      );
      expect(providers.map((r) => r.p)).toEqual(['vault-transit']);
      await revealAll(await toTransit([])); // Transit alone now opens everything
    } finally {
      transit.server.close();
    }
  });
});
