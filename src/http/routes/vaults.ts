import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { listCredentials } from '../../core/credential-reads.js';
import { storeCredential } from '../../core/credential-values.js';
import type { Registry } from '../../core/registry.js';
import { createVault, deleteVault, getVault, listVaults, updateVault } from '../../core/vault-service.js';
import { requestContext, tenantAccess, tenantCaller } from '../request-context.js';
import {
  createVaultBody,
  deleteVaultQuery,
  listCredentialsQuery,
  listVaultsQuery,
  storeCredentialBody,
  updateVaultBody,
} from '../request-schemas.js';
import { credential, credentialWithSigningSecret, id, noContent, page, problem, vault } from '../schemas.js';

export const vaultRoutes =
  (registry: Registry): FastifyPluginAsyncZod =>
  async (app) => {
    const tenant = (req: Parameters<typeof tenantCaller>[0]) =>
      registry.forTenant(tenantCaller(req).tenantId);

    app.post(
      '/v1/vaults',
      {
        config: tenantAccess(createVault),
        schema: {
          operationId: 'createVault',
          tags: ['vaults'],
          body: createVaultBody,
          response: { 201: vault, '4xx': problem },
        },
      },
      async (req, reply) =>
        reply.code(201).send(await tenant(req).vaults.create(req.body, requestContext(req))),
    );

    app.get(
      '/v1/vaults',
      {
        config: tenantAccess(listVaults),
        schema: {
          operationId: 'listVaults',
          tags: ['vaults'],
          querystring: listVaultsQuery,
          response: { 200: page(vault) },
        },
      },
      async (req) => tenant(req).vaults.list(req.query, requestContext(req)),
    );

    app.get(
      '/v1/vaults/:id',
      {
        config: tenantAccess(getVault),
        schema: {
          operationId: 'getVault',
          tags: ['vaults'],
          params: z.object({ id }),
          response: { 200: vault, '4xx': problem },
        },
      },
      async (req) => tenant(req).vaults.get(req.params.id, requestContext(req)),
    );

    app.patch(
      '/v1/vaults/:id',
      {
        config: tenantAccess(updateVault),
        schema: {
          operationId: 'updateVault',
          tags: ['vaults'],
          description:
            "Changes the vault's default expiry alerts; its credentials that set none of their own follow at once.",
          params: z.object({ id }),
          body: updateVaultBody,
          response: { 200: vault, '4xx': problem },
        },
      },
      async (req) => tenant(req).vaults.update(req.params.id, req.body, requestContext(req)),
    );

    app.delete(
      '/v1/vaults/:id',
      {
        config: tenantAccess(deleteVault),
        schema: {
          operationId: 'deleteVault',
          tags: ['vaults'],
          description:
            'Deletes the vault and its keys (crypto-shredding). Refused while it holds credentials, unless force=true.',
          params: z.object({ id }),
          querystring: deleteVaultQuery,
          response: { 204: noContent, '4xx': problem },
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
        config: tenantAccess(storeCredential),
        schema: {
          operationId: 'storeCredential',
          tags: ['credentials'],
          params: z.object({ vaultId: id }),
          body: storeCredentialBody,
          response: { 201: credentialWithSigningSecret, '4xx': problem },
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
        config: tenantAccess(listCredentials),
        schema: {
          operationId: 'listCredentials',
          tags: ['credentials'],
          params: z.object({ vaultId: id }),
          querystring: listCredentialsQuery,
          response: { 200: page(credential), '4xx': problem },
        },
      },
      async (req) =>
        tenant(req).credentials.list(
          req.params.vaultId,
          {
            ...req.query,
            includeDeleted: req.query.includeDeleted === 'true',
            rotationDue: req.query.rotationDue === 'true',
          },
          requestContext(req),
        ),
    );
  };
