/**
 * Every route × every kind of caller, over real HTTP: the status codes, and that another tenant's
 * ids answer exactly like ids that do not exist.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Capability } from '../../src/core/authorization.js';
import { newId } from '../../src/core/ids.js';
import type { Role } from '../../src/core/types.js';
import { describeEachBackend } from '../helpers/backends.js';
import { seedTenant, startServer, type TestServer } from './helpers.js';

type Seed = Awaited<ReturnType<typeof seedTenant>>;
/** Fresh resources of one tenant for one request, so destructive routes never disturb each other. */
interface Fixture {
  vault: string;
  /** The vault's name, and the path name of `credential` in it. */
  vaultName: string;
  credentialName: string;
  credential: string;
  /** A credential rotated by the webhook rotator, so it has a signing secret. */
  hooked: string;
  deleted: string;
  token: string;
  principal: string;
  tenant: string;
  webhook: string;
  auditSink: string;
}

interface Route {
  name: string;
  method: string;
  path: (f: Fixture) => string;
  body?: (f: Fixture) => unknown;
  /** null: platform-admin route. */
  permission: Capability | null;
  ok: number;
  /** Names a resource by id or by name: another tenant's, or a missing one, must answer 404. */
  byId: boolean;
}

let n = 0;
const unique = (p: string) => `${p}-${++n}`;

