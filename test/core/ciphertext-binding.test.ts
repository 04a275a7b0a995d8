/**
 * A ciphertext is bound to its tenant, vault, credential and version: copied anywhere else by
 * someone with write access to the database, it must fail to decrypt, and the failure is logged.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TenantRegistry } from '../../src/core/registry.js';
import { aesGcmEnvelope } from '../../src/crypto/envelope.js';
import { bytes } from '../../src/db/rows.js';
import { decodeRootKey, LocalKeyProvider } from '../../src/keys/local-key-provider.js';
import { describeEachBackend, expectCode, openTestRegistry, type TestRegistry } from '../helpers/backends.js';

const alice = { actor: 'alice' };
const why = { ...alice, reason: 'test' };
const apiKey = (t: TenantRegistry, vaultId: string, name: string, value: string) =>
  t.credentials.store({ vaultId, name, type: 'api_key', value }, alice);

describeEachBackend('ciphertext binding', (backend) => {
  let t: TestRegistry;
  let a: TenantRegistry;
  let b: TenantRegistry;
  let aVault: string;

  /** Owner-level SQL: plays the attacker with write access to the database. */
  const sql = <R = Record<string, unknown>>(text: string, params: unknown[] = []) =>
    t.db.transaction((c) => c.query<R>(text, params));
  const blobOf = async (credentialId: string, version: number) =>
    bytes(
      (
        await sql<{ ciphertext: unknown }>(
          'SELECT ciphertext FROM credential_versions WHERE credential_id = $1 AND version = $2',
          [credentialId, version],
        )
      )[0]!.ciphertext,
    )!;
  const plant = (credentialId: string, version: number, blob: Buffer) =>
    sql('UPDATE credential_versions SET ciphertext = $3 WHERE credential_id = $1 AND version = $2', [
      credentialId,
      version,
      blob,
    ]);

  beforeAll(async () => {
    t = await openTestRegistry(backend);
    a = t.registry.forTenant((await t.registry.tenants.create({ name: 'a' })).id);
    b = t.registry.forTenant((await t.registry.tenants.create({ name: 'b' })).id);
    aVault = (await a.vaults.create({ name: 'v' }, alice)).id;
  });
  afterAll(() => t.close());

  it('a ciphertext copied to another credential of the same vault fails with CRYPTO, logged as an error', async () => {
    const source = await apiKey(a, aVault, 'source', 'src');
    const target = await apiKey(a, aVault, 'target', 'tgt');
    await plant(target.id, 1, await blobOf(source.id, 1));
    await expectCode(a.credentials.reveal(target.id, why), 'CRYPTO');
    const [row] = (await a.audit.query({ credentialId: target.id, limit: 1 })).items;
    expect(row).toMatchObject({ action: 'reveal', outcome: 'error', errorCode: 'CRYPTO' });
    expect((await a.credentials.reveal(source.id, why)).value).toBe('src');
  });

  it('an older version copied over the current one fails (the version is bound)', async () => {
    const c = await a.credentials.store(
      { vaultId: aVault, name: 'versioned', type: 'api_key', value: 'old' },
      alice,
    );
    await a.credentials.rotate(c.id, 'new', alice);
    await plant(c.id, 2, await blobOf(c.id, 1));
    await expectCode(a.credentials.reveal(c.id, why), 'CRYPTO');
    expect((await a.credentials.reveal(c.id, { ...why, version: 1 })).value).toBe('old');
  });

  it("a ciphertext copied into another tenant's credential fails", async () => {
    const bVault = (await b.vaults.create({ name: 'v' }, alice)).id;
    const victim = await apiKey(a, aVault, 'victim', 'a-only');
    const thief = await apiKey(b, bVault, 'thief', 'b');
    await plant(thief.id, 1, await blobOf(victim.id, 1));
    await expectCode(b.credentials.reveal(thief.id, why), 'CRYPTO');
  });

  it('a flipped byte anywhere in the blob fails', async () => {
    const c = await a.credentials.store(
      { vaultId: aVault, name: 'flipped', type: 'api_key', value: 'v' },
      alice,
    );
    const blob = await blobOf(c.id, 1);
    for (const at of [0, 1, 5, 20, 70, blob.length - 1]) {
      const bad = Buffer.from(blob);
      bad[at] = bad[at]! ^ 0x01;
      await plant(c.id, 1, bad);
      await expectCode(a.credentials.reveal(c.id, why), 'CRYPTO');
    }
    await plant(c.id, 1, blob);
    expect((await a.credentials.reveal(c.id, why)).value).toBe('v');
  });

  it('deleting a vault destroys its keys: its ciphertexts cannot be opened even with the database and the root key', async () => {
    const v = await a.vaults.create({ name: 'shredded' }, alice);
    const c = await a.credentials.store(
      { vaultId: v.id, name: 'gone', type: 'api_key', value: 'shred-me' },
      alice,
    );
    const blob = await blobOf(c.id, 1);
    await a.vaults.delete(v.id, { force: true }, alice);
    const left = await sql<{ n: number }>(
      `SELECT (SELECT count(*) FROM vault_keys WHERE vault_id = $1)::int
            + (SELECT count(*) FROM credential_versions WHERE vault_id = $1)::int AS n`,
      [v.id],
    );
    expect(left[0]!.n).toBe(0);
    // Every vault key still in the database, unwrapped with the real root key, fails to open it.
    const root = new LocalKeyProvider(decodeRootKey(t.rootKey));
    const keys = await sql<{
      tenant_id: string;
      vault_id: string;
      version: number;
      wrapped_key: unknown;
      provider: string;
      provider_key_id: string;
    }>('SELECT * FROM vault_keys');
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) {
      const ctx = { tenantId: k.tenant_id, vaultId: k.vault_id, vaultKeyVersion: k.version };
      const material = await root.unwrapKey(
        { provider: k.provider, providerKeyId: k.provider_key_id, ciphertext: bytes(k.wrapped_key)! },
        ctx,
      );
      const binding = { tenantId: a.tenantId, vaultId: v.id, credentialId: c.id, version: 1 };
      expect(() => aesGcmEnvelope.open(blob, { ...ctx, material, vaultId: v.id }, binding)).toThrow(
        /failed authentication/,
      );
    }
  });
});
