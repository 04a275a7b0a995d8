import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Registry } from '../../core/registry.js';
import { destroyVaultKey, getVaultKeyStatus, rewrapBatch, rotateVaultKey } from '../../core/vault-service.js';
import { requestContext, tenantAccess, tenantCaller } from '../request-context.js';
import { noBody, rewrapVaultKeysBody } from '../request-schemas.js';
import { id, noContent, problem, rewrapResult, vaultKeyRotation, vaultKeyStatus } from '../schemas.js';

/** Vault-key rotation: tenant admins. None of these decrypts a credential value. */
export const keyRoutes =
  (registry: Registry): FastifyPluginAsyncZod =>
  async (app) => {
    const vaults = (req: Parameters<typeof tenantCaller>[0]) =>
      registry.forTenant(tenantCaller(req).tenantId).vaults;
    const byVault = z.object({ id });

    app.get(
      '/v1/vaults/:id/keys',
      {
        config: tenantAccess(getVaultKeyStatus),
        schema: {
          operationId: 'vaultKeyStatus',
          tags: ['keys'],
          description:
            'Each vault-key version and how many data keys still use it: the progress of a re-wrap.',
          params: byVault,
          response: { 200: vaultKeyStatus, '4xx': problem },
        },
      },
      async (req) => vaults(req).keyStatus(req.params.id, requestContext(req)),
    );

    app.post(
      '/v1/vaults/:id/keys/rotate',
      {
        config: tenantAccess(rotateVaultKey),
        schema: {
          operationId: 'rotateVaultKey',
          tags: ['keys'],
          description:
            'A new vault-key version, used by new writes at once. Existing data keys move with rewrap.',
          params: byVault,
          body: noBody,
          response: { 200: vaultKeyRotation, '4xx': problem },
        },
      },
      async (req) => vaults(req).rotateKey(req.params.id, requestContext(req)),
    );

    app.post(
      '/v1/vaults/:id/keys/rewrap',
      {
        config: tenantAccess(rewrapBatch),
        schema: {
          operationId: 'rewrapVaultKeys',
          tags: ['keys'],
          description:
            'Moves data keys to the current vault-key version in committed batches; resumable, and safe to run concurrently.',
          params: byVault,
          body: rewrapVaultKeysBody.optional(),
          response: { 200: rewrapResult, '4xx': problem },
        },
      },
      async (req) => vaults(req).rewrap(req.params.id, req.body ?? {}, requestContext(req)),
    );

    app.delete(
      '/v1/vaults/:id/keys/:version',
      {
        config: tenantAccess(destroyVaultKey),
        schema: {
          operationId: 'destroyVaultKeyVersion',
          tags: ['keys'],
          description: 'Destroys an old vault-key version once no data key uses it (409 until then).',
          params: z.object({ id, version: z.coerce.number().int() }),
          response: { 204: noContent, '4xx': problem },
        },
      },
      async (req, reply) => {
        await vaults(req).destroyKeyVersion(req.params.id, req.params.version, requestContext(req));
        return reply.code(204).send(undefined as never);
      },
    );
  };
