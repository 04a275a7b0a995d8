import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Registry } from '../../core/registry.js';
import type { CreatedToken } from '../../core/token-service.js';
import { ROLES } from '../../core/types.js';
import { requestContext, tenantAccess, tenantCaller } from '../request-context.js';
import { apiToken, createdToken, dateInput, id, page, pageQuery, principal, problem } from '../schemas.js';

export const tokenBody = ({ token, apiToken: t }: CreatedToken) => ({
  token,
  id: t.id,
  tenantId: t.tenantId,
  principalId: t.principalId,
  role: t.role,
  vaultId: t.vaultId,
  expiresAt: t.expiresAt,
});

const manage = (
  action: 'token_create' | 'token_list' | 'token_revoke' | 'principal_create' | 'principal_list',
) => tenantAccess(action.startsWith('token') ? 'tokens:manage' : 'principals:manage', action);

/** Principals and their tokens: tenant admins only. */
export const tokenRoutes =
  (registry: Registry): FastifyPluginAsyncZod =>
  async (app) => {
    const tenant = (req: Parameters<typeof tenantCaller>[0]) =>
      registry.forTenant(tenantCaller(req).tenantId);

    app.post(
      '/v1/principals',
      {
        config: manage('principal_create'),
        schema: {
          operationId: 'createPrincipal',
          tags: ['access'],
          body: z.strictObject({ name: z.string(), kind: z.enum(['user', 'service']) }),
          response: { 201: principal, '4xx': problem },
        },
      },
      async (req, reply) =>
        reply.code(201).send(await tenant(req).principals.create(req.body, requestContext(req))),
    );

    app.get(
      '/v1/principals',
      {
        config: manage('principal_list'),
        schema: {
          operationId: 'listPrincipals',
          tags: ['access'],
          querystring: pageQuery,
          response: { 200: page(principal) },
        },
      },
      async (req) => tenant(req).principals.list(req.query),
    );

    app.post(
      '/v1/tokens',
      {
        config: manage('token_create'),
        schema: {
          operationId: 'createToken',
          tags: ['access'],
          body: z.strictObject({
            principalId: id,
            role: z.enum(ROLES),
            vaultId: id.optional().describe('limit the token to this vault'),
            expiresAt: dateInput.optional(),
          }),
          response: { 201: createdToken, '4xx': problem },
        },
      },
      async (req, reply) =>
        reply.code(201).send(tokenBody(await tenant(req).tokens.create(req.body, requestContext(req)))),
    );

    app.get(
      '/v1/tokens',
      {
        config: manage('token_list'),
        schema: {
          operationId: 'listTokens',
          tags: ['access'],
          querystring: pageQuery,
          response: { 200: page(apiToken) },
        },
      },
      async (req) => tenant(req).tokens.list(req.query),
    );

    app.delete(
      '/v1/tokens/:id',
      {
        config: manage('token_revoke'),
        schema: {
          operationId: 'revokeToken',
          tags: ['access'],
          params: z.object({ id }),
          response: { '4xx': problem },
        },
      },
      async (req, reply) => {
        await tenant(req).tokens.revoke(req.params.id, requestContext(req));
        return reply.code(204).send(undefined as never);
      },
    );
  };
