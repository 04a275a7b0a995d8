import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Registry } from '../../core/registry.js';
import { ACCESS_ACTIONS, ACCESS_OUTCOMES } from '../../core/types.js';
import { requestContext, tenantAccess, tenantCaller } from '../request-context.js';
import { accessLogEntry, dateInput, page, pageQuery, problem } from '../schemas.js';

export const auditRoutes =
  (registry: Registry): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/v1/audit',
      {
        config: tenantAccess('audit:read', 'audit_read'),
        schema: {
          operationId: 'listAudit',
          tags: ['audit'],
          description: 'The access log, newest first.',
          querystring: pageQuery.extend({
            credentialId: z.string().optional(),
            vaultId: z.string().optional(),
            actor: z.string().optional(),
            action: z.enum(ACCESS_ACTIONS).optional(),
            outcome: z.enum(ACCESS_OUTCOMES).optional(),
            from: dateInput.optional(),
            to: dateInput.optional(),
          }),
          response: { 200: page(accessLogEntry), '4xx': problem },
        },
      },
      async (req) =>
        registry.forTenant(tenantCaller(req).tenantId).audit.query(req.query, requestContext(req)),
    );
  };
