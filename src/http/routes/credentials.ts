import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { deleteCredential, restoreCredential, updateCredential } from '../../core/credential-changes.js';
import { getCredential, listVersions } from '../../core/credential-reads.js';
import { revealCredential, rotateCredential } from '../../core/credential-values.js';
import type { Registry } from '../../core/registry.js';
import { replaceSigningSecret } from '../../core/rotation-signing-secrets.js';
import { requestContext, tenantAccess, tenantCaller } from '../request-context.js';
import {
  deleteCredentialQuery,
  noBody,
  revealBody,
  rotateBody,
  updateCredentialBody,
} from '../request-schemas.js';
import {
  credential,
  credentialWithSigningSecret,
  id,
  problem,
  replacedSigningSecret,
  revealed,
  rotationResult,
  versionList,
} from '../schemas.js';

const byId = z.object({ id });

export const credentialRoutes =
  (registry: Registry): FastifyPluginAsyncZod =>
  async (app) => {
    const credentials = (req: Parameters<typeof tenantCaller>[0]) =>
      registry.forTenant(tenantCaller(req).tenantId).credentials;

    app.get(
      '/v1/credentials/:id',
      {
        config: tenantAccess(getCredential),
        schema: {
          operationId: 'getCredential',
          tags: ['credentials'],
          params: byId,
          response: { 200: credential, '4xx': problem },
        },
      },
      async (req) => credentials(req).get(req.params.id, requestContext(req)),
    );

    app.patch(
      '/v1/credentials/:id',
      {
        config: tenantAccess(updateCredential),
        schema: {
          operationId: 'updateCredential',
          tags: ['credentials'],
          params: byId,
          body: updateCredentialBody,
          response: { 200: credentialWithSigningSecret, '4xx': problem },
        },
      },
      async (req) => credentials(req).update(req.params.id, req.body, requestContext(req)),
    );

    app.delete(
      '/v1/credentials/:id',
      {
        config: tenantAccess(deleteCredential),
        schema: {
          operationId: 'deleteCredential',
          tags: ['credentials'],
          description: 'Soft delete: refused everywhere, restorable until `purgeAfter`.',
          params: byId,
          querystring: deleteCredentialQuery,
          response: { 200: credential, '4xx': problem },
        },
      },
      async (req) => credentials(req).delete(req.params.id, req.query, requestContext(req)),
    );

    app.post(
      '/v1/credentials/:id/restore',
      {
        config: tenantAccess(restoreCredential),
        schema: {
          operationId: 'restoreCredential',
          tags: ['credentials'],
          params: byId,
          body: noBody,
          response: { 200: credential, '4xx': problem },
        },
      },
      async (req) => credentials(req).restore(req.params.id, requestContext(req)),
    );

    app.post(
      '/v1/credentials/:id/reveal',
      {
        config: tenantAccess(revealCredential),
        schema: {
          operationId: 'revealCredential',
          tags: ['credentials'],
          description:
            'Returns the value once its access-log row is committed. A POST, so secrets stay out of URLs and caches.',
          params: byId,
          body: revealBody,
          response: { 200: revealed, '4xx': problem },
        },
      },
      async (req) => credentials(req).reveal(req.params.id, { ...req.body, ...requestContext(req) }),
    );

    app.post(
      '/v1/credentials/:id/rotate',
      {
        config: tenantAccess(rotateCredential),
        schema: {
          operationId: 'rotateCredential',
          tags: ['credentials'],
          params: byId,
          body: rotateBody,
          response: { 200: rotationResult, '4xx': problem },
        },
      },
      async (req) => {
        const { value, expiresAt, expectedVersion } = req.body;
        return credentials(req).rotate(req.params.id, value, {
          ...requestContext(req),
          ...(expectedVersion !== undefined ? { expectedVersion } : {}),
          ...(expiresAt !== undefined ? { expiresAt } : {}),
        });
      },
    );

    app.post(
      '/v1/credentials/:id/rotation/signing-secret',
      {
        config: tenantAccess(replaceSigningSecret),
        schema: {
          operationId: 'replaceSigningSecret',
          tags: ['credentials'],
          description:
            "A new signing secret for the credential's webhook rotator, shown once. The one it replaces is still signed with, beside it, for 24 hours.",
          params: byId,
          body: noBody,
          response: { 200: replacedSigningSecret, '4xx': problem },
        },
      },
      async (req) => credentials(req).replaceSigningSecret(req.params.id, requestContext(req)),
    );

    app.get(
      '/v1/credentials/:id/versions',
      {
        config: tenantAccess(listVersions),
        schema: {
          operationId: 'listVersions',
          tags: ['credentials'],
          params: byId,
          response: { 200: versionList, '4xx': problem },
        },
      },
      async (req) => ({ items: await credentials(req).listVersions(req.params.id, requestContext(req)) }),
    );
  };
