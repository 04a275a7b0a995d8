/**
 * Found in review of the use-case runner: a refusal's row names only what the use-case takes (never
 * a field smuggled into a body or query), rewrap checks its input however few batches it is asked
 * for, and a vault-key rotation that lost a race leaves no key in the cache that was never stored.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyContext, RootKeyProvider } from '../../src/core/ports.js';
import { createRegistry } from '../../src/core/registry.js';
import { auditLogCrypto } from '../../src/crypto/audit-log-crypto.js';
import { aesGcmEnvelope } from '../../src/crypto/envelope.js';
import { CachingKeyRing } from '../../src/crypto/key-ring.js';
import { SqlRegistryStore } from '../../src/db/tenant-store.js';
import { LocalKeyProvider } from '../../src/keys/local-key-provider.js';
import { BACKENDS, expectCode, openTestRegistry, silentLogger, TestClock } from '../helpers/backends.js';
import { seedTenant, startServer, type TestServer } from './helpers.js';

const backend = BACKENDS[0]!;
const alice = { actor: 'alice' };

describe('refusal rows name only what the path names (rawInput)', () => {
  let s: TestServer;
  let seed: Awaited<ReturnType<typeof seedTenant>>;
  let vaultA: string;
  let vaultB: string;
  let credInB: string;
  let credInA: string;

  beforeAll(async () => {
    s = await startServer(backend);
    seed = await seedTenant(s, 'review');
    vaultA = (await seed.t.vaults.create({ name: 'a' }, seed.ctx)).id;
    vaultB = (await seed.t.vaults.create({ name: 'b' }, seed.ctx)).id;
    credInA = (
      await seed.t.credentials.store({ vaultId: vaultA, name: 'ca', type: 'api_key', value: 'x' }, seed.ctx)
    ).id;
    credInB = (
      await seed.t.credentials.store({ vaultId: vaultB, name: 'cb', type: 'api_key', value: 'y' }, seed.ctx)
    ).id;
  });
  afterAll(() => s.stop());

  const newest = async () => (await seed.t.audit.query({ limit: 1 })).items[0]!;

  it('a body `id` on POST /v1/vaults/:vaultId/credentials does not name a credential in the row', async () => {
    const r = await s.call('POST', `/v1/vaults/${vaultA}/credentials`, {
      token: seed.tokens.writer,
      body: { id: credInB, name: 'n', type: 'api_key', value: 'v' },
    });
    expect(r.status).toBe(400);
    const row = await newest();
    expect(row).toMatchObject({ action: 'store', outcome: 'invalid', vaultId: vaultA });
    // c11e992 recorded credentialId null here (path params only).
    expect(row.credentialId).toBeNull();
  });

  it('a body `vaultId` on PATCH /v1/credentials/:id does not name another vault in the row', async () => {
    const r = await s.call('PATCH', `/v1/credentials/${credInA}`, {
      token: seed.tokens.writer,
      body: { vaultId: vaultB, active: true },
    });
    expect(r.status).toBe(400);
    const row = await newest();
    expect(row).toMatchObject({ action: 'update', outcome: 'invalid', credentialId: credInA });
    expect(row.vaultId).not.toBe(vaultB);
  });

  it('a query `vaultId` on a route without a query schema does not name a vault in the row', async () => {
    const r = await s.call('POST', `/v1/credentials/${credInA}/restore?vaultId=${vaultB}`, {
      token: seed.tokens.writer,
      body: 'not json',
      headers: { 'content-type': 'application/xml' },
    });
    expect(r.status).toBe(415);
    const row = await newest();
    expect(row).toMatchObject({ action: 'restore', credentialId: credInA });
    expect(row.vaultId).not.toBe(vaultB);
  });

  it('a body `reason` on rotate (not a rotate field) is not written into the row as its reason', async () => {
    const r = await s.call('POST', `/v1/credentials/${credInA}/rotate`, {
      token: seed.tokens.writer,
      body: { value: 'z', reason: 'approved by the CISO' },
    });
    expect(r.status).toBe(400);
    const row = await newest();
    expect(row).toMatchObject({ action: 'rotate', outcome: 'invalid' });
    expect(row.reason).toBeNull();
  });
});

describe('rewrap validates its input whatever maxBatches is', () => {
  it('maxBatches: 0 is refused (VALIDATION) with one key_rewrap row, as in c11e992', async () => {
    const t = await openTestRegistry(backend);
    try {
      const acme = t.registry.forTenant((await t.registry.tenants.create({ name: 'acme' })).id);
      const vaultId = (await acme.vaults.create({ name: 'v' }, alice)).id;
      const before = (await acme.audit.query({ limit: 1 })).items[0]!.id;
      await expectCode(acme.vaults.rewrap(vaultId, { maxBatches: 0, batchSize: -5 }, alice), 'VALIDATION');
      const rows = (await acme.audit.query({ limit: 5 })).items.filter((r) => r.id > before);
      expect(rows.map((r) => `${r.action}:${r.outcome}`)).toEqual(['key_rewrap:invalid']);
    } finally {
      await t.close();
    }
  });
});

describe('a vault-key rotation that lost a race leaves no wrong key in the cache', () => {
  it('values stored after a CONFLICTed concurrent rotation stay readable after the cache is gone', async () => {
    const t = await openTestRegistry(backend);
    try {
      const rootKey = randomBytes(32);
      const local = new LocalKeyProvider(rootKey);
      // Two rotations race: both read version 1, the first wraps and commits version 2, the
      // second's wrap (a different key for the same version 2) finishes only after that.
      let arrived = 0;
      let bothArrived!: () => void;
      const both = new Promise<void>((r) => {
        bothArrived = r;
      });
      let firstDone: Promise<unknown> = Promise.resolve();
      let racing = false;
      const provider: RootKeyProvider = {
        name: local.name,
        keyId: local.keyId,
        canUnwrap: (w) => local.canUnwrap(w),
        currentKeyTest: () => local.currentKeyTest(),
        unwrapKey: (w, c) => local.unwrapKey(w, c),
        close: async () => {},
        async wrapKey(k: Uint8Array, c: KeyContext) {
          if (racing && c.vaultKeyVersion === 2) {
            const me = ++arrived;
            if (me === 2) bothArrived();
            await both;
            if (me === 2) await firstDone.catch(() => undefined);
          }
          return local.wrapKey(k, c);
        },
      } as RootKeyProvider;
      const deps = {
        store: new SqlRegistryStore(t.db, t.roles),
        keyRing: new CachingKeyRing({ provider }),
        envelope: aesGcmEnvelope,
        auditLog: auditLogCrypto,
        clock: new TestClock(),
        logger: silentLogger,
      };
      const registry = createRegistry(deps);
      const acme = registry.forTenant((await registry.tenants.create({ name: 'acme' })).id);
      const vaultId = (await acme.vaults.create({ name: 'v' }, alice)).id;
      racing = true;
      const first = acme.vaults.rotateKey(vaultId, alice);
      firstDone = first;
      const second = acme.vaults.rotateKey(vaultId, alice);
      const [a, b] = await Promise.allSettled([first, second]);
      expect(a.status).toBe('fulfilled');
      expect(b.status === 'rejected' && (b.reason as { code: string }).code).toBe('CONFLICT');
      racing = false;

      const stored = await acme.credentials.store(
        { vaultId, name: 'c', type: 'api_key', value: 'after-rotation' },
        alice,
      );
      // A fresh key ring (a restart, another instance, or the TTL): only the database's key is left.
      const fresh = createRegistry({ ...deps, keyRing: new CachingKeyRing({ provider: local }) });
      const revealed = await fresh.forTenant(acme.tenantId).credentials.reveal(stored.id, {
        ...alice,
        reason: 'r',
      });
      expect(revealed.value).toBe('after-rotation');
    } finally {
      await t.close();
    }
  });
});
