/**
 * Cases found in review: each once answered a 500, half-applied a change, or slipped past a limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEachBackend } from '../helpers/backends.js';
import { seedTenant, startServer, type TestServer } from './helpers.js';

const FAR_FUTURE = '+010000-01-01T00:00:00Z';

describeEachBackend('HTTP edge cases', (backend) => {
  let s: TestServer;
  let seed: Awaited<ReturnType<typeof seedTenant>>;
  let vaultId: string;
  let credentialId: string;
  let platform: string;

  beforeAll(async () => {
    s = await startServer(backend);
    platform = (await s.registry.authenticator.bootstrap())!;
    seed = await seedTenant(s, 'edges');
    vaultId = (await seed.t.vaults.create({ name: 'v' }, seed.ctx)).id;
    credentialId = (
      await seed.t.credentials.store({ vaultId, name: 'c', type: 'api_key', value: 'x' }, seed.ctx)
    ).id;
  });
  afterAll(() => s.stop());

  it('actions that take no body refuse a field in one (400 naming it) and still take none or {}', async () => {
    const admin = seed.tokens.admin;
    const webhookId = (
      (await s.call('POST', '/v1/webhooks', { token: admin, body: { url: 'https://example.com/hook' } }))
        .body as { id: string }
    ).id;
    const actions: [string, string][] = [
      [`/v1/credentials/${credentialId}/restore`, admin],
      [`/v1/credentials/${credentialId}/rotation/signing-secret`, admin],
      [`/v1/vaults/${vaultId}/keys/rotate`, admin],
      [`/v1/webhooks/${webhookId}/test`, admin],
      [`/v1/webhooks/${webhookId}/enable`, admin],
      ['/v1/keys/rotate-root', platform],
    ];
    for (const [path, token] of actions) {
      const res = await s.call('POST', path, { token, body: { force: true } });
      expect(res.status, `${path}: ${res.text}`).toBe(400);
      expect(
        (res.body as { issues: { path: string }[] }).issues.map((i) => i.path),
        path,
      ).toEqual(['force']);
    }
    // {} is no field at all: the action's own answer (here: not deleted, no signing secret, done).
    expect(
      (await s.call('POST', `/v1/credentials/${credentialId}/restore`, { token: admin, body: {} })).status,
    ).toBe(409);
    const rotated = await s.call('POST', `/v1/vaults/${vaultId}/keys/rotate`, { token: admin });
    expect(rotated.status, rotated.text).toBe(200);
  });

  it('dates outside ISO 8601 (years past 9999, bare numbers) are 400 everywhere, and nothing is written', async () => {
    const admin = seed.tokens.admin;
    const attempts = [
      s.call('POST', `/v1/vaults/${vaultId}/credentials`, {
        token: admin,
        body: { name: 'far', type: 'api_key', value: 'x', expiresAt: FAR_FUTURE },
      }),
      s.call('PATCH', `/v1/credentials/${credentialId}`, { token: admin, body: { expiresAt: FAR_FUTURE } }),
      s.call('POST', `/v1/credentials/${credentialId}/rotate`, {
        token: admin,
        body: { value: 'y', expiresAt: FAR_FUTURE },
      }),
      s.call('POST', '/v1/tokens', {
        token: admin,
        body: { principalId: seed.principal.id, role: 'reader', expiresAt: FAR_FUTURE },
      }),
      s.call('GET', '/v1/audit?from=-100000-01-01T00:00:00Z', { token: admin }),
      s.call('GET', '/v1/audit?from=2024', { token: admin }),
    ];
    for (const r of await Promise.all(attempts)) expect(r.status, r.text).toBe(400);
    expect((await s.call('GET', `/v1/vaults/${vaultId}/credentials`, { token: admin })).status).toBe(200);
    expect((await s.call('GET', '/v1/tokens', { token: admin })).status).toBe(200);
    expect((await seed.t.credentials.get(credentialId)).currentVersion).toBe(1);
  });

  it('the core refuses dates past year 9999 too, for library callers', async () => {
    const far = new Date(Date.UTC(10000, 0, 1));
    await expect(
      seed.t.credentials.store(
        { vaultId, name: 'far2', type: 'api_key', value: 'x', expiresAt: far },
        seed.ctx,
      ),
    ).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(seed.t.credentials.update(credentialId, { expiresAt: far }, seed.ctx)).rejects.toMatchObject(
      { code: 'VALIDATION' },
    );
  });

  it('PATCH validates the whole change before writing any of it', async () => {
    const r = await s.call('PATCH', `/v1/credentials/${credentialId}`, {
      token: seed.tokens.writer,
      body: { active: false, expiresAt: '2000-01-01T00:00:00Z' },
    });
    expect(r.status).toBe(400);
    expect((await seed.t.credentials.get(credentialId)).isActive).toBe(true);
    const ok = await s.call('PATCH', `/v1/credentials/${credentialId}`, {
      token: seed.tokens.writer,
      body: { active: false, metadata: { paused: true } },
    });
    expect(ok.body).toMatchObject({ isActive: false, metadata: { paused: true } });
    await s.call('PATCH', `/v1/credentials/${credentialId}`, {
      token: seed.tokens.writer,
      body: { active: true },
    });
  });

  it('a garbage principal cursor is 400, not 500', async () => {
    const r = await s.call('GET', '/v1/principals?cursor=AA', { token: seed.tokens.admin });
    expect(r.status).toBe(400);
  });

  it('a refusal on an odd-looking id is still logged', async () => {
    const odd = '-'.repeat(36);
    const r = await s.call('POST', `/v1/credentials/${odd}/rotate`, {
      token: seed.tokens.reader,
      body: { value: 'x' },
    });
    expect(r.status).toBe(403);
    const [row] = (await seed.t.audit.query({ action: 'rotate', outcome: 'denied', limit: 1 })).items;
    expect(row).toMatchObject({ credentialId: null, errorCode: 'FORBIDDEN' });
  });

  it('a vault-scoped token reaches its vault over HTTP and nothing else: outside it, a missing id; the denials are logged', async () => {
    const other = await seed.t.vaults.create({ name: 'elsewhere' }, seed.ctx);
    const there = await seed.t.credentials.store(
      { vaultId: other.id, name: 'c', type: 'api_key', value: 'x' },
      seed.ctx,
    );
    const { token } = await seed.t.tokens.create(
      { principalId: seed.principal.id, role: 'reader', vaultId },
      seed.ctx,
    );
    const reveal = (id: string) =>
      s.call('POST', `/v1/credentials/${id}/reveal`, { token, body: { reason: 'scoped' } });
    expect((await reveal(credentialId)).status).toBe(200);
    // Outside its vault it is answered exactly as for an id that does not exist.
    const outside = await reveal(there.id);
    const missing = await reveal('01890000-0000-7000-8000-00000000dead');
    expect(outside.status).toBe(404);
    const strip = (b: unknown) => ({ ...(b as object), requestId: undefined });
    expect(strip(outside.body)).toEqual(strip(missing.body));
    expect((await s.call('GET', `/v1/vaults/${other.id}/credentials`, { token })).status).toBe(404);
    const listed = (await s.call('GET', '/v1/vaults', { token })).body as { items: Array<{ id: string }> };
    expect(listed.items.map((v) => v.id)).toEqual([vaultId]);
    const [row] = (await seed.t.audit.query({ credentialId: there.id, outcome: 'denied', limit: 1 })).items;
    expect(row).toMatchObject({ action: 'reveal', errorCode: 'FORBIDDEN' });
  });

  it('a tenant token refused on a platform route leaves a denied row in its own tenant, for every role', async () => {
    for (const role of ['admin', 'writer', 'reader', 'auditor'] as const) {
      const r = await s.call('GET', '/v1/tenants', { token: seed.tokens[role] });
      expect(r.status).toBe(403);
    }
    const rows = (await seed.t.audit.query({ action: 'platform_access', limit: 10 })).items;
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      expect(row).toMatchObject({ outcome: 'denied', errorCode: 'FORBIDDEN', reason: 'GET /v1/tenants' });
    }
  });

  it('a scoped admin cannot mint tokens, and is told why', async () => {
    const { token } = await seed.t.tokens.create(
      { principalId: seed.principal.id, role: 'admin', vaultId },
      seed.ctx,
    );
    const r = await s.call('POST', '/v1/tokens', {
      token,
      body: { principalId: seed.principal.id, role: 'admin' },
    });
    expect(r.status).toBe(403);
    expect((r.body as { detail: string }).detail).toMatch(/limited to one vault/);
  });

  it('the platform admin can mint a token of any role for a tenant, logged in that tenant', async () => {
    const r = await s.call('POST', `/v1/tenants/${seed.tenant.id}/tokens`, {
      token: platform,
      body: { name: 'auditor-1', role: 'auditor' },
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ role: 'auditor', tenantId: seed.tenant.id });
    const actions = (await seed.t.audit.query({ limit: 5 })).items.map((e) => `${e.action}:${e.actor}`);
    expect(actions).toContain('token_create:platform:bootstrap');
    expect(actions).toContain('principal_create:platform:bootstrap');
  });

  it('the auth scheme is case-insensitive', async () => {
    const r = await fetch(`${s.base}/v1/vaults`, {
      headers: { authorization: `bearer ${seed.tokens.admin}` },
    });
    expect(r.status).toBe(200);
  });

  it('JSON nested 5,000 deep in metadata or a value, and U+0000 in a reason, are 400s, never 500s', async () => {
    const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    const store = (field: string) =>
      s.call('POST', `/v1/vaults/${vaultId}/credentials`, {
        token: seed.tokens.admin,
        body: `{"name":"deep","type":"basic_auth","value":${field === 'value' ? deep : '{"username":"u","password":"p"}'},"metadata":${field === 'metadata' ? deep : '{}'}}`,
      });
    for (const field of ['metadata', 'value']) expect((await store(field)).status, field).toBe(400);
    const nul = await s.call('POST', `/v1/credentials/${credentialId}/reveal`, {
      token: seed.tokens.reader,
      body: { reason: 'a\u0000b' },
    });
    expect(nul.status).toBe(400);
    const [row] = (await seed.t.audit.query({ credentialId, action: 'reveal', limit: 1 })).items;
    expect(row).toMatchObject({ outcome: 'invalid', reason: 'a\uFFFDb' });
  });

  it('an unknown field in any body is refused with a 400 that names it, and nothing is written', async () => {
    const admin = seed.tokens.admin;
    const before = (await seed.t.audit.query({ limit: 200 })).items.filter(
      (e) => e.outcome === 'granted',
    ).length;
    const attempts: [string, string, string | null, Record<string, unknown>][] = [
      ['POST', '/v1/tenants', platform, { name: 'typo', rotation: {} }],
      ['POST', `/v1/tenants/${seed.tenant.id}/tokens`, platform, { name: 'x', role: 'admin', scope: 'all' }],
      ['POST', '/v1/principals', admin, { name: 'p', kind: 'user', email: 'x' }],
      ['POST', '/v1/tokens', admin, { principalId: seed.principal.id, role: 'reader', ttl: 5 }],
      ['POST', '/v1/vaults', admin, { name: 'typo', maxversions: 3 }],
      [
        'POST',
        `/v1/vaults/${vaultId}/credentials`,
        admin,
        { name: 'n', type: 'api_key', value: 'x', rotator: { type: 'random' } },
      ],
      ['PATCH', `/v1/credentials/${credentialId}`, admin, { expiryAlert: [] }],
      ['POST', `/v1/credentials/${credentialId}/rotate`, admin, { value: 'y', expectedversion: 1 }],
      ['POST', `/v1/credentials/${credentialId}/reveal`, seed.tokens.reader, { reason: 'r', verison: 1 }],
    ];
    for (const [method, path, token, body] of attempts) {
      const unknown = Object.keys(body).at(-1)!;
      const r = await s.call(method, path, { ...(token ? { token } : {}), body });
      expect(r.status, `${method} ${path}`).toBe(400);
      expect(r.body, `${method} ${path}`).toMatchObject({
        code: 'VALIDATION',
        issues: expect.arrayContaining([{ path: unknown, problem: 'is not a known field' }]),
      });
    }
    const after = (await seed.t.audit.query({ limit: 200 })).items.filter(
      (e) => e.outcome === 'granted',
    ).length;
    expect(after).toBe(before);
    expect((await seed.t.vaults.list()).items.map((v) => v.name)).not.toContain('typo');
    expect((await s.registry.tenants.list()).items.map((t) => t.name)).not.toContain('typo');
  });
});

describe('rate limiting without a valid token', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer((await import('../helpers/backends.js')).BACKENDS[0]!, { rateLimitPerMinute: 2 });
  });
  afterAll(() => s.stop());

  it('a flood of missing or random tokens from one address is cut off with 429', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) {
      statuses.push(
        (
          await s.call(
            'GET',
            '/v1/vaults',
            i % 2 ? { token: `crt.${'0'.repeat(32)}.${'1'.repeat(32)}.${'x'.repeat(43)}` } : {},
          )
        ).status,
      );
    }
    expect(statuses.slice(0, 20).every((st) => st === 401)).toBe(true);
    expect(statuses.slice(20).every((st) => st === 429)).toBe(true);
  });
});
