/**
 * Closing a registry closes every root key provider, retired ones included, and then the database,
 * even when two PKCS#11 keys share one module (moving to a new key label on the same HSM).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { KeyProviderConfig } from '../../src/config.js';
import { Pkcs11KeyProvider } from '../../src/keys/pkcs11-provider.js';
import { assemble } from '../../src/main.js';
import { BACKENDS, silentLogger, type TestDatabase, testConfig } from '../helpers/backends.js';
import { HAS_SOFTHSM, SOFTHSM_MODULE, softHsmToken } from '../helpers/softhsm.js';

let t: TestDatabase;
beforeAll(async () => {
  t = await BACKENDS[0]!.open();
});
afterAll(() => t.close().catch(() => {})); // closed by the test already, when it ran

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
