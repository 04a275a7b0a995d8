/**
 * The root key providers' life in a registry: a retired provider the current one would shadow is
 * refused at start-up, and closing closes every provider, retired ones included, then the database,
 * even when two PKCS#11 keys share one module (moving to a new key label on the same HSM).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { KeyProviderConfig } from '../../src/config.js';
import { Pkcs11KeyProvider } from '../../src/keys/pkcs11-provider.js';
import { assemble } from '../../src/main.js';
import { BACKENDS, localKey, silentLogger, type TestDatabase, testConfig } from '../helpers/backends.js';
import { HAS_SOFTHSM, SOFTHSM_MODULE, softHsmToken } from '../helpers/softhsm.js';

let t: TestDatabase;
beforeAll(async () => {
  t = await BACKENDS[0]!.open();
});
afterAll(() => t.close().catch(() => {})); // closed by the test already, when it ran

it('refuses, at start-up, a retired provider the current one would shadow', async () => {
  const key = randomBytes(32).toString('base64');
  const transit: KeyProviderConfig = {
    kind: 'vault-transit',
    addr: 'http://127.0.0.1:1',
    token: 't',
    key: 'credreg',
    mount: 'transit',
  };
  const kms: KeyProviderConfig = { kind: 'aws-kms', keyId: 'alias/credreg', tenantKeys: {} };
  const start = (current: KeyProviderConfig, previous: KeyProviderConfig) =>
    assemble(t.db, {
      config: { ...testConfig(t.prefix), keyProvider: current, previousKeyProviders: [previous] },
      logger: silentLogger,
    });
  const local = localKey(key);
  await expect(start(local, local)).rejects.toThrow(/the previous root key is the current one \(local:/);
  await expect(start(transit, { ...transit, addr: 'http://127.0.0.2:1' })).rejects.toThrow(
    /the previous root key is the current one \(vault-transit:transit\/credreg\); .* two servers/,
  );
  await expect(start(kms, { ...kms, keyId: 'alias/old' })).rejects.toThrow(
    /ReEncrypt; remove CREDREG_PREVIOUS_KEY_PROVIDER/,
  );
  // Another key of the same kind is what a rotation is for.
  const moving = await start(local, localKey(randomBytes(32).toString('base64')));
  expect(moving.backend).toBe('pglite');
});

it.skipIf(!HAS_SOFTHSM)('closes two PKCS#11 providers on one module, then the database', async () => {
  const hsm = (keyLabel: string): KeyProviderConfig => ({
    kind: 'pkcs11',
    module: SOFTHSM_MODULE,
    ...softHsmToken(),
    keyLabel,
  });
  // The old key must exist before it can be retired (a retired provider never creates one); made
  // and closed here, so the registry's current provider is the one that initialises the module.
  Pkcs11KeyProvider.open({ module: SOFTHSM_MODULE, ...softHsmToken(), keyLabel: 'old' }).close();
  const registry = await assemble(t.db, {
    config: { ...testConfig(t.prefix), keyProvider: hsm('new'), previousKeyProviders: [hsm('old')] },
    logger: silentLogger,
  });
  expect((await registry.rootKeyStatus()).remaining).toBe(0);
  await expect(registry.close()).resolves.toBeUndefined();
  await expect(t.db.transaction((c) => c.query('SELECT 1'))).rejects.toThrow();
});
