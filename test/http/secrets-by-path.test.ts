/**
 * Vaults by name and credentials by `vault/name` (`/v1/vaults/by-name/{name}`, `/v1/secrets/...`):
 * a name obeys tenant isolation and vault scope exactly as an id does, and every attempt leaves
 * its access-log row.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ApiError } from '../../src/client/api-error.js';
import { RegistryClient } from '../../src/client/registry-client.js';
import { describeEachBackend } from '../helpers/backends.js';
import { seedTenant, startServer, type TestServer } from './helpers.js';

type Seed = Awaited<ReturnType<typeof seedTenant>>;
const strip = (body: unknown) => ({ ...(body as object), requestId: undefined });

describeEachBackend('names and paths instead of ids', (backend) => {
  let s: TestServer;
  let own: Seed;
  let other: Seed;
  let payments: { id: string; name: string };
  let ledger: { id: string; name: string };
  let stripe: string;
  let scoped: string;

  beforeAll(async () => {
    s = await startServer(backend);
    own = await seedTenant(s, 'own');
    other = await seedTenant(s, 'other');
    payments = await own.t.vaults.create({ name: 'payments' }, own.ctx);
    ledger = await own.t.vaults.create({ name: 'ledger' }, own.ctx);
    stripe = (
      await own.t.credentials.store(
        { vaultId: payments.id, name: 'stripe', type: 'api_key', value: 'sk_live_1' },
        own.ctx,
      )
    ).id;
    await own.t.credentials.store(
      { vaultId: ledger.id, name: 'db', type: 'api_key', value: 'ledger-secret' },
      own.ctx,
    );
    // The other tenant's names exist only there.
    const theirs = await other.t.vaults.create({ name: 'treasury' }, other.ctx);
    await other.t.credentials.store(
      { vaultId: theirs.id, name: 'wire', type: 'api_key', value: 'theirs' },
      other.ctx,
    );
    scoped = (
      await own.t.tokens.create(
        { principalId: own.principal.id, role: 'admin', vaultId: payments.id },
        own.ctx,
      )
    ).token;
  });
  afterAll(() => s.stop());

  /** Rows of the own tenant's log, newest first. */
  const rows = async (filter: Parameters<Seed['t']['audit']['query']>[0] = {}) =>
    (await own.t.audit.query({ limit: 1000, ...filter })).items;
  const reveal = (path: string, token = own.tokens.admin, body: unknown = { reason: 'test' }) =>
    s.call('POST', `/v1/secrets/${path}/reveal`, { token, body });

  it('a reveal by path answers the value and writes one row naming the credential', async () => {
    const before = await rows({ credentialId: stripe });
    const r = await reveal('payments/stripe', own.tokens.admin, { reason: 'nightly invoices' });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ credentialId: stripe, name: 'stripe', value: 'sk_live_1', version: 1 });
    const after = await rows({ credentialId: stripe });
    expect(after.length).toBe(before.length + 1);
    expect(after[0]).toMatchObject({
      action: 'reveal',
      outcome: 'granted',
      credentialId: stripe,
      vaultId: payments.id,
      reason: 'nightly invoices',
    });
  });

  it("another tenant's vault/name and a missing one answer the same 404, each leaving a row", async () => {
    const before = (await rows({ action: 'reveal', outcome: 'not_found' })).length;
    const theirs = await reveal('treasury/wire');
    const missingVault = await reveal('nowhere/wire');
    const missingName = await reveal('payments/none');
    for (const r of [theirs, missingVault, missingName]) expect(r.status, r.text).toBe(404);
    expect(strip(theirs.body)).toEqual(strip(missingVault.body));
    expect(strip(theirs.body)).toEqual(strip(missingName.body));
    expect((await rows({ action: 'reveal', outcome: 'not_found' })).length).toBe(before + 3);
    // Nothing is written in the tenant whose names they are.
    const theirRows = (await other.t.audit.query({ action: 'reveal', limit: 1000 })).items;
    expect(theirRows).toEqual([]);
  });

  it("a vault by another tenant's name answers as a missing one: 404, each with its row", async () => {
    const before = (await rows({ outcome: 'not_found' })).length;
    const theirs = await s.call('GET', '/v1/vaults/by-name/treasury', { token: own.tokens.reader });
    const missing = await s.call('GET', '/v1/vaults/by-name/nowhere', { token: own.tokens.reader });
    expect(theirs.status).toBe(404);
    expect(strip(theirs.body)).toEqual(strip(missing.body));
    expect((await rows({ outcome: 'not_found' })).length).toBe(before + 2);
    const mine = await s.call('GET', '/v1/vaults/by-name/payments', { token: own.tokens.reader });
    expect(mine.status).toBe(200);
    expect(mine.body).toMatchObject({ id: payments.id, name: 'payments' });
  });

  it("a vault-scoped token reaching another vault's path answers 404, its row denied", async () => {
    const mine = await reveal('payments/stripe', scoped);
    expect(mine.status, mine.text).toBe(200);
    const outside = await reveal('ledger/db', scoped);
    const missing = await reveal('payments/none', scoped);
    expect(outside.status, outside.text).toBe(404);
    expect(strip(outside.body)).toEqual(strip(missing.body));
    const [row] = await rows({ vaultId: ledger.id, outcome: 'denied', limit: 1 });
    expect(row).toMatchObject({ action: 'reveal', outcome: 'denied', errorCode: 'FORBIDDEN' });
    for (const path of [
      '/v1/secrets/ledger/db',
      '/v1/secrets/ledger/db/versions',
      '/v1/vaults/by-name/ledger',
    ]) {
      const r = await s.call('GET', path, { token: scoped });
      expect(r.status, path).toBe(404);
    }
    const rotate = await s.call('POST', '/v1/secrets/ledger/db/rotate', {
      token: scoped,
      body: { value: 'stolen' },
    });
    expect(rotate.status).toBe(404);
    const denied = await rows({ vaultId: ledger.id, outcome: 'denied' });
    expect(denied.map((r) => r.action).sort()).toEqual(['read', 'read', 'read', 'reveal', 'rotate']);
    // The vault-scoped listing keeps to its vault whatever the filter.
    const listed = await s.call('GET', '/v1/vaults?name=ledger', { token: scoped });
    expect(listed.body).toMatchObject({ items: [] });
  });

  it('names with ".", "_" and "-" work as paths, in the API and the typed client', async () => {
    const vault = await own.t.vaults.create({ name: 'team_a.prod-1' }, own.ctx);
    const c = await own.t.credentials.store(
      { vaultId: vault.id, name: 'db-main_v2.key', type: 'api_key', value: 'dotted' },
      own.ctx,
    );
    const r = await reveal('team_a.prod-1/db-main_v2.key');
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ credentialId: c.id, value: 'dotted' });

    const client = new RegistryClient({ addr: s.base, token: own.tokens.admin });
    expect((await client.getVaultByName('team_a.prod-1')).id).toBe(vault.id);
    expect((await client.getSecret('team_a.prod-1', 'db-main_v2.key')).id).toBe(c.id);
    const rotated = await client.rotateSecret('team_a.prod-1', 'db-main_v2.key', { value: 'dotted-2' });
    expect(rotated.version).toBe(2);
    const revealed = await client.revealSecret('team_a.prod-1', 'db-main_v2.key', { reason: 'client' });
    expect(revealed).toMatchObject({ value: 'dotted-2', version: 2 });
    const versions = await client.listSecretVersions('team_a.prod-1', 'db-main_v2.key');
    expect(versions.items.map((v) => v.version)).toEqual([2, 1]);
    // The client encodes each segment: a "/" in a name is sent as %2F, and refused as a name.
    const err = await client.getSecret('payments', 'a/stripe').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(400);
    const missing = await client.getSecret('payments', 'nope').catch((e: unknown) => e);
    expect((missing as ApiError).status).toBe(404);
  });

  it('a percent-encoded slash in a name is refused (400), not taken as a separator, with its row', async () => {
    const before = (await rows({ action: 'reveal', outcome: 'invalid' })).length;
    for (const path of ['payments/x%2Fstripe', 'pay%2Fments/stripe', 'payments%2Fstripe/x']) {
      const r = await reveal(path);
      expect(r.status, `${path}: ${r.text}`).toBe(400);
      expect(JSON.stringify(r.body)).not.toContain('sk_live');
    }
    expect((await rows({ action: 'reveal', outcome: 'invalid' })).length).toBe(before + 3);
    const vault = await s.call('GET', '/v1/vaults/by-name/pay%2Fments', { token: own.tokens.admin });
    expect(vault.status).toBe(400);
  });

  it('an id smuggled into the body of a by-path reveal is refused and not named on the row', async () => {
    const r = await reveal('ledger/db', own.tokens.admin, { reason: 'x', id: stripe });
    expect(r.status).toBe(400);
    const [row] = await rows({ limit: 1 });
    expect(row).toMatchObject({ action: 'reveal', outcome: 'invalid' });
    expect(row!.credentialId).toBeNull();
  });

  it('a path names the live credential: a deleted one is not found, its successor is', async () => {
    const first = await own.t.credentials.store(
      { vaultId: payments.id, name: 'rotating', type: 'api_key', value: 'v1' },
      own.ctx,
    );
    expect(
      (await s.call('GET', '/v1/secrets/payments/rotating', { token: own.tokens.reader })).body,
    ).toMatchObject({
      id: first.id,
    });
    await own.t.credentials.delete(first.id, {}, own.ctx);
    expect((await s.call('GET', '/v1/secrets/payments/rotating', { token: own.tokens.reader })).status).toBe(
      404,
    );
    const second = await own.t.credentials.store(
      { vaultId: payments.id, name: 'rotating', type: 'api_key', value: 'v2' },
      own.ctx,
    );
    const r = await reveal('payments/rotating');
    expect(r.body).toMatchObject({ credentialId: second.id, value: 'v2' });
    // The id still names the deleted one.
    expect(
      (await s.call('GET', `/v1/credentials/${first.id}`, { token: own.tokens.reader })).body,
    ).toMatchObject({
      id: first.id,
    });
  });

  it("a rotate by path without a value runs the credential's rotator, its rows naming the credential", async () => {
    const c = await own.t.credentials.store(
      {
        vaultId: payments.id,
        name: 'self-rotating',
        type: 'api_key',
        value: 'first-value-0000000000000000',
        rotation: { rotator: { type: 'random', length: 20 } },
      },
      own.ctx,
    );
    const r = await s.call('POST', '/v1/secrets/payments/self-rotating/rotate', {
      token: own.tokens.writer,
      body: {},
    });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ version: 2, credential: { id: c.id } });
    const rotations = await rows({ credentialId: c.id, action: 'rotate', outcome: 'granted' });
    expect(rotations.length).toBeGreaterThanOrEqual(2); // begun, staged, promoted: each its row
    const missing = await s.call('POST', '/v1/secrets/payments/no-such/rotate', {
      token: own.tokens.writer,
      body: {},
    });
    expect(missing.status).toBe(404);
  });

  it('lists filter by exact name and by prefix, "_" matching only itself', async () => {
    for (const name of ['app_1', 'app-2', 'appx', 'other']) {
      await own.t.credentials.store({ vaultId: ledger.id, name, type: 'api_key', value: 'v' }, own.ctx);
    }
    const names = async (query: string) => {
      const r = await s.call('GET', `/v1/vaults/${ledger.id}/credentials?${query}`, {
        token: own.tokens.reader,
      });
      expect(r.status, r.text).toBe(200);
      return (r.body as { items: { name: string }[] }).items.map((c) => c.name);
    };
    // Sorted here: the order of "-" and "_" is the database collation's.
    expect((await names('prefix=app')).sort()).toEqual(['app-2', 'app_1', 'appx'].sort());
    expect(await names('prefix=app_')).toEqual(['app_1']);
    expect(await names('name=appx')).toEqual(['appx']);
    expect(await names('name=app')).toEqual([]);
    expect(await names('prefix=app&limit=1')).toHaveLength(1);

    const vaults = async (query: string) => {
      const r = await s.call('GET', `/v1/vaults?${query}`, { token: own.tokens.reader });
      expect(r.status, r.text).toBe(200);
      return (r.body as { items: { name: string }[] }).items.map((v) => v.name);
    };
    expect(await vaults('name=payments')).toEqual(['payments']);
    expect(await vaults('prefix=led')).toEqual(['ledger']);
    expect(await vaults('name=treasury')).toEqual([]);
    // Checked by the core, refused with a row: a filter that is no name.
    const bad = await s.call('GET', '/v1/vaults?prefix=%25', { token: own.tokens.reader });
    expect(bad.status).toBe(400);
    const unknown = await s.call('GET', '/v1/vaults?names=x', { token: own.tokens.reader });
    expect(unknown.status).toBe(400);
  });

  it('the library takes a path too, and refuses an input that names a credential two ways', async () => {
    const got = await own.t.credentials.get({ vault: 'payments', name: 'stripe' }, own.ctx);
    expect(got.id).toBe(stripe);
    expect((await own.t.vaults.getByName('payments', own.ctx)).id).toBe(payments.id);
    const both = await own.t
      .run(
        (await import('../../src/core/credential-reads.js')).getCredential,
        { id: stripe, vault: 'payments', name: 'stripe' },
        own.ctx,
      )
      .catch((e: unknown) => e);
    expect(both).toMatchObject({ code: 'VALIDATION' });
    const half = await own.t
      .run((await import('../../src/core/credential-reads.js')).getCredential, { vault: 'payments' }, own.ctx)
      .catch((e: unknown) => e);
    expect(half).toMatchObject({ code: 'VALIDATION' });
  });
});
