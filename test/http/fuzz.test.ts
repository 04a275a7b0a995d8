/**
 * Property-based fuzzing of every route: random ids, bodies and headers. The service answers
 * with 4xx problem documents only, never a 5xx, and a secret canary never comes back or reaches a log.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CREDENTIAL_TYPES } from '../../src/core/types.js';
import { describeEachBackend } from '../helpers/backends.js';
import { captureLogs } from '../helpers/logs.js';
import { seedTenant, startServer, type TestServer } from './helpers.js';

const CANARY = 'CANARY-f00d-http-never-echo';
const printable = (max: number) => fc.stringMatching(new RegExp(`^[\\x20-\\x7e]{0,${max}}$`));

describeEachBackend('HTTP fuzzing', (backend) => {
  let s: TestServer;
  let admin: string;
  let platform: string;
  let ids: { vault: string; credential: string; token: string; tenant: string };
  let logs: () => string;

  beforeAll(async () => {
    const captured = captureLogs('info');
    logs = captured.text;
    s = await startServer(backend, { logger: captured.logger });
    platform = (await s.registry.authenticator.bootstrap())!;
    const seed = await seedTenant(s, 'fuzz');
    admin = seed.tokens.admin;
    const vault = await seed.t.vaults.create({ name: 'v' }, seed.ctx);
    const credential = await seed.t.credentials.store(
      { vaultId: vault.id, name: 'c', type: 'api_key', value: 'x' },
      seed.ctx,
    );
    const token = await seed.t.tokens.create({ principalId: seed.principal.id, role: 'reader' }, seed.ctx);
    ids = { vault: vault.id, credential: credential.id, token: token.apiToken.id, tenant: seed.tenant.id };
  });
  afterAll(() => s.stop());

  const secretValue = fc.oneof(
    fc.constant(CANARY),
    fc.record({ username: fc.string(), password: fc.constant(CANARY) }),
    fc.record({ client_id: fc.string(), client_secret: fc.constant(CANARY), extra: fc.constant(CANARY) }),
    fc.dictionary(fc.constant(CANARY), fc.constant(CANARY)),
  );
  const idSegment = fc.oneof(
    { arbitrary: fc.constantFrom('VAULT', 'CRED', 'TOKEN', 'TENANT'), weight: 4 },
    fc.uuid(),
    printable(60),
    fc.constantFrom('..', '%00', "' OR '1'='1", '00000000-0000-0000-0000-000000000000'),
  );
  const body = fc.oneof(
    fc.jsonValue(),
    fc.record(
      {
        name: fc.oneof(fc.string(), printable(120)),
        type: fc.oneof(fc.constantFrom(...CREDENTIAL_TYPES), fc.string()),
        value: fc.oneof(secretValue, fc.jsonValue()),
        reason: fc.oneof(fc.string(), fc.jsonValue()),
        version: fc.oneof(fc.integer(), fc.jsonValue()),
        expectedVersion: fc.oneof(fc.integer(), fc.string()),
        metadata: fc.jsonValue(),
        expiresAt: fc.oneof(
          fc.string(),
          fc.date().map((d) => (Number.isNaN(d.getTime()) ? 'x' : d.toISOString())),
        ),
        rotationSchedule: fc.string(),
        principalId: idSegment,
        role: fc.oneof(fc.constantFrom('admin', 'reader'), fc.string()),
        vaultId: idSegment,
        kind: fc.string(),
        active: fc.jsonValue(),
        maxVersions: fc.jsonValue(),
      },
      { requiredKeys: [] },
    ),
  );
  const request = fc.record({
    route: fc.constantFrom(
      ['POST', '/v1/tenants'],
      ['GET', '/v1/tenants?limit={id}&cursor={id}'],
      ['POST', '/v1/tenants/{id}/tokens'],
      ['POST', '/v1/principals'],
      ['GET', '/v1/principals?cursor={id}'],
      ['POST', '/v1/tokens'],
      ['GET', '/v1/tokens?limit={id}'],
      ['DELETE', '/v1/tokens/{id}'],
      ['POST', '/v1/vaults'],
      ['GET', '/v1/vaults?cursor={id}'],
      ['GET', '/v1/vaults/{id}'],
      ['DELETE', '/v1/vaults/{id}?force={id}'],
      ['POST', '/v1/vaults/{id}/credentials'],
      ['GET', '/v1/vaults/{id}/credentials?includeDeleted={id}'],
      ['GET', '/v1/credentials/{id}'],
      ['PATCH', '/v1/credentials/{id}'],
      ['DELETE', '/v1/credentials/{id}?recoveryWindowDays={id}'],
      ['POST', '/v1/credentials/{id}/restore'],
      ['POST', '/v1/credentials/{id}/reveal'],
      ['POST', '/v1/credentials/{id}/rotate'],
      ['GET', '/v1/credentials/{id}/versions'],
      ['GET', '/v1/audit?action={id}&from={id}&credentialId={id}'],
      ['PUT', '/v1/vaults'],
      ['GET', '/v1/{id}'],
    ),
    id: idSegment,
    body: fc.option(body, { nil: undefined }),
    rawBody: fc.option(printable(80), { nil: undefined }),
    requestId: fc.option(printable(200), { nil: undefined }),
    userAgent: fc.option(printable(600), { nil: undefined }),
    platformToken: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  });

  it('every answer is 2xx or a 4xx problem document; never a 5xx; the canary never comes back', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const [method, template] = r.route as [string, string];
        const real = {
          VAULT: ids.vault,
          CRED: ids.credential,
          TOKEN: ids.token,
          TENANT: ids.tenant,
        } as Record<string, string>;
        const segment = encodeURIComponent(real[r.id] ?? r.id);
        const path = template.replaceAll('{id}', segment);
        const headers: Record<string, string> = {};
        if (r.requestId !== undefined) headers['x-request-id'] = r.requestId;
        if (r.userAgent !== undefined) headers['user-agent'] = r.userAgent;
        const body = r.rawBody !== undefined && r.body === undefined ? r.rawBody : r.body;
        const res = await s.call(method, path, {
          token: r.platformToken ? platform : admin,
          ...(body !== undefined && method !== 'GET' && method !== 'DELETE' ? { body } : {}),
          headers,
        });
        expect(res.status, `${method} ${path} -> ${res.text.slice(0, 300)}`).toBeLessThan(500);
        if (res.status >= 400) {
          expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
          expect(res.body).toMatchObject({ status: res.status, code: expect.any(String) });
        }
        expect(res.text).not.toContain(CANARY);
      }),
      { numRuns: 400, seed: 20261124 },
    );
    expect(logs().length).toBeGreaterThan(0);
    expect(logs()).not.toContain(CANARY);
  });
});
