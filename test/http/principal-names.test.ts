/**
 * Names for people where the API answers with ids: the principal's name beside each access-log
 * actor and version creator (a LEFT JOIN, null when the actor is no principal), and tenants found
 * by their exact name on the platform listing.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachBackend } from '../helpers/backends.js';
import { seedTenant, startServer, type TestServer } from './helpers.js';

type Seed = Awaited<ReturnType<typeof seedTenant>>;
interface LogEntry {
  action: string;
  actor: string;
  actorName: string | null;
}
interface Version {
  version: number;
  createdBy: string;
  createdByName: string | null;
}

describeEachBackend('principal names beside ids, tenants by name', (backend) => {
  let s: TestServer;
  let own: Seed;
  let other: Seed;
  let platform: string;
  let credentialId: string;

  beforeAll(async () => {
    s = await startServer(backend);
    platform = (await s.registry.authenticator.bootstrap())!;
    own = await seedTenant(s, 'acme');
    other = await seedTenant(s, 'acme-two');
    const token = own.tokens.admin;
    const vault = await s.call('POST', '/v1/vaults', { token, body: { name: 'payments' } });
    expect(vault.status).toBe(201);
    const stored = await s.call('POST', `/v1/vaults/${(vault.body as { id: string }).id}/credentials`, {
      token,
      body: { name: 'stripe', type: 'api_key', value: 'sk_live_names' },
    });
    expect(stored.status).toBe(201);
    credentialId = (stored.body as { id: string }).id;
  });
  afterAll(() => s.stop());

  it('a version listing names the principal who made each version, and null for an in-process actor', async () => {
    // One version through the library, whose actor ('seed') is no principal's id.
    await own.t.credentials.rotate(credentialId, 'sk_live_names_2', own.ctx);
    const r = await s.call('GET', `/v1/credentials/${credentialId}/versions`, { token: own.tokens.reader });
    expect(r.status).toBe(200);
    const items = (r.body as { items: Version[] }).items;
    expect(items.map((v) => [v.version, v.createdBy, v.createdByName])).toEqual([
      [2, 'seed', null],
      [1, own.principal.id, 'ops'],
    ]);
    const byPath = await s.call('GET', '/v1/secrets/payments/stripe/versions', { token: own.tokens.reader });
    expect((byPath.body as { items: Version[] }).items).toEqual(items);
  });

  it("an access-log listing names each principal actor, and null for a platform caller's", async () => {
    const reveal = await s.call('POST', `/v1/credentials/${credentialId}/reveal`, {
      token: own.tokens.reader,
      body: { reason: 'names test' },
    });
    expect(reveal.status).toBe(200);
    const minted = await s.call('POST', `/v1/tenants/${own.tenant.id}/tokens`, {
      token: platform,
      body: { name: 'break-glass' },
    });
    expect(minted.status).toBe(201);

    const r = await s.call('GET', '/v1/audit?limit=100', { token: own.tokens.auditor });
    expect(r.status).toBe(200);
    const items = (r.body as { items: LogEntry[] }).items;
    expect(items.find((e) => e.action === 'reveal')).toMatchObject({
      actor: own.principal.id,
      actorName: 'ops',
    });
    expect(items.find((e) => e.actor === 'platform:bootstrap')).toMatchObject({ actorName: null });
    expect(items.find((e) => e.actor === 'seed')).toMatchObject({ actorName: null });
    // Every principal actor is named; nothing else is.
    for (const e of items) expect(e.actorName === null).toBe(e.actor !== own.principal.id);
  });

  it("a name comes from the entry's own tenant only: another tenant's principal id is no name here", async () => {
    // A principal of a distinct name in this tenant, then rows in the *other* tenant whose actor and
    // creator are that principal's id: a join that crossed tenants would name them.
    const named = await own.t.principals.create({ name: 'only-in-acme', kind: 'user' }, own.ctx);
    const foreignActor = { actor: named.id };
    const vault = await other.t.vaults.create({ name: 'theirs' }, foreignActor);
    const cred = await other.t.credentials.store(
      { vaultId: vault.id, name: 'k', type: 'api_key', value: 'sk_other' },
      foreignActor,
    );
    const log = await s.call('GET', '/v1/audit?limit=100', { token: other.tokens.auditor });
    const mine = (log.body as { items: LogEntry[] }).items.filter((e) => e.actor === named.id);
    expect(mine.length).toBeGreaterThan(0);
    for (const e of mine) expect(e.actorName).toBeNull();
    const versions = await s.call('GET', `/v1/credentials/${cred.id}/versions`, {
      token: other.tokens.auditor,
    });
    expect((versions.body as { items: Version[] }).items).toEqual([
      expect.objectContaining({ createdBy: named.id, createdByName: null }),
    ]);
    // In its own tenant the same id is named.
    await own.t.vaults.create({ name: 'mine-too' }, foreignActor);
    const ownLog = await s.call('GET', '/v1/audit?limit=100', { token: own.tokens.auditor });
    expect((ownLog.body as { items: LogEntry[] }).items.find((e) => e.actor === named.id)).toMatchObject({
      actorName: 'only-in-acme',
    });
  });

  it('GET /v1/tenants?name= answers the one tenant of that exact name, or none', async () => {
    const list = (q: string) => s.call('GET', `/v1/tenants?${q}`, { token: platform });
    const exact = await list('name=acme');
    expect(exact.status).toBe(200);
    expect(exact.body).toEqual({
      items: [{ id: own.tenant.id, name: 'acme', createdAt: own.tenant.createdAt.toISOString() }],
      nextCursor: null,
    });
    // Exact: not a prefix, not another case.
    for (const q of ['name=acm', 'name=ACME', 'name=acme%20', `name=${'x'.repeat(500)}`]) {
      const r = await list(q);
      expect(r.status, q).toBe(200);
      expect((r.body as { items: unknown[] }).items, q).toEqual([]);
    }
    const all = await list('limit=10');
    expect((all.body as { items: { name: string }[] }).items.map((t) => t.name)).toEqual([
      'acme',
      'acme-two',
    ]);
  });

  it('GET /v1/tenants?name= refuses a name longer than any tenant could have (400, naming the field)', async () => {
    const r = await s.call('GET', `/v1/tenants?name=${'x'.repeat(1001)}`, { token: platform });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ code: 'VALIDATION', issues: [{ path: 'name' }] });
  });

  it('GET /v1/tenants?name= refuses a tenant token (403), like the listing', async () => {
    const r = await s.call('GET', '/v1/tenants?name=acme', { token: own.tokens.admin });
    expect(r.status).toBe(403);
  });

  it('GET /v1/tenants/{id} answers the tenant; an unknown id 404, a malformed one 400', async () => {
    const r = await s.call('GET', `/v1/tenants/${own.tenant.id}`, { token: platform });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: own.tenant.id, name: 'acme' });
    const missing = await s.call('GET', '/v1/tenants/00000000-0000-4000-8000-000000000000', {
      token: platform,
    });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/application\/problem\+json/);
    const malformed = await s.call('GET', '/v1/tenants/acme', { token: platform });
    expect(malformed.status).toBe(400);
    const tenantToken = await s.call('GET', `/v1/tenants/${own.tenant.id}`, { token: own.tokens.admin });
    expect(tenantToken.status).toBe(403);
  });
});
