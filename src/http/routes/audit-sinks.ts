/**
 * A tenant's own audit sinks: `POST/GET /v1/audit/sinks`, `DELETE /v1/audit/sinks/{id}`. Tenant
 * admins only, never a vault-scoped token (a sink receives every row of the tenant's log).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { createAuditSink, deleteAuditSink, listAuditSinks } from '../../core/audit-sink-service.js';
import type { Registry } from '../../core/registry.js';
import { requestContext, tenantAccess, tenantCaller } from '../request-context.js';
import { noQuery } from '../request-schemas.js';
import { id, isoDate, noContent, problem } from '../schemas.js';

const auditSink = z.object({
  id,
  tenantId: id,
  url: z.string().describe('where batches are POSTed as `{ "entries": [...] }`'),
  createdBy: z.string(),
  createdAt: isoDate,
});

const createAuditSinkBody = z.strictObject({
  url: z
    .string()
    .min(1)
    .max(2048)
    .describe(
      "an https URL (the webhooks' URL rules): each batch of the tenant's sealed log rows is POSTed to it",
    ),
});

/** The routes, registered by `buildApp`. */
export const auditSinkRoutes =
  (registry: Registry): FastifyPluginAsyncZod =>
  async (app) => {
    const sinks = (req: Parameters<typeof tenantCaller>[0]) =>
      registry.forTenant(tenantCaller(req).tenantId).auditSinks;

    app.post(
      '/v1/audit/sinks',
      {
        config: tenantAccess(createAuditSink),
        schema: {
          operationId: 'createAuditSink',
          tags: ['audit'],
          description:
            "Adds an http sink for the tenant's access log: every sealed row, from the first, then each checkpoint, is POSTed to it at least once, in leaf order.",
          body: createAuditSinkBody,
          response: { 201: auditSink, '4xx': problem },
        },
      },
      async (req, reply) => reply.code(201).send(await sinks(req).create(req.body, requestContext(req))),
    );

    app.get(
      '/v1/audit/sinks',
      {
        config: tenantAccess(listAuditSinks),
        schema: {
          operationId: 'listAuditSinks',
          tags: ['audit'],
          description: "The tenant's own audit sinks (the platform operator's are not listed).",
          querystring: noQuery,
          response: { 200: z.object({ items: z.array(auditSink) }), '4xx': problem },
        },
      },
      async (req) => sinks(req).list(requestContext(req)),
    );

    app.delete(
      '/v1/audit/sinks/:id',
      {
        config: tenantAccess(deleteAuditSink),
        schema: {
          operationId: 'deleteAuditSink',
          tags: ['audit'],
          description: 'Removes one of the tenant’s audit sinks: nothing more is sent to it.',
          params: z.object({ id }),
          response: { 204: noContent, '4xx': problem },
        },
      },
      async (req, reply) => {
        await sinks(req).delete(req.params.id, requestContext(req));
        return reply.code(204).send(undefined as never);
      },
    );
  };
