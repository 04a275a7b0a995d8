import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { roleAllows } from '../../src/core/authorization.js';
import type { TenantRegistry } from '../../src/core/registry.js';
import { parseToken } from '../../src/core/token-service.js';
import { describeEachBackend, expectCode, openTestRegistry, type TestRegistry } from '../helpers/backends.js';

const admin = { actor: 'admin' };
const HOUR = 3_600_000;

describeEachBackend('API tokens', (backend) => {
  let t: TestRegistry;
  let acme: TenantRegistry;
  let principalId: string;
  let vaultId: string;

  beforeAll(async () => {
    t = await openTestRegistry(backend);
    acme = t.registry.forTenant((await t.registry.tenants.create({ name: 'acme' })).id);
    principalId = (await acme.principals.create({ name: 'ci', kind: 'service' }, admin)).id;
    vaultId = (await acme.vaults.create({ name: 'v' }, admin)).id;
  });
  afterAll(() => t.close());

  it('bootstraps one platform token on an empty store, and only once', async () => {
    const token = await t.registry.authenticator.bootstrap();
    expect(token).toMatch(/^crp\.[0-9a-f]{32}\.[A-Za-z0-9_-]{43}$/);
    expect(await t.registry.authenticator.bootstrap()).toBeNull();
    expect(await t.registry.authenticator.authenticate(token!)).toMatchObject({
      kind: 'platform',
      name: 'bootstrap',
    });
  });

  it('a tenant token authenticates as its principal, role and vault; it is stored only as a hash', async () => {
    const { token, apiToken } = await acme.tokens.create({ principalId, role: 'reader', vaultId }, admin);
    const parsed = parseToken(token)!;
    expect(parsed).toMatchObject({ kind: 'tenant', tenantId: acme.tenantId, id: apiToken.id });
    expect(await t.registry.authenticator.authenticate(token)).toEqual({
      kind: 'tenant',
      tenantId: acme.tenantId,
      tokenId: apiToken.id,
      principalId,
      role: 'reader',
      vaultId,
    });
    // No column, in any encoding PostgreSQL can print, holds the secret: only its SHA-256.
    const [row] = await t.db.transaction((c) =>
      c.query<{ text: string; hash: string }>(
        `SELECT t::text AS text, encode(secret_hash, 'hex') AS hash FROM api_tokens t WHERE id = $1`,
        [apiToken.id],
      ),
    );
    const secret = 'secret' in parsed ? parsed.secret : '';
    expect(row!.text).not.toContain(secret);
    expect(row!.text).not.toContain(Buffer.from(secret).toString('hex'));
    expect(row!.hash).toBe(createHash('sha256').update(secret).digest('hex'));
    expect(JSON.stringify(await acme.tokens.list())).not.toContain(token);
  });

  it('refuses malformed, unknown, altered, revoked and expired tokens alike', async () => {
    const { token, apiToken } = await acme.tokens.create({ principalId, role: 'admin' }, admin);
    const altered = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    for (const bad of [undefined, '', 'Bearer x', 'crt.nothex.nothex.x', altered]) {
      await expectCode(t.registry.authenticator.authenticate(bad), 'UNAUTHENTICATED');
    }
    // Verified once (so it sits in the cache), then revoked: refused at once, not after the TTL.
    expect(await t.registry.authenticator.authenticate(token)).toMatchObject({ kind: 'tenant' });
    await acme.tokens.revoke(apiToken.id, admin);
    await expectCode(t.registry.authenticator.authenticate(token), 'UNAUTHENTICATED');
    await expectCode(acme.tokens.revoke('01890000-0000-7000-8000-000000000000', admin), 'NOT_FOUND');

    const expiring = await acme.tokens.create(
      { principalId, role: 'admin', expiresAt: new Date(t.clock.now().getTime() + HOUR) },
      admin,
    );
    expect(await t.registry.authenticator.authenticate(expiring.token)).toMatchObject({ kind: 'tenant' });
    t.clock.advance(2 * HOUR);
    await expectCode(t.registry.authenticator.authenticate(expiring.token), 'UNAUTHENTICATED');
  });

  it('a token limited to a vault stops working when the vault is deleted, cached or not', async () => {
    const v = await acme.vaults.create({ name: 'short-lived' }, admin);
    const { token } = await acme.tokens.create({ principalId, role: 'reader', vaultId: v.id }, admin);
    expect(await t.registry.authenticator.authenticate(token)).toMatchObject({ vaultId: v.id });
    await acme.vaults.delete(v.id, {}, admin);
    await expectCode(t.registry.authenticator.authenticate(token), 'UNAUTHENTICATED');
  });

  it('checks its principal and vault exist, and logs token creation and revocation', async () => {
    await expectCode(acme.tokens.create({ principalId: vaultId, role: 'admin' }, admin), 'NOT_FOUND');
    await expectCode(
      acme.tokens.create({ principalId, role: 'admin', vaultId: principalId }, admin),
      'NOT_FOUND',
    );
    await expectCode(acme.tokens.create({ principalId, role: 'root' as never }, admin), 'VALIDATION');
    const actions = (await acme.audit.query({ limit: 50 })).items.map((e) => `${e.action}:${e.outcome}`);
    expect(actions).toContain('token_create:granted');
    expect(actions).toContain('token_revoke:granted');
    expect(actions).toContain('token_create:not_found');
  });

  it('a vault-scoped caller outside its vault is answered exactly as for a missing id, and logged as denied', async () => {
    const other = await acme.vaults.create({ name: 'other' }, admin);
    const inOther = await acme.credentials.store(
      { vaultId: other.id, name: 'x', type: 'api_key', value: 'v' },
      admin,
    );
    const scoped = { actor: 'scoped', vaultScope: vaultId };
    const missingCredential = '01890000-0000-7000-8000-00000000dead';
    const missingVault = '01890000-0000-7000-8000-00000000beef';
    // Each pair: an id in another vault of the tenant, and one that does not exist. Same code, same message.
    const pairs: [() => Promise<unknown>, () => Promise<unknown>][] = [
      [
        () => acme.credentials.reveal(inOther.id, { ...scoped, reason: 'r' }),
        () => acme.credentials.reveal(missingCredential, { ...scoped, reason: 'r' }),
      ],
      [
        () => acme.credentials.rotate(inOther.id, 'w', scoped),
        () => acme.credentials.rotate(missingCredential, 'w', scoped),
      ],
      [
        () => acme.credentials.store({ vaultId: other.id, name: 'y', type: 'api_key', value: 'v' }, scoped),
        () =>
          acme.credentials.store({ vaultId: missingVault, name: 'y', type: 'api_key', value: 'v' }, scoped),
      ],
      [() => acme.credentials.get(inOther.id, scoped), () => acme.credentials.get(missingCredential, scoped)],
      [
        () => acme.credentials.list(other.id, {}, scoped),
        () => acme.credentials.list(missingVault, {}, scoped),
      ],
      [() => acme.vaults.get(other.id, scoped), () => acme.vaults.get(missingVault, scoped)],
      [
        () => acme.vaults.delete(other.id, { force: true }, scoped),
        () => acme.vaults.delete(missingVault, { force: true }, scoped),
      ],
    ];
    const answer = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: Error & { code: string }) => `${e.code}: ${e.message}`,
      );
    for (const [inOtherVault, missing] of pairs) {
      const a = await answer(inOtherVault());
      expect(a).toMatch(/^NOT_FOUND: /);
      expect(a).toBe(await answer(missing()));
    }
    // An audit filter on another vault answers like one on a vault without entries: nothing.
    expect(await acme.audit.query({ vaultId: other.id }, scoped)).toEqual({ items: [], nextCursor: null });
    // Creating a vault names no id: that one is a plain refusal.
    await expectCode(acme.vaults.create({ name: 'new' }, scoped), 'FORBIDDEN');
    expect((await acme.vaults.list({}, scoped)).items.map((v) => v.id)).toEqual([vaultId]);
    const denied = (await acme.audit.query({ actor: 'scoped', outcome: 'denied', limit: 50 })).items;
    // Nine in other vaults, and four missing vault ids, which are outside the scope too.
    expect(denied.length).toBe(13);
    expect(denied.every((e) => e.errorCode === 'FORBIDDEN')).toBe(true);
    expect((await acme.audit.query({}, scoped)).items.every((e) => e.vaultId === vaultId)).toBe(true);
  });
});

it('roles: writer cannot reveal, auditor never reveals, reader cannot write, only admin manages tokens', () => {
  expect(roleAllows('writer', 'credentials:reveal')).toBe(false);
  expect(roleAllows('auditor', 'credentials:reveal')).toBe(false);
  expect(roleAllows('auditor', 'audit:read')).toBe(true);
  expect(roleAllows('reader', 'credentials:write')).toBe(false);
  expect(roleAllows('reader', 'credentials:reveal')).toBe(true);
  for (const role of ['writer', 'reader', 'auditor'] as const)
    expect(roleAllows(role, 'tokens:manage')).toBe(false);
  expect(roleAllows('admin', 'tokens:manage')).toBe(true);
});
