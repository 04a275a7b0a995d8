import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Registry } from '../../core/registry.js';
import { createPrincipalWithToken } from '../../core/token-service.js';
import { requestContext } from '../request-context.js';
import {
  createTenantAdminTokenBody,
  createTenantBody,
  listTenantsQuery,
  noBody,
} from '../request-schemas.js';
import { createdToken, id, page, problem, rootKeyStatus, rootRotationResult, tenant } from '../schemas.js';
import { tokenBody } from './tokens.js';

const platform = { access: { kind: 'platform' as const } };

/** Tenants, and the first admin of each: platform-admin tokens only. */
export const platformRoutes =
  (registry: Registry): FastifyPluginAsyncZod =>
  async (app) => {
    app.post(
      '/v1/tenants',
      {
        config: platform,
        schema: {
          operationId: 'createTenant',
          tags: ['platform'],
          body: createTenantBody,
          response: { 201: tenant, '4xx': problem },
        },
      },
      async (req, reply) => reply.code(201).send(await registry.tenants.create(req.body)),
    );

    app.get(
      '/v1/tenants',
      {
        config: platform,
        schema: {
          operationId: 'listTenants',
          tags: ['platform'],
          querystring: listTenantsQuery,
          response: { 200: page(tenant) },
        },
      },
      async (req) => registry.tenants.list(req.query),
    );

    app.get(
      '/v1/tenants/:tenantId',
      {
        config: platform,
        schema: {
          operationId: 'getTenant',
          tags: ['platform'],
          params: z.object({ tenantId: id }),
          response: { 200: tenant, '4xx': problem },
        },
      },
      async (req) => registry.tenants.get(req.params.tenantId),
    );

    app.post(
      '/v1/tenants/:tenantId/tokens',
      {
        config: { access: { kind: 'platform', inTenant: createPrincipalWithToken } },
        schema: {
          operationId: 'createTenantAdminToken',
          tags: ['platform'],
          description:
            "A principal named `name` and a token for it (Default role: admin): a tenant's first admin, or a break-glass one. Logged in the tenant's access log.",
          params: z.object({ tenantId: id }),
          body: createTenantAdminTokenBody,
          response: { 201: createdToken, '4xx': problem },
        },
      },
      async (req, reply) => {
        const t = registry.forTenant(req.params.tenantId);
        await registry.tenants.get(req.params.tenantId); // 404 for an unknown tenant, before anything is written
        const created = await t.tokens.createWithPrincipal(req.body, requestContext(req));
        return reply.code(201).send(tokenBody(created));
      },
    );

    app.post(
      '/v1/keys/rotate-root',
      {
        config: platform,
        schema: {
          operationId: 'rotateRootKey',
          tags: ['platform', 'keys'],
          description:
            'Re-wraps every vault key not under the current root key (one under a retired key configured with CREDREG_PREVIOUS_*, another provider, an older Transit key version, a KMS key the alias no longer names). Resumable; data keys and values are not touched.',
          body: noBody,
          response: { 200: rootRotationResult, '4xx': problem },
        },
      },
      async (req) => registry.rotateRoot(requestContext(req)),
    );

    app.get(
      '/v1/keys/root',
      {
        config: platform,
        schema: {
          operationId: 'rootKeyStatus',
          tags: ['platform', 'keys'],
          description:
            'Which root keys wrap the vault keys, and how many are not under the current one: the progress of a root rotation. When remaining is 0, the previous provider can be removed.',
          response: { 200: rootKeyStatus, '4xx': problem },
        },
      },
      async () => registry.rootKeyStatus(),
    );
  };
