/**
 * Root-key rotation, as an operator runs it: the old root key configured as previous, the new one
 * current, `rotateRoot`, then the old one removed. One store walks through every kind of move in
 * turn: local to local, local to Vault Transit, a Transit key rotation, Transit to local, local to
 * AWS KMS, and a KMS alias moved to another key. After each step every value still reveals with the
 * new key alone and the old one opens nothing. No data key or value is ever touched.
 */
import { randomBytes } from 'node:crypto';
import { DecryptCommand, EncryptCommand, ReEncryptCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { KeyProviderConfig } from '../../src/config.js';
import { decodeRootKey, LocalKeyProvider } from '../../src/keys/local-key-provider.js';
import { assemble } from '../../src/main.js';
import {
  describeEachBackend,
  expectCode,
  localKey,
  openTestRegistry,
  silentLogger,
  type TestRegistry,
  testConfig,
} from '../helpers/backends.js';
import { fakeKms, KEY_ARN, OTHER_KEY_ARN } from '../helpers/kms-fake.js';
import { HAS_SOFTHSM, SOFTHSM_MODULE, softHsmToken } from '../helpers/softhsm.js';
import { transitStandIn } from '../helpers/transit-stand-in.js';

const ops = { actor: 'platform:ops' };
const setup = { actor: 'ops' };
// One fake for the file: it stubs every KMSClient, so both backends' suites share it.
const kms = fakeKms();
afterAll(() => kms.kms.restore());

describeEachBackend('root key rotation', (backend) => {
  let t: TestRegistry;
  let transit: Awaited<ReturnType<typeof transitStandIn>>;
  const newRoot = randomBytes(32).toString('base64');
  const lastRoot = randomBytes(32).toString('base64');
  const credentials: Array<{ tenantId: string; id: string; value: string }> = [];
  let transitConfig: KeyProviderConfig;
  const kmsConfig: KeyProviderConfig = { kind: 'aws-kms', keyId: 'alias/credreg', tenantKeys: {} };

  const open = (current: KeyProviderConfig, previous: KeyProviderConfig[] = []) =>
    assemble(t.db, {
      config: { ...testConfig(t.prefix), keyProvider: current, previousKeyProviders: previous },
      logger: silentLogger,
    });
  const wrappings = async () =>
    (
      await t.db.transaction((c) =>
        c.query<{ provider: string; id: string; key: Buffer }>(
          'SELECT provider, provider_key_id AS id, wrapped_key AS key FROM vault_keys ORDER BY 1, 2',
        ),
      )
    ).map((r) => ({ provider: r.provider, id: r.id, key: Buffer.from(r.key) }));
  const dataKeys = () =>
    t.db.transaction((c) =>
      c.query<{ id: string }>(
        `SELECT credential_id || ':' || version || ':' || encode(sha256(ciphertext), 'hex') AS id
           FROM credential_versions ORDER BY 1`,
      ),
    );
  const revealAll = async (registry: Awaited<ReturnType<typeof open>>) => {
    for (const c of credentials) {
      const r = await registry.forTenant(c.tenantId).credentials.reveal(c.id, { ...ops, reason: 'check' });
      expect(r.value).toBe(c.value);
    }
  };
  const revealFirst = (registry: Awaited<ReturnType<typeof open>>) =>
    registry
      .forTenant(credentials[0]!.tenantId)
      .credentials.reveal(credentials[0]!.id, { ...ops, reason: 'check' });

  beforeAll(async () => {
    t = await openTestRegistry(backend);
    transit = await transitStandIn();
    transitConfig = {
      kind: 'vault-transit',
      addr: transit.addr,
      token: 'test-token',
      key: 'credreg',
      mount: 'transit',
    };
    for (const name of ['north', 'south']) {
      const tenant = t.registry.forTenant((await t.registry.tenants.create({ name })).id);
      for (const v of ['a', 'b']) {
        const vault = await tenant.vaults.create({ name: v }, setup);
        const value = `${name}-${v}`;
        const c = await tenant.credentials.store(
          { vaultId: vault.id, name: 'c', type: 'api_key', value },
          setup,
        );
        credentials.push({ tenantId: tenant.tenantId, id: c.id, value });
      }
      // One vault with two key versions, both in use.
      const vaultA = (await tenant.vaults.list()).items[0]!;
      await tenant.vaults.rotateKey(vaultA.id, setup);
      const c2 = await tenant.credentials.store(
        { vaultId: vaultA.id, name: 'after', type: 'api_key', value: `${name}-v2` },
        setup,
      );
      credentials.push({ tenantId: tenant.tenantId, id: c2.id, value: `${name}-v2` });
    }
  });
  afterAll(async () => {
    transit.server.close();
    await t.close();
  });

  it('local to local: every vault key of every tenant moves, then the old key opens nothing', async () => {
    const oldId = new LocalKeyProvider(decodeRootKey(t.rootKey)).keyId;
    const newId = new LocalKeyProvider(decodeRootKey(newRoot)).keyId;
    expect(new Set((await wrappings()).map((w) => w.id))).toEqual(new Set([oldId]));
    const before = await dataKeys();

    const moving = await open(localKey(newRoot), [localKey(t.rootKey)]);
    await revealAll(moving); // the retired key still unwraps, meanwhile
    expect(await moving.rootKeyStatus()).toEqual({
      wrappedBy: [{ provider: 'local', providerKeyId: oldId, current: false, vaultKeys: 6 }],
      remaining: 6,
    });
    expect(await moving.rotateRoot(ops)).toEqual({ rewrapped: 6, failed: 0 });
    expect(new Set((await wrappings()).map((w) => w.id))).toEqual(new Set([newId]));
    expect(await moving.rootKeyStatus()).toEqual({
      wrappedBy: [{ provider: 'local', providerKeyId: newId, current: true, vaultKeys: 6 }],
      remaining: 0,
    });
    expect(await moving.rotateRoot(ops)).toEqual({ rewrapped: 0, failed: 0 });
    expect(await dataKeys()).toEqual(before); // no data key, no value touched

    await revealAll(await open(localKey(newRoot))); // a cold cache, the new key alone
    await expectCode(revealFirst(await open(localKey(t.rootKey))), 'CRYPTO');
  });

  it('is in each tenant access log, naming both root keys (ids, never key material)', async () => {
    for (const tenantId of new Set(credentials.map((c) => c.tenantId))) {
      const rows = (
        await t.registry.forTenant(tenantId).audit.query({ action: 'key_rotate', actor: ops.actor })
      ).items;
      expect(rows).toHaveLength(3);
      expect(rows[0]!.reason).toMatch(/^root key rotation: local:[0-9a-f]{16} -> local:[0-9a-f]{16}$/);
    }
  });

  it('clears the cached vault keys it moved: the next reveal unwraps through the new wrapping', async () => {
    const moving = await open(transitConfig, [localKey(newRoot)]);
    await revealAll(moving); // warm: every vault key cached
    const warm = moving.keyRingStats().providerCalls;
    await revealFirst(moving);
    expect(moving.keyRingStats().providerCalls).toBe(warm);
    expect(await moving.rotateRoot(ops)).toEqual({ rewrapped: 6, failed: 0 }); // local to Vault Transit
    const afterRotation = moving.keyRingStats().providerCalls;
    await revealFirst(moving);
    expect(moving.keyRingStats().providerCalls).toBe(afterRotation + 1);
    expect(new Set((await wrappings()).map((w) => w.provider))).toEqual(new Set(['vault-transit']));
    await revealAll(await open(transitConfig)); // Transit alone opens everything
  });

  it('a Transit key rotation: vault keys move from vault:v1 to vault:v2', async () => {
    expect((await wrappings()).every((w) => w.key.toString().startsWith('vault:v1:'))).toBe(true);
    transit.rotate(); // vault write -f transit/keys/credreg/rotate
    const registry = await open(transitConfig);
    expect(await registry.rootKeyStatus()).toEqual({
      wrappedBy: [
        {
          provider: 'vault-transit',
          providerKeyId: 'vault-transit:transit/credreg',
          current: false,
          vaultKeys: 6,
        },
      ],
      remaining: 6,
    });
    expect(await registry.rotateRoot(ops)).toEqual({ rewrapped: 6, failed: 0 });
    expect((await wrappings()).every((w) => w.key.toString().startsWith('vault:v2:'))).toBe(true);
    expect((await registry.rootKeyStatus()).remaining).toBe(0);
    expect(await registry.rotateRoot(ops)).toEqual({ rewrapped: 0, failed: 0 });
    await revealAll(await open(transitConfig));
  });

  it('cut off midway by a provider outage, it resumes where it stopped and loses nothing', async () => {
    transit.rotate(); // to vault:v3
    const registry = await open(transitConfig);
    // The current-key test (1 call), then 2 vault keys (decrypt and encrypt each), then down.
    transit.state.failAfter = 5;
    try {
      await expectCode(registry.rotateRoot(ops), 'UNAVAILABLE');
    } finally {
      transit.state.failAfter = null;
      transit.state.status = null;
    }
    expect((await registry.rootKeyStatus()).remaining).toBe(4);
    expect(await registry.rotateRoot(ops)).toEqual({ rewrapped: 4, failed: 0 });
    expect((await wrappings()).every((w) => w.key.toString().startsWith('vault:v3:'))).toBe(true);
    await revealAll(await open(transitConfig));
  });

  it('off Vault Transit, with Transit configured as the previous provider', async () => {
    const moving = await open(localKey(lastRoot), [transitConfig]);
    expect(await moving.rotateRoot(ops)).toEqual({ rewrapped: 6, failed: 0 });
    transit.state.status = 503; // Transit is gone: nothing needs it any more
    try {
      await revealAll(await open(localKey(lastRoot)));
    } finally {
      transit.state.status = null;
    }
  });

  it('onto AWS KMS, then an alias moved to another key: ReEncrypt alone, the key never leaves KMS', async () => {
    kms.aliases.set('alias/credreg', KEY_ARN);
    const onto = await open(kmsConfig, [localKey(lastRoot)]);
    expect(await onto.rotateRoot(ops)).toEqual({ rewrapped: 6, failed: 0 });
    expect(new Set((await wrappings()).map((w) => w.id))).toEqual(new Set([KEY_ARN]));

    kms.aliases.set('alias/credreg', OTHER_KEY_ARN); // aws kms update-alias
    kms.kms.resetHistory();
    const registry = await open(kmsConfig); // no previous provider: KMS opens either key
    expect((await registry.rootKeyStatus()).remaining).toBe(6);
    expect(await registry.rotateRoot(ops)).toEqual({ rewrapped: 6, failed: 0 });
    expect(kms.kms.commandCalls(ReEncryptCommand)).toHaveLength(6);
    expect(kms.kms.commandCalls(DecryptCommand)).toHaveLength(0);
    expect(kms.kms.commandCalls(EncryptCommand)).toHaveLength(0);
    expect(new Set((await wrappings()).map((w) => w.id))).toEqual(new Set([OTHER_KEY_ARN]));
    await revealAll(await open(kmsConfig));
  });

  it.skipIf(!HAS_SOFTHSM)('onto an HSM (SoftHSM2 over PKCS#11), then off it again', async () => {
    const hsm: KeyProviderConfig = {
      kind: 'pkcs11',
      module: SOFTHSM_MODULE,
      ...softHsmToken(),
      keyLabel: `root-${backend.name}`,
    };
    const onto = await open(hsm, [kmsConfig]);
    expect(await onto.rotateRoot(ops)).toEqual({ rewrapped: 6, failed: 0 });
    expect(new Set((await wrappings()).map((w) => w.id))).toEqual(
      new Set([`pkcs11:credreg/root-${backend.name}`]),
    );
    await revealAll(await open(hsm));
    const off = await open(kmsConfig, [hsm]);
    expect(await off.rotateRoot(ops)).toEqual({ rewrapped: 6, failed: 0 });
    expect(new Set((await wrappings()).map((w) => w.provider))).toEqual(new Set(['aws-kms']));
    await revealAll(await open(kmsConfig));
  });

  it('a vault key no configured root key can open is refused, named, and logged', async () => {
    const stranger = await open(localKey(randomBytes(32).toString('base64')));
    const err = await expectCode(revealFirst(stranger), 'CRYPTO');
    expect(err.message).toMatch(
      /wrapped by aws-kms key arn:aws:kms:\S+, which no configured root key can unwrap/,
    );
    const [row] = (
      await t.registry
        .forTenant(credentials[0]!.tenantId)
        .audit.query({ credentialId: credentials[0]!.id, limit: 1 })
    ).items;
    expect(row).toMatchObject({ outcome: 'error', errorCode: 'CRYPTO' });
  });

  it('a vault key that cannot be unwrapped is logged and skipped; the others still move', async () => {
    const [victim] = await t.db.transaction((c) =>
      c.query<{ tenant_id: string; vault_id: string; version: number; wrapped_key: Buffer }>(
        'SELECT tenant_id, vault_id, version, wrapped_key FROM vault_keys ORDER BY tenant_id, vault_id LIMIT 1',
      ),
    );
    const original = Buffer.from(victim!.wrapped_key);
    const tampered = Buffer.from(original);
    tampered[tampered.length - 1]! ^= 0x01;
    const setKey = (key: Buffer) =>
      t.db.transaction((c) =>
        c.query(
          'UPDATE vault_keys SET wrapped_key = $1 WHERE tenant_id = $2 AND vault_id = $3 AND version = $4',
          [key, victim!.tenant_id, victim!.vault_id, victim!.version],
        ),
      );
    await setKey(tampered);
    const moving = await open(localKey(lastRoot), [kmsConfig]);
    expect(await moving.rotateRoot(ops)).toEqual({ rewrapped: 5, failed: 1 });
    const failures = (
      await t.registry
        .forTenant(victim!.tenant_id)
        .audit.query({ vaultId: victim!.vault_id, action: 'key_rotate', outcome: 'error' })
    ).items;
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ errorCode: 'CRYPTO', actor: ops.actor, version: victim!.version });
    expect((await moving.rootKeyStatus()).remaining).toBe(1);

    await setKey(original); // restored from a backup, say: the next run finishes the job
    expect(await moving.rotateRoot(ops)).toEqual({ rewrapped: 1, failed: 0 });
    await revealAll(await open(localKey(lastRoot)));
  });
});