const ROUTES: Route[] = [
  {
    name: 'create tenant',
    method: 'POST',
    path: () => '/v1/tenants',
    body: () => ({ name: unique('t') }),
    permission: null,
    ok: 201,
    byId: false,
  },
  { name: 'list tenants', method: 'GET', path: () => '/v1/tenants', permission: null, ok: 200, byId: false },
  {
    name: 'get a tenant',
    method: 'GET',
    path: (f) => `/v1/tenants/${f.tenant}`,
    permission: null,
    ok: 200,
    byId: false,
  },
  {
    name: 'first admin of a tenant',
    method: 'POST',
    path: (f) => `/v1/tenants/${f.tenant}/tokens`,
    body: () => ({ name: unique('adm') }),
    permission: null,
    ok: 201,
    byId: false,
  },
  {
    name: 'rotate the root key',
    method: 'POST',
    path: () => '/v1/keys/rotate-root',
    permission: null,
    ok: 200,
    byId: false,
  },
  {
    name: 'root key status',
    method: 'GET',
    path: () => '/v1/keys/root',
    permission: null,
    ok: 200,
    byId: false,
  },
  {
    name: 'create principal',
    method: 'POST',
    path: () => '/v1/principals',
    body: () => ({ name: unique('p'), kind: 'service' }),
    permission: 'principals:manage',
    ok: 201,
    byId: false,
  },
  {
    name: 'list principals',
    method: 'GET',
    path: () => '/v1/principals',
    permission: 'principals:manage',
    ok: 200,
    byId: false,
  },
  {
    name: 'create token',
    method: 'POST',
    path: () => '/v1/tokens',
    body: (f) => ({ principalId: f.principal, role: 'reader' }),
    permission: 'tokens:manage',
    ok: 201,
    byId: true,
  },
  {
    name: 'list tokens',
    method: 'GET',
    path: () => '/v1/tokens',
    permission: 'tokens:manage',
    ok: 200,
    byId: false,
  },
  {
    name: 'revoke token',
    method: 'DELETE',
    path: (f) => `/v1/tokens/${f.token}`,
    permission: 'tokens:manage',
    ok: 204,
    byId: true,
  },
  {
    name: 'create vault',
    method: 'POST',
    path: () => '/v1/vaults',
    body: () => ({ name: unique('v') }),
    permission: 'vaults:create',
    ok: 201,
    byId: false,
  },
  {
    name: 'list vaults',
    method: 'GET',
    path: () => '/v1/vaults',
    permission: 'vaults:read',
    ok: 200,
    byId: false,
  },
  {
    name: 'get vault',
    method: 'GET',
    path: (f) => `/v1/vaults/${f.vault}`,
    permission: 'vaults:read',
    ok: 200,
    byId: true,
  },
  {
    name: 'update vault',
    method: 'PATCH',
    path: (f) => `/v1/vaults/${f.vault}`,
    body: () => ({ expiryAlerts: ['P14D', 'P1D'] }),
    permission: 'vaults:write',
    ok: 200,
    byId: true,
  },
  {
    name: 'delete vault',
    method: 'DELETE',
    path: (f) => `/v1/vaults/${f.vault}?force=true`,
    permission: 'vaults:write',
    ok: 204,
    byId: true,
  },
  {
    name: 'store credential',
    method: 'POST',
    path: (f) => `/v1/vaults/${f.vault}/credentials`,
    body: () => ({ name: unique('c'), type: 'api_key', value: 'v' }),
    permission: 'credentials:write',
    ok: 201,
    byId: true,
  },
  {
    name: 'list credentials',
    method: 'GET',
    path: (f) => `/v1/vaults/${f.vault}/credentials`,
    permission: 'credentials:read',
    ok: 200,
    byId: true,
  },
  {
    name: 'get credential',
    method: 'GET',
    path: (f) => `/v1/credentials/${f.credential}`,
    permission: 'credentials:read',
    ok: 200,
    byId: true,
  },
  {
    name: 'update credential',
    method: 'PATCH',
    path: (f) => `/v1/credentials/${f.credential}`,
    body: () => ({ metadata: { team: 'x' } }),
    permission: 'credentials:write',
    ok: 200,
    byId: true,
  },
  {
    name: 'delete credential',
    method: 'DELETE',
    path: (f) => `/v1/credentials/${f.credential}`,
    permission: 'credentials:write',
    ok: 200,
    byId: true,
  },
  {
    name: 'restore credential',
    method: 'POST',
    path: (f) => `/v1/credentials/${f.deleted}/restore`,
    permission: 'credentials:write',
    ok: 200,
    byId: true,
  },
  {
    name: 'reveal',
    method: 'POST',
    path: (f) => `/v1/credentials/${f.credential}/reveal`,
    body: () => ({ reason: 'matrix' }),
    permission: 'credentials:reveal',
    ok: 200,
    byId: true,
  },
  {
    name: 'rotate',
    method: 'POST',
    path: (f) => `/v1/credentials/${f.credential}/rotate`,
    body: () => ({ value: 'w' }),
    permission: 'credentials:write',
    ok: 200,
    byId: true,
  },
  {
    name: 'replace the signing secret',
    method: 'POST',
    path: (f) => `/v1/credentials/${f.hooked}/rotation/signing-secret`,
    permission: 'credentials:write',
    ok: 200,
    byId: true,
  },
  {
    name: 'list versions',
    method: 'GET',
    path: (f) => `/v1/credentials/${f.credential}/versions`,
    permission: 'credentials:read',
    ok: 200,
    byId: true,
  },
  {
    name: 'get vault by name',
    method: 'GET',
    path: (f) => `/v1/vaults/by-name/${f.vaultName}`,
    permission: 'vaults:read',
    ok: 200,
    byId: true,
  },
  {
    name: 'get credential by path',
    method: 'GET',
    path: (f) => `/v1/secrets/${f.vaultName}/${f.credentialName}`,
    permission: 'credentials:read',
    ok: 200,
    byId: true,
  },
  {
    name: 'reveal by path',
    method: 'POST',
    path: (f) => `/v1/secrets/${f.vaultName}/${f.credentialName}/reveal`,
    body: () => ({ reason: 'matrix' }),
    permission: 'credentials:reveal',
    ok: 200,
    byId: true,
  },
  {
    name: 'rotate by path',
    method: 'POST',
    path: (f) => `/v1/secrets/${f.vaultName}/${f.credentialName}/rotate`,
    body: () => ({ value: 'rotated' }),
    permission: 'credentials:write',
    ok: 200,
    byId: true,
  },
  {
    name: 'list versions by path',
    method: 'GET',
    path: (f) => `/v1/secrets/${f.vaultName}/${f.credentialName}/versions`,
    permission: 'credentials:read',
    ok: 200,
    byId: true,
  },
  {
    name: 'vault key status',
    method: 'GET',
    path: (f) => `/v1/vaults/${f.vault}/keys`,
    permission: 'keys:manage',
    ok: 200,
    byId: true,
  },
  {
    name: 'rotate a vault key',
    method: 'POST',
    path: (f) => `/v1/vaults/${f.vault}/keys/rotate`,
    permission: 'keys:manage',
    ok: 200,
    byId: true,
  },
  {
    name: 're-wrap data keys',
    method: 'POST',
    path: (f) => `/v1/vaults/${f.vault}/keys/rewrap`,
    body: () => ({}),
    permission: 'keys:manage',
    ok: 200,
    byId: true,
  },
  {
    name: 'subscribe a webhook',
    method: 'POST',
    path: () => '/v1/webhooks',
    body: () => ({ url: 'https://hooks.example.com/in' }),
    permission: 'webhooks:manage',
    ok: 201,
    byId: false,
  },
  {
    name: 'list webhooks',
    method: 'GET',
    path: () => '/v1/webhooks',
    permission: 'webhooks:manage',
    ok: 200,
    byId: false,
  },
  {
    name: 'get a webhook',
    method: 'GET',
    path: (f) => `/v1/webhooks/${f.webhook}`,
    permission: 'webhooks:manage',
    ok: 200,
    byId: true,
  },
  {
    name: "a webhook's deliveries",
    method: 'GET',
    path: (f) => `/v1/webhooks/${f.webhook}/deliveries`,
    permission: 'webhooks:manage',
    ok: 200,
    byId: true,
  },
  {
    name: 'test a webhook',
    method: 'POST',
    path: (f) => `/v1/webhooks/${f.webhook}/test`,
    permission: 'webhooks:manage',
    ok: 202,
    byId: true,
  },
  {
    name: 'enable a webhook',
    method: 'POST',
    path: (f) => `/v1/webhooks/${f.webhook}/enable`,
    permission: 'webhooks:manage',
    ok: 200,
    byId: true,
  },
  {
    name: 'unsubscribe a webhook',
    method: 'DELETE',
    path: (f) => `/v1/webhooks/${f.webhook}`,
    permission: 'webhooks:manage',
    ok: 204,
    byId: true,
  },
  {
    name: 'read the access log',
    method: 'GET',
    path: () => '/v1/audit',
    permission: 'audit:read',
    ok: 200,
    byId: false,
  },
  {
    name: "list the audit log's checkpoint keys",
    method: 'GET',
    path: () => '/v1/audit/keys',
    permission: 'audit:read',
    ok: 200,
    byId: false,
  },
  {
    name: 'get a signed checkpoint of the audit log',
    method: 'GET',
    path: () => '/v1/audit/checkpoint',
    permission: 'audit:read',
    ok: 200,
    byId: false,
  },
  {
    name: 'get an inclusion proof',
    method: 'GET',
    path: () => '/v1/audit/proof?index=0&treeSize=1',
    permission: 'audit:read',
    ok: 200,
    byId: false,
  },
  {
    name: 'get a consistency proof',
    method: 'GET',
    path: () => '/v1/audit/consistency?from=1&to=1',
    permission: 'audit:read',
    ok: 200,
    byId: false,
  },
  {
    name: "export the audit log's leaves with proofs",
    method: 'GET',
    path: () => '/v1/audit/leaves?treeSize=1&proofs=true',
    permission: 'audit:read',
    ok: 200,
    byId: false,
  },
  {
    name: "rotate the audit log's checkpoint key",
    method: 'POST',
    path: () => '/v1/audit/keys/rotate',
    permission: 'keys:manage',
    ok: 200,
    byId: false,
  },
  {
    name: 'add an audit sink',
    method: 'POST',
    path: () => '/v1/audit/sinks',
    body: () => ({ url: 'https://siem.example.com/in' }),
    permission: 'audit_sinks:manage',
    ok: 201,
    byId: false,
  },
  {
    name: 'list audit sinks',
    method: 'GET',
    path: () => '/v1/audit/sinks',
    permission: 'audit_sinks:manage',
    ok: 200,
    byId: false,
  },
  {
    name: 'remove an audit sink',
    method: 'DELETE',
    path: (f) => `/v1/audit/sinks/${f.auditSink}`,
    permission: 'audit_sinks:manage',
    ok: 204,
    byId: true,
  },
];

