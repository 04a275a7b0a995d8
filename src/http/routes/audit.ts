import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { queryAccessLog } from '../../core/audit-service.js';
import type { Registry } from '../../core/registry.js';
import { requestContext, tenantAccess, tenantCaller } from '../request-context.js';
import { auditQuery } from '../request-schemas.js';
import { accessLogEntry, page, problem } from '../schemas.js';

export const auditRoutes =
  (registry: Registry): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/v1/audit',
      {
        config: tenantAccess(queryAccessLog),
        schema: {
          operationId: 'listAudit',
          tags: ['audit'],
          description: 'The access log, newest first.',
          querystring: auditQuery,
          response: { 200: page(accessLogEntry), '4xx': problem },
        },
      },
      async (req) =>
        registry.forTenant(tenantCaller(req).tenantId).audit.query(req.query, requestContext(req)),
    );
  };
