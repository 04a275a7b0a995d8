/**
 * Vaults and credentials by name: `/v1/vaults/by-name/{name}` and `/v1/secrets/{vault}/{name}`
 * (a credential's path: its vault's name, its own name). Each route runs the same use-case as its
 * by-id twin, which resolves the names in its own transaction: tenant isolation, vault scope, the
 * 404 of a missing name and the access-log row are the same as for an id.
 *
 * A name never holds a `/`: a percent-encoded one (`%2F`) reaches the use-case decoded, and is
 * refused there (400) as a name that is not valid, never taken as a separator.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { getCredential, listVersions } from '../../core/credential-reads.js';
import { revealCredential, rotateCredential } from '../../core/credential-values.js';
import type { Registry } from '../../core/registry.js';
import { getVault } from '../../core/vault-service.js';
import { requestContext, tenantAccess, tenantCaller } from '../request-context.js';
import { revealBody, rotateBody } from '../request-schemas.js';
import { credential, problem, revealed, rotationResult, vault, versionList } from '../schemas.js';

// Checked loosely here and strictly by the use-case, so that a bad name is refused with its row.
const vaultName = z.string().describe("the vault's name, unique in the tenant");
const secretPath = z.object({
  vault: vaultName,
  name: z.string().describe("the credential's name, unique among the vault's live credentials"),
});

export const secretRoutes =
  (registry: Registry): FastifyPluginAsyncZod =>
  async (app) => {
    const tenant = (req: Parameters<typeof tenantCaller>[0]) =>
      registry.forTenant(tenantCaller(req).tenantId);
    const pathOf = (params: { vault: string; name: string }) => ({ vault: params.vault, name: params.name });

    app.get(
      '/v1/vaults/by-name/:name',
      {
        config: tenantAccess(getVault),
        schema: {
          operationId: 'getVaultByName',
          summary: 'Get a vault by name',
          tags: ['vaults'],
          description:
            "The vault of this name in the caller's tenant; answers as `GET /v1/vaults/{id}` does.",
          params: z.object({ name: vaultName }),
          response: { 200: vault, '4xx': problem },
        },
      },
      async (req) => tenant(req).vaults.getByName(req.params.name, requestContext(req)),
    );

    app.get(
      '/v1/secrets/:vault/:name',
      {
        config: tenantAccess(getCredential),
        schema: {
          operationId: 'getSecret',
          summary: 'Get a credential by path',
          tags: ['credentials'],
          description:
            'Metadata of the live credential `name` in the vault `vault`; answers as `GET /v1/credentials/{id}` does.',
          params: secretPath,
          response: { 200: credential, '4xx': problem },
        },
      },
      async (req) => tenant(req).credentials.get(pathOf(req.params), requestContext(req)),
    );

    app.post(
      '/v1/secrets/:vault/:name/reveal',
      {
        config: tenantAccess(revealCredential),
        schema: {
          operationId: 'revealSecret',
          summary: 'Reveal a credential by path',
          tags: ['credentials'],
          description:
            'As `POST /v1/credentials/{id}/reveal`, for the live credential at this path: the value once its access-log row is committed.',
          params: secretPath,
          body: revealBody,
          response: { 200: revealed, '4xx': problem },
        },
      },
      async (req) =>
        tenant(req).credentials.reveal(pathOf(req.params), { ...req.body, ...requestContext(req) }),
    );

    app.post(
      '/v1/secrets/:vault/:name/rotate',
      {
        config: tenantAccess(rotateCredential),
        schema: {
          operationId: 'rotateSecret',
          summary: 'Rotate a credential by path',
          tags: ['credentials'],
          description: 'As `POST /v1/credentials/{id}/rotate`, for the live credential at this path.',
          params: secretPath,
          body: rotateBody,
          response: { 200: rotationResult, '4xx': problem },
        },
      },
      async (req) => {
        const { value, expiresAt, expectedVersion } = req.body;
        return tenant(req).credentials.rotate(pathOf(req.params), value, {
          ...requestContext(req),
          ...(expectedVersion !== undefined ? { expectedVersion } : {}),
          ...(expiresAt !== undefined ? { expiresAt } : {}),
        });
      },
    );

    app.get(
      '/v1/secrets/:vault/:name/versions',
      {
        config: tenantAccess(listVersions),
        schema: {
          operationId: 'listSecretVersions',
          summary: "List a credential's versions by path",
          tags: ['credentials'],
          description: 'As `GET /v1/credentials/{id}/versions`, for the live credential at this path.',
          params: secretPath,
          response: { 200: versionList, '4xx': problem },
        },
      },
      async (req) => ({
        items: await tenant(req).credentials.listVersions(pathOf(req.params), requestContext(req)),
      }),
    );
  };
