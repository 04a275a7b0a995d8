/**
 * Expiry alerts over HTTP: windows on store and PATCH, a vault's default through
 * `PATCH /v1/vaults/{id}`, shown in both metadata; bad windows are a 400 problem naming the field;
 * only roles that may change a vault change its default.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachBackend } from '../helpers/backends.js';
import { seedTenant, startServer, type TestServer } from './helpers.js';

const DAY = 86_400_000;

describeEachBackend('expiry alerts over HTTP', (backend) => {
  let s: TestServer;
  let seed: Awaited<ReturnType<typeof seedTenant>>;
  let vaultId: string;

  beforeAll(async () => {
    s = await startServer(backend);
    seed = await seedTenant(s, 'exp');
    vaultId = (await seed.t.vaults.create({ name: 'v' }, seed.ctx)).id;
  });
  afterAll(() => s.stop());

  const expiresAt = () => new Date(s.clock.now().getTime() + 20 * DAY).toISOString();
  const problemPaths = (body: unknown) =>
    ((body as { issues?: { path: string }[] }).issues ?? []).map((i) => i.path);

  it('store and PATCH take expiryAlerts, shown in the metadata with the windows in effect', async () => {
    const stored = await s.call('POST', `/v1/vaults/${vaultId}/credentials`, {
      token: seed.tokens.writer,
      body: {
        name: 'k',
        type: 'api_key',
        value: 'v1',
        expiresAt: expiresAt(),
        expiryAlerts: ['P14D', 'P2D'],
      },
    });
    expect(stored.status, stored.text).toBe(201);
    expect(stored.body).toMatchObject({
      expiryAlerts: ['P14D', 'P2D'],
      effectiveExpiryAlerts: ['P14D', 'P2D'],
      lastExpiryAlert: null,
    });
    const id = (stored.body as { id: string }).id;
    const patched = await s.call('PATCH', `/v1/credentials/${id}`, {
      token: seed.tokens.writer,
      body: { expiryAlerts: null },
    });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body).toMatchObject({ expiryAlerts: null, effectiveExpiryAlerts: ['P30D', 'P7D', 'P1D'] });
    const off = await s.call('PATCH', `/v1/credentials/${id}`, {
      token: seed.tokens.admin,
      body: { expiryAlerts: [] },
    });
    expect(off.body).toMatchObject({ expiryAlerts: [], effectiveExpiryAlerts: [] });
    const read = await s.call('GET', `/v1/credentials/${id}`, { token: seed.tokens.auditor });
    expect(read.body).toMatchObject({ expiryAlerts: [] });
  });

  it("PATCH /v1/vaults/{id} sets the vault's default; credentials without their own follow it", async () => {
    const vault = await s.call('POST', '/v1/vaults', {
      token: seed.tokens.admin,
      body: { name: 'defaults', expiryAlerts: ['P10D'] },
    });
    expect(vault.status, vault.text).toBe(201);
    expect(vault.body).toMatchObject({ expiryAlerts: ['P10D'] });
    const vid = (vault.body as { id: string }).id;
    const c = await seed.t.credentials.store(
      { vaultId: vid, name: 'inherits', type: 'api_key', value: 'x', expiresAt: new Date(expiresAt()) },
      seed.ctx,
    );
    expect(c.effectiveExpiryAlerts).toEqual(['P10D']);
    for (const role of ['reader', 'auditor'] as const) {
      const denied = await s.call('PATCH', `/v1/vaults/${vid}`, {
        token: seed.tokens[role],
        body: { expiryAlerts: ['P1D'] },
      });
      expect(denied.status, role).toBe(403);
    }
    const updated = await s.call('PATCH', `/v1/vaults/${vid}`, {
      token: seed.tokens.writer,
      body: { expiryAlerts: ['P3D', 'PT12H'] },
    });
    expect(updated.status, updated.text).toBe(200);
    expect(updated.body).toMatchObject({ id: vid, expiryAlerts: ['P3D', 'PT12H'] });
    const after = await s.call('GET', `/v1/credentials/${c.id}`, { token: seed.tokens.reader });
    expect(after.body).toMatchObject({ expiryAlerts: null, effectiveExpiryAlerts: ['P3D', 'PT12H'] });
    const reset = await s.call('PATCH', `/v1/vaults/${vid}`, {
      token: seed.tokens.admin,
      body: { expiryAlerts: null },
    });
    expect(reset.body).toMatchObject({ expiryAlerts: null });
    const missing = await s.call('PATCH', '/v1/vaults/0190d5a0-0000-7000-8000-000000000000', {
      token: seed.tokens.admin,
      body: { expiryAlerts: ['P1D'] },
    });
    expect(missing.status).toBe(404);
  });

  it('bad windows, repeats, too many and unknown fields are a 400 naming the field', async () => {
    const c = await seed.t.credentials.store(
      { vaultId, name: 'bad', type: 'api_key', value: 'x', expiresAt: new Date(expiresAt()) },
      seed.ctx,
    );
    const cases: Array<[string, string, unknown, string]> = [
      [
        'POST',
        `/v1/vaults/${vaultId}/credentials`,
        { name: 'b1', type: 'api_key', value: 'x', expiryAlerts: ['soon'] },
        'expiryAlerts.0',
      ],
      [
        'POST',
        `/v1/vaults/${vaultId}/credentials`,
        { name: 'b2', type: 'api_key', value: 'x', expiryAlerts: 'P7D' },
        'expiryAlerts',
      ],
      ['PATCH', `/v1/credentials/${c.id}`, { expiryAlerts: ['P7D', 'P1W'] }, 'expiryAlerts.1'],
      [
        'PATCH',
        `/v1/credentials/${c.id}`,
        { expiryAlerts: Array.from({ length: 11 }, (_, i) => `PT${i + 1}H`) },
        'expiryAlerts',
      ],
      ['PATCH', `/v1/credentials/${c.id}`, { expiryAlert: ['P7D'] }, 'expiryAlert'],
      ['PATCH', `/v1/vaults/${vaultId}`, { expiryAlerts: ['P1D', 'soon'] }, 'expiryAlerts.1'],
      ['PATCH', `/v1/vaults/${vaultId}`, { expiryAlerts: ['P1D'], maxVersions: 3 }, 'maxVersions'],
      ['POST', '/v1/vaults', { name: 'bad', expiryAlerts: [7] }, 'expiryAlerts.0'],
    ];
    for (const [method, path, body, field] of cases) {
      const r = await s.call(method, path, { token: seed.tokens.admin, body });
      expect(r.status, `${method} ${path} ${JSON.stringify(body)}: ${r.text}`).toBe(400);
      expect(r.body).toMatchObject({ code: 'VALIDATION' });
      expect(problemPaths(r.body), JSON.stringify(body)).toContain(field);
    }
  });
});
