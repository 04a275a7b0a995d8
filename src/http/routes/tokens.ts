import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { createPrincipal, listPrincipals } from '../../core/principal-service.js';
import type { Registry } from '../../core/registry.js';
import { type CreatedToken, createToken, listTokens, revokeToken } from '../../core/token-service.js';
import { requestContext, tenantAccess, tenantCaller } from '../request-context.js';
import { createPrincipalBody, createTokenBody, pageQuery } from '../request-schemas.js';
import { apiToken, createdToken, id, noContent, page, principal, problem } from '../schemas.js';

export const tokenBody = ({ token, apiToken: t }: CreatedToken) => ({
  token,
  id: t.id,
  tenantId: t.tenantId,
  principalId: t.principalId,
  role: t.role,
  vaultId: t.vaultId,
  expiresAt: t.expiresAt,
});

/** Principals and their tokens: tenant admins only. */
export const tokenRoutes =
  (registry: Registry): FastifyPluginAsyncZod =>
  async (app) => {
    const tenant = (req: Parameters<typeof tenantCaller>[0]) =>
      registry.forTenant(tenantCaller(req).tenantId);

    app.post(
      '/v1/principals',
      {
        config: tenantAccess(createPrincipal),
        schema: {
          operationId: 'createPrincipal',
          tags: ['access'],
          body: createPrincipalBody,
          response: { 201: principal, '4xx': problem },
        },
      },
      async (req, reply) =>
        reply.code(201).send(await tenant(req).principals.create(req.body, requestContext(req))),
    );

    app.get(
      '/v1/principals',
      {
        config: tenantAccess(listPrincipals),
        schema: {
          operationId: 'listPrincipals',
          tags: ['access'],
          querystring: pageQuery,
          response: { 200: page(principal) },
        },
      },
      async (req) => tenant(req).principals.list(req.query, requestContext(req)),
    );

    app.post(
      '/v1/tokens',
      {
        config: tenantAccess(createToken),
        schema: {
          operationId: 'createToken',
          tags: ['access'],
          body: createTokenBody,
          response: { 201: createdToken, '4xx': problem },
        },
      },
      async (req, reply) =>
        reply.code(201).send(tokenBody(await tenant(req).tokens.create(req.body, requestContext(req)))),
    );

    app.get(
      '/v1/tokens',
      {
        config: tenantAccess(listTokens),
        schema: {
          operationId: 'listTokens',
          tags: ['access'],
          querystring: pageQuery,
          response: { 200: page(apiToken) },
        },
      },
      async (req) => tenant(req).tokens.list(req.query, requestContext(req)),
    );

    app.delete(
      '/v1/tokens/:id',
      {
        config: tenantAccess(revokeToken),
        schema: {
          operationId: 'revokeToken',
          tags: ['access'],
          params: z.object({ id }),
          response: { 204: noContent, '4xx': problem },
        },
      },
      async (req, reply) => {
        await tenant(req).tokens.revoke(req.params.id, requestContext(req));
        return reply.code(204).send(undefined as never);
      },
    );
  };
