/**
 * Vault-key rotation with thousands of credentials: new writes use the new key at once, a re-wrap
 * moves every data key without decrypting a value, survives a crash midway, and the old key can
 * then be destroyed. Every value still reveals; versions and the access log are intact.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TenantRegistry } from '../../src/core/registry.js';
import { bytes } from '../../src/db/rows.js';
import { assemble } from '../../src/main.js';
import {
  describeEachBackend,
  expectCode,
  openTestRegistry,
  silentLogger,
  type TestRegistry,
  testConfig,
} from '../helpers/backends.js';

const ops = { actor: 'ops' };
const CREDENTIALS = 1000;
const ROTATED = 100;

describeEachBackend('vault key rotation and re-wrap', (backend) => {
  let t: TestRegistry;
  let acme: TenantRegistry;
  let vaultId: string;
  const ids: string[] = [];
  const owner = (sql: string) => t.db.session((s) => s.exec(sql));
  const blobOf = async (credentialId: string, version: number) =>
    bytes(
      (
        await t.db.transaction((c) =>
          c.query<{ ciphertext: unknown }>(
            'SELECT ciphertext FROM credential_versions WHERE credential_id = $1 AND version = $2',
            [credentialId, version],
          ),
        )
      )[0]!.ciphertext,
    )!;

  beforeAll(async () => {
    t = await openTestRegistry(backend);
    acme = t.registry.forTenant((await t.registry.tenants.create({ name: 'acme' })).id);
    vaultId = (await acme.vaults.create({ name: 'big' }, ops)).id;
    for (let i = 0; i < CREDENTIALS; i++) {
      ids.push(
        (await acme.credentials.store({ vaultId, name: `k${i}`, type: 'api_key', value: `value-${i}` }, ops))
          .id,
      );
    }
    for (let i = 0; i < ROTATED; i++) await acme.credentials.rotate(ids[i]!, `value-${i}-v2`, ops);
  }, 180_000);
  afterAll(() => t.close());

  it('rotation makes a new vault key current; new writes use it; the old one cannot be destroyed yet', async () => {
    expect(await acme.vaults.rotateKey(vaultId, ops)).toEqual({ version: 2 });
    const fresh = await acme.credentials.store(
      { vaultId, name: 'after-rotation', type: 'api_key', value: 'new' },
      ops,
    );
    ids.push(fresh.id);
    expect((await acme.credentials.listVersions(fresh.id))[0]!.vaultKeyVersion).toBe(2);
    const status = await acme.vaults.keyStatus(vaultId);
    expect(status.currentVersion).toBe(2);
    expect(status.versions.map((v) => [v.version, v.dataKeys])).toEqual([
      [1, CREDENTIALS + ROTATED],
      [2, 1],
    ]);
    await expectCode(acme.vaults.destroyKeyVersion(vaultId, 1, ops), 'CONFLICT');
    await expectCode(acme.vaults.destroyKeyVersion(vaultId, 2, ops), 'CONFLICT');
  });

  it('a re-wrap that crashes midway loses nothing and resumes; values are never decrypted', async () => {
    const before = await blobOf(ids[7]!, 1);
    // A crash on the 251st ciphertext update: two batches of 100 are committed, the third is not.
    await owner(`CREATE SEQUENCE crash_after;
      CREATE FUNCTION crash_midway() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
      BEGIN IF nextval('crash_after') > 250 THEN RAISE EXCEPTION 'simulated crash'; END IF; RETURN NEW; END $$;
      CREATE TRIGGER crash_midway BEFORE UPDATE ON credential_versions FOR EACH ROW EXECUTE FUNCTION crash_midway();`);
    try {
      await expect(acme.vaults.rewrap(vaultId, { batchSize: 100 }, ops)).rejects.toBeDefined();
    } finally {
      await owner(
        'DROP TRIGGER crash_midway ON credential_versions; DROP FUNCTION crash_midway(); DROP SEQUENCE crash_after;',
      );
    }
    const midway = await acme.vaults.keyStatus(vaultId);
    expect(midway.versions.find((v) => v.version === 1)!.dataKeys).toBe(CREDENTIALS + ROTATED - 200);

    const done = await acme.vaults.rewrap(vaultId, { batchSize: 100 }, ops);
    expect(done).toEqual({ rewrapped: CREDENTIALS + ROTATED - 200, remaining: 0 });
    const after = await blobOf(ids[7]!, 1);
    expect(after.readUInt32BE(2)).toBe(2); // the header names the new vault key
    expect(after.subarray(66).equals(before.subarray(66))).toBe(true); // the value's nonce, ciphertext and tag: untouched
  });

  it('every value still reveals, old versions too, also from an instance with a cold cache', async () => {
    const cold = await assemble(t.db, { config: testConfig(t.prefix, t.rootKey), logger: silentLogger });
    for (const registry of [t.registry, cold]) {
      const r = registry.forTenant(acme.tenantId);
      for (let i = 0; i < CREDENTIALS; i += 97) {
        const expected = i < ROTATED ? `value-${i}-v2` : `value-${i}`;
        expect((await r.credentials.reveal(ids[i]!, { ...ops, reason: 'check' })).value).toBe(expected);
      }
      expect((await r.credentials.reveal(ids[3]!, { ...ops, reason: 'old', version: 1 })).value).toBe(
        'value-3',
      );
    }
  });

  it('once nothing uses it, the old vault key is destroyed; versions and the access log are intact', async () => {
    await acme.vaults.destroyKeyVersion(vaultId, 1, ops);
    expect((await acme.vaults.keyStatus(vaultId)).versions.map((v) => v.version)).toEqual([2]);
    expect((await acme.credentials.reveal(ids[500]!, { ...ops, reason: 'after destroy' })).value).toBe(
      'value-500',
    );
    expect((await acme.credentials.listVersions(ids[0]!)).map((v) => v.version)).toEqual([2, 1]);
    const log = (await acme.audit.query({ vaultId, limit: 1000 })).items.map(
      (e) => `${e.action}:${e.outcome}`,
    );
    expect(log).toContain('key_rotate:granted');
    expect(log.filter((a) => a === 'key_rewrap:granted').length).toBe(
      Math.ceil((CREDENTIALS + ROTATED) / 100),
    );
    expect(log).toContain('key_destroy:conflict');
    expect(log).toContain('key_destroy:granted');
  });
});
