import Fastify, { type FastifyInstance } from 'fastify';
import type { RegistryHandle } from '../main.js';

/**
 * The HTTP service. So far: liveness and readiness; the `/v1` API is built on the same app.
 */
export function buildApp(registry: RegistryHandle, logger: object | boolean = false): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger === false ? undefined : (logger as never),
    logger: logger === false ? false : undefined,
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const r = await registry.readiness();
    return reply
      .code(r.ready ? 200 : 503)
      .send({ status: r.ready ? 'ready' : 'not_ready', detail: r.detail });
  });
  return app;
}
