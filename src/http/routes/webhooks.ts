import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Registry } from '../../core/registry.js';
import {
  createWebhook,
  deleteWebhook,
  enableWebhook,
  getWebhook,
  listWebhookDeliveries,
  listWebhooks,
  testWebhook,
} from '../../core/webhook-service.js';
import { requestContext, tenantAccess, tenantCaller } from '../request-context.js';
import { createWebhookBody, noBody, noQuery, pageQuery } from '../request-schemas.js';
import {
  createdWebhook,
  id,
  noContent,
  page,
  problem,
  webhookDelivery,
  webhookSubscription,
  webhookTest,
} from '../schemas.js';

/** Webhook subscriptions: tenant admins, never a vault-scoped token. */
export const webhookRoutes =
  (registry: Registry): FastifyPluginAsyncZod =>
  async (app) => {
    const webhooks = (req: Parameters<typeof tenantCaller>[0]) =>
      registry.forTenant(tenantCaller(req).tenantId).webhooks;
    const byId = z.object({ id });

    app.post(
      '/v1/webhooks',
      {
        config: tenantAccess(createWebhook),
        schema: {
          operationId: 'createWebhook',
          tags: ['webhooks'],
          description: "Subscribes a receiver to the tenant's events; the signing secret is shown once.",
          body: createWebhookBody,
          response: { 201: createdWebhook, '4xx': problem },
        },
      },
      async (req, reply) => {
        const { subscription, secret } = await webhooks(req).create(req.body, requestContext(req));
        return reply.code(201).send({ ...subscription, secret });
      },
    );

    app.get(
      '/v1/webhooks',
      {
        config: tenantAccess(listWebhooks),
        schema: {
          operationId: 'listWebhooks',
          tags: ['webhooks'],
          querystring: pageQuery,
          response: { 200: page(webhookSubscription), '4xx': problem },
        },
      },
      async (req) => webhooks(req).list(req.query, requestContext(req)),
    );

    app.delete(
      '/v1/webhooks/:id',
      {
        config: tenantAccess(deleteWebhook),
        schema: {
          operationId: 'deleteWebhook',
          tags: ['webhooks'],
          description: 'Unsubscribes: its pending deliveries, its key and its secret are deleted.',
          params: byId,
          response: { 204: noContent, '4xx': problem },
        },
      },
      async (req, reply) => {
        await webhooks(req).delete(req.params.id, requestContext(req));
        return reply.code(204).send(undefined as never);
      },
    );

    app.get(
      '/v1/webhooks/:id',
      {
        config: tenantAccess(getWebhook),
        schema: {
          operationId: 'getWebhook',
          tags: ['webhooks'],
          description: 'One subscription (never its signing secret).',
          params: byId,
          querystring: noQuery,
          response: { 200: webhookSubscription, '4xx': problem },
        },
      },
      async (req) => webhooks(req).get(req.params.id, requestContext(req)),
    );

    app.get(
      '/v1/webhooks/:id/deliveries',
      {
        config: tenantAccess(listWebhookDeliveries),
        schema: {
          operationId: 'listWebhookDeliveries',
          tags: ['webhooks'],
          description: "A subscription's deliveries, newest first.",
          params: byId,
          querystring: pageQuery,
          response: { 200: page(webhookDelivery), '4xx': problem },
        },
      },
      async (req) => webhooks(req).deliveries(req.params.id, req.query, requestContext(req)),
    );

    app.post(
      '/v1/webhooks/:id/test',
      {
        config: tenantAccess(testWebhook),
        schema: {
          operationId: 'testWebhook',
          tags: ['webhooks'],
          description: 'Sends a `webhook.test` event to this subscription only.',
          params: byId,
          body: noBody,
          response: { 202: webhookTest, '4xx': problem },
        },
      },
      async (req, reply) =>
        reply.code(202).send(await webhooks(req).test(req.params.id, requestContext(req))),
    );

    app.post(
      '/v1/webhooks/:id/enable',
      {
        config: tenantAccess(enableWebhook),
        schema: {
          operationId: 'enableWebhook',
          tags: ['webhooks'],
          description:
            'Enables a subscription disabled after repeated failed deliveries, its failures reset: it receives events from now on, not those it missed.',
          params: byId,
          body: noBody,
          response: { 200: webhookSubscription, '4xx': problem },
        },
      },
      async (req) => webhooks(req).enable(req.params.id, requestContext(req)),
    );
  };
