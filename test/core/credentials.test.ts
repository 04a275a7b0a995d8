import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantRegistry } from '../../src/core/registry.js';
import { describeEachBackend, expectCode, openTestRegistry, type TestRegistry } from '../helpers/backends.js';

const alice = { actor: 'alice', sourceIp: '203.0.113.7', userAgent: 'vitest', requestId: 'req-1' };
const DAY = 86_400_000;

describeEachBackend('credentials', (backend) => {
  let t: TestRegistry;
  let acme: TenantRegistry;
  let vaultId: string;

  beforeAll(async () => {
    t = await openTestRegistry(backend);
    const tenant = await t.registry.tenants.create({ name: 'acme' });
    acme = t.registry.forTenant(tenant.id);
    vaultId = (await acme.vaults.create({ name: 'payments', maxVersions: 3 }, alice)).id;
  });
  afterAll(() => t.close());

  it('stores a typed value as version 1 and reveals it with a reason', async () => {
    const c = await acme.credentials.store(
      { vaultId, name: 'stripe', type: 'api_key', value: 'sk_live_123', metadata: { env: 'prod' } },
      alice,
    );
    expect(c).toMatchObject({
      name: 'stripe',
      type: 'api_key',
      currentVersion: 1,
      isActive: true,
      metadata: { env: 'prod' },
    });
    expect(JSON.stringify(c)).not.toContain('sk_live_123');
    const r = await acme.credentials.reveal(c.id, { ...alice, reason: 'charge a card' });
    expect(r).toMatchObject({ credentialId: c.id, value: 'sk_live_123', version: 1, type: 'api_key' });
    const log = await acme.audit.query({ credentialId: c.id });
    expect(log.items.map((e) => [e.action, e.outcome])).toEqual([
      ['reveal', 'granted'],
      ['store', 'granted'],
    ]);
    expect(log.items[0]).toMatchObject({
      actor: 'alice',
      reason: 'charge a card',
      sourceIp: '203.0.113.7',
      userAgent: 'vitest',
      requestId: 'req-1',
      version: 1,
      vaultId,
    });
  });

  it('stores structured types and checks their shape', async () => {
    const value = {
      client_id: 'cid',
      client_secret: 'cs',
      token_url: 'https://auth.example/token',
      scopes: ['read'],
    };
    const c = await acme.credentials.store({ vaultId, name: 'oauth', type: 'oauth2_client', value }, alice);
    expect((await acme.credentials.reveal(c.id, { ...alice, reason: 'x' })).value).toEqual(value);
    await expectCode(
      acme.credentials.store(
        { vaultId, name: 'oauth-bad', type: 'oauth2_client', value: { client_id: 'cid' } },
        alice,
      ),
      'VALIDATION',
    );
    await expectCode(
      acme.credentials.store({ vaultId, name: 'basic', type: 'basic_auth', value: 'user:pass' }, alice),
      'VALIDATION',
    );
  });

  it('rotates to consecutive versions, keeps old ones revealable, and destroys beyond maxVersions', async () => {
    const c = await acme.credentials.store(
      { vaultId, name: 'rotating', type: 'bearer_token', value: 'v1' },
      alice,
    );
    for (const v of ['v2', 'v3', 'v4']) await acme.credentials.rotate(c.id, v, alice);
    const versions = await acme.credentials.listVersions(c.id);
    expect(versions.map((v) => [v.version, v.destroyedAt !== null])).toEqual([
      [4, false],
      [3, false],
      [2, false],
      [1, true],
    ]);
    expect((await acme.credentials.reveal(c.id, { ...alice, reason: 'r' })).value).toBe('v4');
    expect((await acme.credentials.reveal(c.id, { ...alice, reason: 'r', version: 2 })).value).toBe('v2');
    const destroyed = await expectCode(
      acme.credentials.reveal(c.id, { ...alice, reason: 'r', version: 1 }),
      'NOT_FOUND',
    );
    expect(destroyed.message).toContain('destroyed');
    await expectCode(acme.credentials.reveal(c.id, { ...alice, reason: 'r', version: 9 }), 'NOT_FOUND');
  });

  it('check-and-set: a stale expectedVersion gives VERSION_MISMATCH and is logged as a conflict', async () => {
    const c = await acme.credentials.store({ vaultId, name: 'cas', type: 'api_key', value: 'a' }, alice);
    const { version } = await acme.credentials.rotate(c.id, 'b', { ...alice, expectedVersion: 1 });
    expect(version).toBe(2);
    await expectCode(
      acme.credentials.rotate(c.id, 'c', { ...alice, expectedVersion: 1 }),
      'VERSION_MISMATCH',
    );
    const [last] = (await acme.audit.query({ credentialId: c.id, limit: 1 })).items;
    expect(last).toMatchObject({ action: 'rotate', outcome: 'conflict', errorCode: 'VERSION_MISMATCH' });
    expect((await acme.credentials.reveal(c.id, { ...alice, reason: 'r' })).value).toBe('b');
  });

  it('refuses an expired credential (audited), and rotation with a new expiry cures it', async () => {
    const c = await acme.credentials.store(
      {
        vaultId,
        name: 'expiring',
        type: 'api_key',
        value: 'x',
        expiresAt: new Date(t.clock.now().getTime() + DAY),
      },
      alice,
    );
    t.clock.advance(2 * DAY);
    await expectCode(acme.credentials.reveal(c.id, { ...alice, reason: 'r' }), 'EXPIRED');
    expect((await acme.audit.query({ credentialId: c.id, limit: 1 })).items[0]).toMatchObject({
      outcome: 'expired',
    });
    await acme.credentials.rotate(c.id, 'y', {
      ...alice,
      expiresAt: new Date(t.clock.now().getTime() + DAY),
    });
    expect((await acme.credentials.reveal(c.id, { ...alice, reason: 'r' })).value).toBe('y');
  });

  it('refuses deactivated credentials for reveal and rotate until reactivated', async () => {
    const c = await acme.credentials.store({ vaultId, name: 'toggled', type: 'api_key', value: 'x' }, alice);
    await acme.credentials.deactivate(c.id, alice);
    await expectCode(acme.credentials.reveal(c.id, { ...alice, reason: 'r' }), 'INACTIVE');
    await expectCode(acme.credentials.rotate(c.id, 'y', alice), 'INACTIVE');
    await acme.credentials.reactivate(c.id, alice);
    expect((await acme.credentials.reveal(c.id, { ...alice, reason: 'r' })).value).toBe('x');
    const outcomes = (await acme.audit.query({ credentialId: c.id })).items.map(
      (e) => `${e.action}:${e.outcome}`,
    );
    expect(outcomes).toEqual([
      'reveal:granted',
      'reactivate:granted',
      'rotate:inactive',
      'reveal:inactive',
      'deactivate:granted',
      'store:granted',
    ]);
  });

  it('soft delete frees the name, refuses use, restores within the window, and purges', async () => {
    const c = await acme.credentials.store({ vaultId, name: 'doomed', type: 'api_key', value: 'x' }, alice);
    const d = await acme.credentials.delete(c.id, {}, alice);
    expect(d.purgeAfter!.getTime() - d.deletedAt!.getTime()).toBe(7 * DAY);
    await expectCode(acme.credentials.reveal(c.id, { ...alice, reason: 'r' }), 'DELETED');
    await expectCode(acme.credentials.delete(c.id, {}, alice), 'DELETED');
    expect((await acme.credentials.list(vaultId)).items.map((x) => x.id)).not.toContain(c.id);
    expect((await acme.credentials.list(vaultId, { includeDeleted: true })).items.map((x) => x.id)).toContain(
      c.id,
    );
    // The name is free while deleted; restoring then conflicts.
    const reuse = await acme.credentials.store(
      { vaultId, name: 'doomed', type: 'api_key', value: 'y' },
      alice,
    );
    await expectCode(acme.credentials.restore(c.id, alice), 'CONFLICT');
    await acme.credentials.delete(reuse.id, {}, alice);
    await acme.credentials.purge(reuse.id, alice);
    expect((await acme.credentials.restore(c.id, alice)).deletedAt).toBeNull();
    expect((await acme.credentials.reveal(c.id, { ...alice, reason: 'r' })).value).toBe('x');
    await expectCode(acme.credentials.purge(c.id, alice), 'CONFLICT');
    await expectCode(acme.credentials.get(reuse.id), 'NOT_FOUND');
  });

  it('purges what outlived its recovery window, and then nothing is restorable', async () => {
    const c = await acme.credentials.store({ vaultId, name: 'windowed', type: 'api_key', value: 'x' }, alice);
    await acme.credentials.delete(c.id, { recoveryWindowDays: 1 }, alice);
    t.clock.advance(2 * DAY);
    await expectCode(acme.credentials.restore(c.id, alice), 'NOT_FOUND');
    expect(await t.registry.purgeDue()).toBeGreaterThanOrEqual(1);
    await expectCode(acme.credentials.get(c.id), 'NOT_FOUND');
    const [purge] = (await acme.audit.query({ credentialId: c.id, action: 'purge' })).items;
    expect(purge).toMatchObject({ outcome: 'granted', actor: 'system:purge' });
  });

  it('updates metadata, expiry and schedule, and validates them', async () => {
    const c = await acme.credentials.store(
      { vaultId, name: 'meta', type: 'api_key', value: 'x', rotationSchedule: 'P90D' },
      alice,
    );
    const u = await acme.credentials.update(
      c.id,
      { metadata: { owner: 'billing' }, rotationSchedule: null },
      alice,
    );
    expect(u).toMatchObject({ metadata: { owner: 'billing' }, rotationSchedule: null });
    await expectCode(acme.credentials.update(c.id, {}, alice), 'VALIDATION');
    await expectCode(
      acme.credentials.update(c.id, { rotationSchedule: 'every tuesday' }, alice),
      'VALIDATION',
    );
    await expectCode(
      acme.credentials.update(c.id, { expiresAt: new Date(t.clock.now().getTime() - 1000) }, alice),
      'VALIDATION',
    );
  });

  it('lists metadata with keyset pagination and never values', async () => {
    const v = await acme.vaults.create({ name: 'paged' }, alice);
    for (let i = 0; i < 7; i++) {
      await acme.credentials.store(
        { vaultId: v.id, name: `k${i}`, type: 'api_key', value: `secret-${i}` },
        alice,
      );
    }
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await acme.credentials.list(v.id, { limit: 3, cursor });
      expect(JSON.stringify(page)).not.toContain('secret-');
      names.push(...page.items.map((c) => c.name));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(names).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6']);
    await expectCode(acme.credentials.list(v.id, { cursor: 'garbage' }), 'VALIDATION');
  });

  describe('vaults', () => {
    it('refuses duplicate names, and deleting a non-empty vault without force', async () => {
      await expectCode(acme.vaults.create({ name: 'payments' }, alice), 'CONFLICT');
      const v = await acme.vaults.create({ name: 'temp' }, alice);
      await acme.credentials.store({ vaultId: v.id, name: 'a', type: 'api_key', value: 'x' }, alice);
      await expectCode(acme.vaults.delete(v.id, {}, alice), 'CONFLICT');
      await acme.vaults.delete(v.id, { force: true }, alice);
      await expectCode(acme.vaults.get(v.id), 'NOT_FOUND');
      const log = (await acme.audit.query({ vaultId: v.id })).items.map((e) => `${e.action}:${e.outcome}`);
      expect(log).toContain('vault_delete:conflict');
      expect(log).toContain('vault_delete:granted');
      expect(log).toContain('key_destroy:granted');
      // The credential destroyed with the vault has its own closing row.
      const [purged] = (await acme.audit.query({ action: 'purge', vaultId: v.id })).items;
      expect(purged).toMatchObject({ outcome: 'granted', reason: 'vault deleted' });
      expect(purged!.credentialId).not.toBeNull();
    });

    it('deletes an empty vault without an options object', async () => {
      const v = await acme.vaults.create({ name: 'empty' }, alice);
      await acme.vaults.delete(v.id, undefined, alice);
      await expectCode(acme.vaults.get(v.id), 'NOT_FOUND');
    });

    it('lists vaults by name with pagination', async () => {
      const page = await acme.vaults.list({ limit: 1 });
      expect(page.items).toHaveLength(1);
      expect(page.nextCursor).not.toBeNull();
      const rest = await acme.vaults.list({ cursor: page.nextCursor! });
      expect(rest.items.map((v) => v.name)).not.toContain(page.items[0]!.name);
    });
  });
});
