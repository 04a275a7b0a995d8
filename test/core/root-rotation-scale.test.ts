/**
 * Root rotation past one page: more than a page of tenants (100) and one vault with more vault-key
 * versions than a page of vault keys (200), so its versions straddle a page boundary. Also: a
 * provider refusing key after key stops the run instead of failing every key of the store.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { KeyProviderConfig } from '../../src/config.js';
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

const ops = { actor: 'platform:ops' };
const setup = { actor: 'ops' };
const VERSIONS = 206;

describeEachBackend('root rotation of more than a page', (backend) => {
  let t: TestRegistry;
  let tenantId: string;
  const values: Array<{ id: string; value: string }> = [];
  const newRoot = randomBytes(32).toString('base64');
  const open = (current: KeyProviderConfig, previous: KeyProviderConfig[]) =>
    assemble(t.db, {
      config: { ...testConfig(t.prefix), keyProvider: current, previousKeyProviders: previous },
      logger: silentLogger,
    });

  beforeAll(async () => {
    t = await openTestRegistry(backend);
    for (let i = 0; i < 100; i++) await t.registry.tenants.create({ name: `empty-${i}` });
    tenantId = (await t.registry.tenants.create({ name: 'last' })).id; // on the second page
    const tenant = t.registry.forTenant(tenantId);
    const vault = await tenant.vaults.create({ name: 'deep' }, setup);
    const first = await tenant.credentials.store(
      { vaultId: vault.id, name: 'first', type: 'api_key', value: 'under-v1' },
      setup,
    );
    values.push({ id: first.id, value: 'under-v1' });
    for (let v = 2; v <= VERSIONS; v++) await tenant.vaults.rotateKey(vault.id, setup);
    const last = await tenant.credentials.store(
      { vaultId: vault.id, name: 'last', type: 'api_key', value: `under-v${VERSIONS}` },
      setup,
    );
    values.push({ id: last.id, value: `under-v${VERSIONS}` });
  }, 120_000);
  afterAll(() => t.close());

  it('a provider refusing key after key stops the run after ten, each refusal logged', async () => {
    // The previous key configured is the wrong one: no vault key can be opened.
    const wrong = await open(localKey(newRoot), [localKey(randomBytes(32).toString('base64'))]);
    const err = await expectCode(wrong.rotateRoot(ops), 'CRYPTO');
    expect(err.message).toMatch(
      /^root rotation stopped: 10 vault keys in a row could not be moved; the last: /,
    );
    const rows = (
      await t.registry.forTenant(tenantId).audit.query({ action: 'key_rotate', outcome: 'error', limit: 50 })
    ).items;
    expect(rows).toHaveLength(10);
    expect((await wrong.rootKeyStatus()).remaining).toBe(VERSIONS);
  });

  it(`moves all ${VERSIONS} vault keys of a tenant on the second page, then finds nothing left`, async () => {
    const moving = await open(localKey(newRoot), [localKey(t.rootKey)]);
    expect(await moving.rotateRoot(ops)).toEqual({ rewrapped: VERSIONS, failed: 0 });
    expect(await moving.rootKeyStatus()).toMatchObject({ remaining: 0 });
    expect(await moving.rotateRoot(ops)).toEqual({ rewrapped: 0, failed: 0 });
    const alone = (await open(localKey(newRoot), [])).forTenant(tenantId);
    for (const { id, value } of values) {
      expect((await alone.credentials.reveal(id, { ...ops, reason: 'check' })).value).toBe(value);
    }
  });
});