const ROLES: Role[] = ['admin', 'writer', 'reader', 'auditor'];

/** The promised matrix, written out here rather than read from the code under test. */
const ALLOWED: Record<Capability, Role[]> = {
  'principals:manage': ['admin'],
  'tokens:manage': ['admin'],
  'vaults:read': ['admin', 'writer', 'reader', 'auditor'],
  'vaults:create': ['admin', 'writer'],
  'vaults:write': ['admin', 'writer'],
  'credentials:read': ['admin', 'writer', 'reader', 'auditor'],
  'credentials:write': ['admin', 'writer'],
  'credentials:reveal': ['admin', 'reader'],
  'audit:read': ['admin', 'auditor'],
  'keys:manage': ['admin'],
  'webhooks:manage': ['admin'],
  'audit_sinks:manage': ['admin'],
};
const allows = (role: Role, p: Capability) => ALLOWED[p].includes(role);

describeEachBackend('authorization matrix over HTTP', (backend) => {
  let s: TestServer;
  let own: Seed;
  let other: Seed;
  let platformToken: string;
  let revoked: string;
  let expired: string;

  const fixture = async (seed: Seed): Promise<Fixture> => {
    const vault = await seed.t.vaults.create({ name: unique('fv') }, seed.ctx);
    const store = (name: string) =>
      seed.t.credentials.store({ vaultId: vault.id, name, type: 'api_key', value: 'secret' }, seed.ctx);
    const credential = await store('live');
    // A sealed audit log, so an inclusion proof at tree size 1 has a leaf to prove.
    await seed.t.audit.checkpoint();
    const hooked = await seed.t.credentials.store(
      {
        vaultId: vault.id,
        name: 'hooked',
        type: 'api_key',
        value: 'secret',
        rotation: { rotator: { type: 'webhook', url: 'https://rotate.example.com/f' } },
      },
      seed.ctx,
    );
    const deleted = await store('gone');
    await seed.t.credentials.delete(deleted.id, {}, seed.ctx);
    const token = await seed.t.tokens.create({ principalId: seed.principal.id, role: 'reader' }, seed.ctx);
    const webhook = await seed.t.webhooks.create({ url: 'https://hooks.example.com/f' }, seed.ctx);
    // A tenant has at most a few sinks: the last fixture's go first.
    for (const old of (await seed.t.auditSinks.list()).items)
      await seed.t.auditSinks.delete(old.id, seed.ctx);
    const auditSink = await seed.t.auditSinks.create({ url: 'https://siem.example.com/f' }, seed.ctx);
    return {
      webhook: webhook.subscription.id,
      auditSink: auditSink.id,
      vault: vault.id,
      vaultName: vault.name,
      credentialName: credential.name,
      credential: credential.id,
      hooked: hooked.id,
      deleted: deleted.id,
      token: token.apiToken.id,
      principal: seed.principal.id,
      tenant: seed.tenant.id,
    };
  };

  beforeAll(async () => {
    s = await startServer(backend);
    platformToken = (await s.registry.authenticator.bootstrap())!;
    own = await seedTenant(s, 'own');
    other = await seedTenant(s, 'other');
    const r = await own.t.tokens.create({ principalId: own.principal.id, role: 'admin' }, own.ctx);
    await own.t.tokens.revoke(r.apiToken.id, own.ctx);
    revoked = r.token;
    const e = await own.t.tokens.create(
      { principalId: own.principal.id, role: 'admin', expiresAt: new Date(s.clock.now().getTime() + 60_000) },
      own.ctx,
    );
    expired = e.token;
    s.clock.advance(120_000);
  });
  afterAll(() => s.stop());

  for (const route of ROUTES) {
    describe(`${route.method} ${route.name}`, () => {
      const send = async (token: string | undefined, f: Fixture) =>
        s.call(route.method, route.path(f), {
          ...(token ? { token } : {}),
          ...(route.body ? { body: route.body(f) } : {}),
        });

      it('no token, a malformed, a revoked or an expired token: 401', async () => {
        const f = await fixture(own);
        for (const token of [undefined, 'crt.garbage', revoked, expired]) {
          const r = await send(token, f);
          expect(r.status, String(token).slice(0, 12)).toBe(401);
          expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
        }
      });

      it('the platform token, and each tenant role', async () => {
        const expectFor = (caller: 'platform' | Role) =>
          route.permission === null
            ? caller === 'platform'
              ? route.ok
              : 403
            : caller === 'platform'
              ? 403
              : allows(caller, route.permission)
                ? route.ok
                : 403;
        for (const caller of ['platform', ...ROLES] as const) {
          const f = await fixture(own);
          const token = caller === 'platform' ? platformToken : own.tokens[caller];
          const r = await send(token, f);
          expect(r.status, `${caller}: ${r.text.slice(0, 200)}`).toBe(expectFor(caller));
        }
      });

      if (route.byId && route.permission !== null) {
        it("another tenant's ids answer exactly like ids that do not exist: 404", async () => {
          const permission = route.permission!;
          const role = ROLES.find((r) => allows(r, permission))!;
          const theirs = await fixture(other);
          const missing: Fixture = {
            ...theirs,
            vault: newId(),
            vaultName: unique('missing'),
            credentialName: unique('missing'),
            credential: newId(),
            hooked: newId(),
            deleted: newId(),
            token: newId(),
            principal: newId(),
          };
          const a = await send(own.tokens[role], theirs);
          const b = await send(own.tokens[role], missing);
          expect(a.status, a.text).toBe(404);
          expect(b.status, b.text).toBe(404);
          const strip = (body: unknown) => ({ ...(body as object), requestId: undefined });
          expect(strip(a.body)).toEqual(strip(b.body));
        });
      }
    });
  }

  it('denials are in the access log, with the caller and the route action', async () => {
    const f = await fixture(own);
    const r = await s.call('POST', `/v1/credentials/${f.credential}/reveal`, {
      token: own.tokens.auditor,
      body: { reason: 'peek' },
    });
    expect(r.status).toBe(403);
    const [row] = (await own.t.audit.query({ credentialId: f.credential, outcome: 'denied', limit: 1 }))
      .items;
    expect(row).toMatchObject({
      action: 'reveal',
      outcome: 'denied',
      errorCode: 'FORBIDDEN',
      actor: own.principal.id,
      sourceIp: '127.0.0.1',
    });
  });
});
