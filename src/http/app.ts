import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { RegistryHandle } from '../main.js';

/**
 * The HTTP service. So far: liveness and readiness, for process managers and load balancers.
 */
export function buildApp(registry: RegistryHandle, logger?: FastifyBaseLogger): FastifyInstance {
  const app = logger ? Fastify({ loggerInstance: logger }) : Fastify({ logger: false });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const r = await registry.readiness();
    return reply
      .code(r.ready ? 200 : 503)
      .send({ status: r.ready ? 'ready' : 'not_ready', detail: r.detail });
  });
  return app;
}
