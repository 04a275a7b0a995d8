/**
 * What happens when a vault key is not in this process's cache: after a restart, on a second
 * instance, after the TTL. The root key provider is called once, outside any transaction.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { audited } from '../../src/core/audited-operation.js';
import { RegistryError } from '../../src/core/errors.js';
import type { RootKeyProvider } from '../../src/core/ports.js';
import { createRegistry } from '../../src/core/registry.js';
import { auditLogCrypto } from '../../src/crypto/audit-log-crypto.js';
import { aesGcmEnvelope } from '../../src/crypto/envelope.js';
import { CachingKeyRing } from '../../src/crypto/key-ring.js';
import { SqlRegistryStore } from '../../src/db/tenant-store.js';
import { GuardedProvider } from '../../src/keys/guarded-provider.js';
import { decodeRootKey, LocalKeyProvider } from '../../src/keys/local-key-provider.js';
import { assemble, type RegistryHandle } from '../../src/main.js';
import {
  describeEachBackend,
  expectCode,
  openTestRegistry,
  silentLogger,
  TestClock,
  type TestRegistry,
  testConfig,
} from '../helpers/backends.js';
import { waitFor } from '../helpers/wait.js';

const alice = { actor: 'alice' };
const why = { ...alice, reason: 'r' };

describeEachBackend('vault keys not in the cache', (backend) => {
  let t: TestRegistry;
  let tenantId: string;
  let credentialId: string;
  let second: RegistryHandle;

  beforeAll(async () => {
    t = await openTestRegistry(backend);
    tenantId = (await t.registry.tenants.create({ name: 'acme' })).id;
    const acme = t.registry.forTenant(tenantId);
    const vault = await acme.vaults.create({ name: 'v' }, alice);
    credentialId = (
      await acme.credentials.store({ vaultId: vault.id, name: 'c', type: 'api_key', value: 'cold' }, alice)
    ).id;
    // A second instance on the same database, with the same root key and an empty cache.
    second = await assemble(t.db, {
      config: testConfig(t.prefix, t.rootKey),
      logger: silentLogger,
      clock: new TestClock(),
    });
  });
  afterAll(() => t.close());

  it('a cold reveal unwraps the vault key once, then reveals warm with no provider call', async () => {
    const other = second.forTenant(tenantId);
    expect((await other.credentials.reveal(credentialId, why)).value).toBe('cold');
    expect(second.keyRingStats().providerCalls).toBe(1);
    for (let i = 0; i < 20; i++) await other.credentials.reveal(credentialId, why);
    await other.credentials.rotate(credentialId, 'warm', alice);
    expect(second.keyRingStats().providerCalls).toBe(1);
    const log = (await other.audit.query({ credentialId, action: 'reveal' })).items;
    expect(log.filter((e) => e.outcome !== 'granted')).toEqual([]);
  });

  it('an instance with another root key gets CRYPTO naming the key that wrapped it, and the failure is logged', async () => {
    const wrongKey = await assemble(t.db, {
      config: testConfig(t.prefix, randomBytes(32).toString('base64')),
      logger: silentLogger,
    });
    const err = await expectCode(
      wrongKey.forTenant(tenantId).credentials.reveal(credentialId, why),
      'CRYPTO',
    );
    expect(err.message).toMatch(
      /wrapped by local key local:[0-9a-f]{16}, which no configured root key can unwrap/,
    );
    const [row] = (await wrongKey.forTenant(tenantId).audit.query({ credentialId, limit: 1 })).items;
    expect(row).toMatchObject({ action: 'reveal', outcome: 'error', errorCode: 'CRYPTO' });
  });

  it('a root key provider that is down: vault creation fails with UNAVAILABLE and is logged', async () => {
    // The configured (local) provider, down: its name matches the wrapped keys, its calls fail.
    const down: RootKeyProvider = {
      name: 'local',
      canUnwrap: () => true,
      currentKeyTest: async () => () => true,
      wrapKey: async () => {
        throw new RegistryError('UNAVAILABLE', 'the key service did not answer');
      },
      unwrapKey: async () => {
        throw new RegistryError('UNAVAILABLE', 'the key service did not answer');
      },
    };
    const registry = createRegistry({
      store: new SqlRegistryStore(t.db, t.roles),
      keyRing: new CachingKeyRing({ provider: down }),
      envelope: aesGcmEnvelope,
      auditLog: auditLogCrypto,
      clock: new TestClock(),
      logger: silentLogger,
    });
    const acme = registry.forTenant(tenantId);
    await expectCode(acme.vaults.create({ name: 'never' }, alice), 'UNAVAILABLE');
    await expectCode(acme.credentials.reveal(credentialId, why), 'UNAVAILABLE');
    const rows = (await acme.audit.query({ outcome: 'error', limit: 2 })).items;
    expect(rows.map((r) => `${r.action}:${r.errorCode}`)).toEqual([
      'reveal:UNAVAILABLE',
      'vault_create:UNAVAILABLE',
    ]);
    expect((await acme.vaults.list()).items.map((v) => v.name)).not.toContain('never');
  });

  it('a key in use survives the cache letting go of it mid-operation (eviction, a root rotation)', async () => {
    const keyRing = new CachingKeyRing({ provider: new LocalKeyProvider(decodeRootKey(t.rootKey)) });
    const deps = {
      store: new SqlRegistryStore(t.db, t.roles),
      keyRing,
      envelope: aesGcmEnvelope,
      auditLog: auditLogCrypto,
      clock: new TestClock(),
      logger: silentLogger,
    };
    const acme = createRegistry(deps).forTenant(tenantId);
    await acme.credentials.reveal(credentialId, why); // warm: the vault key is cached
    const vault = (await acme.vaults.list()).items[0]!;
    const context = { tenantId, vaultId: vault.id, vaultKeyVersion: vault.currentKeyVersion };
    const seen = await audited(deps, tenantId, alice, { action: 'read', vaultId: vault.id }, async (op) => {
      const key = op.key(context);
      keyRing.forgetVault(tenantId, vault.id); // zeroes the cache's own copy
      await op.tx.vaults.find(vault.id);
      const material = Buffer.from(key.material);
      await op.granted();
      return material;
    });
    expect(seen.some((b) => b !== 0)).toBe(true);
  });

  it('eight concurrent cold reveals of one vault make one provider call', async () => {
    const local = new LocalKeyProvider(decodeRootKey(t.rootKey));
    let calls = 0;
    // A slow provider: it answers only once all eight reveals are past both of their cache
    // misses (in the transaction, and once more before loading the wrapped key), so they are all
    // asking the key ring for the vault key at the same time.
    const slow: RootKeyProvider = {
      name: local.name,
      canUnwrap: (w) => local.canUnwrap(w),
      currentKeyTest: () => local.currentKeyTest(),
      wrapKey: (k, c) => local.wrapKey(k, c),
      unwrapKey: async (w, c) => {
        calls++;
        await waitFor(
          () => (keyRing.stats().misses >= 16 ? ['all'] : null) as RegExpMatchArray | null,
          'eight misses',
        );
        return local.unwrapKey(w, c);
      },
    };
    const keyRing = new CachingKeyRing({ provider: slow });
    const registry = createRegistry({
      store: new SqlRegistryStore(t.db, t.roles),
      keyRing,
      envelope: aesGcmEnvelope,
      auditLog: auditLogCrypto,
      clock: new TestClock(),
      logger: silentLogger,
    });
    const reveals = await Promise.all(
      Array.from({ length: 8 }, () => registry.forTenant(tenantId).credentials.reveal(credentialId, why)),
    );
    expect(calls).toBe(1);
    expect(keyRing.stats().providerCalls).toBe(1);
    expect(new Set(reveals.map((r) => r.value)).size).toBe(1);
  });

  it('a root key provider that hangs costs a cold reveal one deadline, then the open circuit fails fast', async () => {
    let calls = 0;
    const hangs: RootKeyProvider = {
      name: 'local',
      canUnwrap: () => true,
      currentKeyTest: async () => () => true,
      wrapKey: () => new Promise(() => {}),
      unwrapKey: () => {
        calls++;
        return new Promise(() => {}); // accepts, never answers
      },
    };
    const registry = createRegistry({
      store: new SqlRegistryStore(t.db, t.roles),
      keyRing: new CachingKeyRing({
        provider: new GuardedProvider(hangs, { timeoutMs: 200, breakAfter: 2, openMs: 600_000 }),
      }),
      envelope: aesGcmEnvelope,
      auditLog: auditLogCrypto,
      clock: new TestClock(),
      logger: silentLogger,
    });
    const acme = registry.forTenant(tenantId);
    // Concurrent ones share the one call and its deadline.
    const first = await Promise.allSettled(
      Array.from({ length: 4 }, () => acme.credentials.reveal(credentialId, why)),
    );
    expect(calls).toBe(1);
    for (const r of first) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'UNAVAILABLE' } });
    expect(((first[0] as PromiseRejectedResult).reason as Error).message).toMatch(
      /did not answer within 200 ms/,
    );
    await expectCode(acme.credentials.reveal(credentialId, why), 'UNAVAILABLE');
    expect(calls).toBe(2);
    // Two outages in a row: the circuit is open, and the provider is not called any more.
    const fast = await expectCode(acme.credentials.reveal(credentialId, why), 'UNAVAILABLE');
    expect(fast.message).toMatch(/unreachable/);
    expect(calls).toBe(2);
    const rows = (await acme.audit.query({ credentialId, outcome: 'error', limit: 6 })).items;
    expect(rows.filter((r) => r.errorCode === 'UNAVAILABLE')).toHaveLength(6);
  });
});
