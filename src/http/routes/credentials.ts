import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Registry } from '../../core/registry.js';
import { requestContext, tenantAccess, tenantCaller } from '../request-context.js';
import { credential, dateInput, id, problem, revealed, version } from '../schemas.js';

const byId = z.object({ id });

export const credentialRoutes =
  (registry: Registry): FastifyPluginAsyncZod =>
  async (app) => {
    const credentials = (req: Parameters<typeof tenantCaller>[0]) =>
      registry.forTenant(tenantCaller(req).tenantId).credentials;

    app.get(
      '/v1/credentials/:id',
      {
        config: tenantAccess('credentials:read', 'read'),
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
        config: tenantAccess('credentials:write', 'update'),
        schema: {
          operationId: 'updateCredential',
          tags: ['credentials'],
          params: byId,
          body: z.strictObject({
            metadata: z.record(z.string(), z.unknown()).optional(),
            expiresAt: dateInput.nullable().optional(),
            rotationSchedule: z.string().nullable().optional(),
            active: z
              .boolean()
              .optional()
              .describe('false deactivates: every reveal and rotation is refused'),
          }),
          response: { 200: credential, '4xx': problem },
        },
      },
      async (req) => credentials(req).update(req.params.id, req.body, requestContext(req)),
    );

    app.delete(
      '/v1/credentials/:id',
      {
        config: tenantAccess('credentials:write', 'delete'),
        schema: {
          operationId: 'deleteCredential',
          tags: ['credentials'],
          description: 'Soft delete: refused everywhere, restorable until `purgeAfter`.',
          params: byId,
          querystring: z.object({
            recoveryWindowDays: z.coerce.number().optional().describe('1–30 (Default: 7)'),
          }),
          response: { 200: credential, '4xx': problem },
        },
      },
      async (req) => credentials(req).delete(req.params.id, req.query, requestContext(req)),
    );

    app.post(
      '/v1/credentials/:id/restore',
      {
        config: tenantAccess('credentials:write', 'restore'),
        schema: {
          operationId: 'restoreCredential',
          tags: ['credentials'],
          params: byId,
          response: { 200: credential, '4xx': problem },
        },
      },
      async (req) => credentials(req).restore(req.params.id, requestContext(req)),
    );

    app.post(
      '/v1/credentials/:id/reveal',
      {
        config: tenantAccess('credentials:reveal', 'reveal'),
        schema: {
          operationId: 'revealCredential',
          tags: ['credentials'],
          description:
            'Returns the value once its access-log row is committed. A POST, so secrets stay out of URLs and caches.',
          params: byId,
          body: z.strictObject({
            reason: z.string().describe('why the value is needed; recorded'),
            version: z.number().optional(),
          }),
          response: { 200: revealed, '4xx': problem },
        },
      },
      async (req) => credentials(req).reveal(req.params.id, { ...requestContext(req), ...req.body }),
    );

    app.post(
      '/v1/credentials/:id/rotate',
      {
        config: tenantAccess('credentials:write', 'rotate'),
        schema: {
          operationId: 'rotateCredential',
          tags: ['credentials'],
          params: byId,
          body: z.strictObject({
            value: z.unknown(),
            expectedVersion: z
              .number()
              .optional()
              .describe('check-and-set: refused with 412 unless still current'),
            expiresAt: dateInput.nullable().optional(),
          }),
          response: { 200: z.object({ version: z.number(), credential }), '4xx': problem },
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

    app.get(
      '/v1/credentials/:id/versions',
      {
        config: tenantAccess('credentials:read', 'read'),
        schema: {
          operationId: 'listVersions',
          tags: ['credentials'],
          params: byId,
          response: { 200: z.object({ items: z.array(version) }), '4xx': problem },
        },
      },
      async (req) => ({ items: await credentials(req).listVersions(req.params.id, requestContext(req)) }),
    );
  };
