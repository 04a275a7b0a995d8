import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { capabilitiesOf } from '../../core/authorization.js';
import { RegistryError } from '../../core/errors.js';
import { noQuery } from '../request-schemas.js';
import { problem, whoami } from '../schemas.js';

/**
 * `GET /v1/whoami`, Vault's `token/lookup-self`: what the token presented is, from the token alone
 * (no tenant data is read, so there is nothing to log). A console shows what its user may do by it.
 */
export const whoamiRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/v1/whoami',
    {
      config: { access: { kind: 'caller' } },
      schema: {
        operationId: 'whoami',
        summary: 'Describe the calling token',
        tags: ['access'],
        querystring: noQuery,
        response: { 200: whoami, '4xx': problem },
      },
    },
    async (req) => {
      const caller = req.caller;
      if (!caller) throw new RegistryError('UNAUTHENTICATED', 'an API token is required');
      if (caller.kind === 'platform')
        return { kind: 'platform' as const, tokenId: caller.tokenId, name: caller.name };
      const { tenantId, tokenId, principalId, role, vaultId } = caller;
      return {
        kind: 'tenant' as const,
        tenantId,
        tokenId,
        principalId,
        role,
        vaultId,
        capabilities: capabilitiesOf(role, vaultId !== null),
      };
    },
  );
};
