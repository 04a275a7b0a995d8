import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Registry } from '../../core/registry.js';
import { requestContext, tenantAccess, tenantCaller } from '../request-context.js';
import { credential, dateInput, id, page, pageQuery, problem, vault } from '../schemas.js';

export const vaultRoutes =
  (registry: Registry): FastifyPluginAsyncZod =>
  async (app) => {
    const tenant = (req: Parameters<typeof tenantCaller>[0]) =>
      registry.forTenant(tenantCaller(req).tenantId);

    app.post(
      '/v1/vaults',
      {
        config: tenantAccess('vaults:write', 'vault_create'),
        schema: {
          operationId: 'createVault',
          tags: ['vaults'],
          body: z.strictObject({
            name: z.string(),
            description: z.string().optional(),
            maxVersions: z.number().optional().describe('versions kept per credential (Default: 10)'),
          }),
          response: { 201: vault, '4xx': problem },
        },
      },
      async (req, reply) =>
        reply.code(201).send(await tenant(req).vaults.create(req.body, requestContext(req))),
    );

    app.get(
      '/v1/vaults',
      {
        config: tenantAccess('vaults:read', 'read'),
        schema: {
          operationId: 'listVaults',
          tags: ['vaults'],
          querystring: pageQuery,
          response: { 200: page(vault) },
        },
      },
      async (req) => tenant(req).vaults.list(req.query, requestContext(req)),
    );

    app.get(
      '/v1/vaults/:id',
      {
        config: tenantAccess('vaults:read', 'read'),
        schema: {
          operationId: 'getVault',
          tags: ['vaults'],
          params: z.object({ id }),
          response: { 200: vault, '4xx': problem },
        },
      },
      async (req) => tenant(req).vaults.get(req.params.id, requestContext(req)),
    );

    app.delete(
      '/v1/vaults/:id',
      {
        config: tenantAccess('vaults:write', 'vault_delete'),
        schema: {
          operationId: 'deleteVault',
          tags: ['vaults'],
          description:
            'Deletes the vault and its keys (crypto-shredding). Refused while it holds credentials, unless force=true.',
          params: z.object({ id }),
          querystring: z.object({ force: z.enum(['true', 'false']).optional() }),
          response: { '4xx': problem },
        },
      },
      async (req, reply) => {
        await tenant(req).vaults.delete(
          req.params.id,
          { force: req.query.force === 'true' },
          requestContext(req),
        );
        return reply.code(204).send(undefined as never);
      },
    );

    app.post(
      '/v1/vaults/:vaultId/credentials',
      {
        config: tenantAccess('credentials:write', 'store'),
        schema: {
          operationId: 'storeCredential',
          tags: ['credentials'],
          params: z.object({ vaultId: id }),
          body: z.strictObject({
            name: z.string(),
            type: z
              .string()
              .describe(
                'api_key, bearer_token, basic_auth, oauth2_client, oauth2_token, certificate, ssh_key, connection_string or generic',
              ),
            value: z.unknown().describe('the secret, shaped by its type; at most 64 KiB as JSON'),
            metadata: z.record(z.string(), z.unknown()).optional().describe('stored in clear: no secrets'),
            expiresAt: dateInput.optional(),
            rotationSchedule: z.string().optional().describe('ISO 8601 duration, e.g. P90D'),
          }),
          response: { 201: credential, '4xx': problem },
        },
      },
      async (req, reply) => {
        const created = await tenant(req).credentials.store(
          { ...req.body, type: req.body.type as never, vaultId: req.params.vaultId },
          requestContext(req),
        );
        return reply.code(201).send(created);
      },
    );

    app.get(
      '/v1/vaults/:vaultId/credentials',
      {
        config: tenantAccess('credentials:read', 'read'),
        schema: {
          operationId: 'listCredentials',
          tags: ['credentials'],
          params: z.object({ vaultId: id }),
          querystring: pageQuery.extend({ includeDeleted: z.enum(['true', 'false']).optional() }),
          response: { 200: page(credential), '4xx': problem },
        },
      },
      async (req) =>
        tenant(req).credentials.list(
          req.params.vaultId,
          { ...req.query, includeDeleted: req.query.includeDeleted === 'true' },
          requestContext(req),
        ),
    );
  };
