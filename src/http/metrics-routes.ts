import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from 'fastify';
import { RegistryError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { HttpMetrics } from './metrics.js';
import { sendProblem } from './problem.js';

/**
 * Who may read `/metrics` on the main listener (see `Config['metrics']`).
 *
 * - no token: nobody. The route answers 404 with a problem naming the two settings that enable
 *   it. Not 401 or 403: no credential would help, and those two count as denials in
 *   `credreg_denials_total`, which a scraper left pointed at the service would inflate.
 * - a token: only `Authorization: Bearer <token>`, compared in constant time; anything else 401.
 *   API tokens never grant it: a scraper's credential must not reach a tenant's data, and a
 *   tenant's must not see every tenant's traffic.
 */
export interface MetricsAccess {
  /** (Default: none, and the main listener does not serve `/metrics`) */
  token?: string | undefined;
}

/** The one text of the default answer; the same whether or not a separate listener runs. */
export const METRICS_NOT_SERVED =
  '/metrics is not served on this listener: set CREDREG_METRICS_TOKEN to scrape it here with a bearer token, or CREDREG_METRICS_LISTEN to serve it on a separate address';

/**
 * Adds `GET /metrics` to the main app, guarded as `access` says. The route is `public` to the app's
 * auth hook (which checks API tokens, and rate-limits by them); its own `onRequest` checks the
 * scrape token instead, before anything is collected.
 *
 * @example
 * addMetricsRoute(app, metrics, { token: config.metrics.token });
 */
export function addMetricsRoute(
  app: Pick<FastifyInstance, 'get'>,
  collector: HttpMetrics,
  access: MetricsAccess = {},
): void {
  const allowed = access.token ? bearerMatcher(access.token) : undefined;
  app.get(
    '/metrics',
    {
      config: { access: { kind: 'public' } },
      schema: { hide: true },
      onRequest: async (req) => {
        if (!allowed) throw new RegistryError('NOT_FOUND', METRICS_NOT_SERVED);
        if (!allowed(req.headers.authorization)) {
          throw new RegistryError(
            'UNAUTHENTICATED',
            '/metrics needs Authorization: Bearer with the scrape token (CREDREG_METRICS_TOKEN); API tokens do not grant it',
          );
        }
      },
    },
    async (_req, reply) => scrape(collector, reply),
  );
}

/**
 * The separate metrics listener (`CREDREG_METRICS_LISTEN`): `GET /metrics` without a token, every
 * other path 404. Its network placement is its access control, as for a Prometheus exporter. It
 * shares the main app's collector, so it reports that app's requests; its own are not counted,
 * and not logged (a scrape every few seconds would drown the request log), but its errors are.
 *
 * @example
 * const metricsApp = await buildMetricsApp(metrics, { logger });
 * await metricsApp.listen({ host: '127.0.0.1', port: 9464 });
 */
export async function buildMetricsApp(
  collector: HttpMetrics,
  options: { logger?: FastifyBaseLogger } = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger
      ? { loggerInstance: options.logger.child({ listener: 'metrics' }) }
      : { logger: false }),
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => newId(),
    requestIdHeader: false,
    bodyLimit: 1024,
  });
  app.get('/metrics', async (_req, reply) => scrape(collector, reply));
  app.setNotFoundHandler((req, reply) =>
    sendProblem(reply, req, 404, 'NOT_FOUND', 'this listener serves only GET /metrics'),
  );
  app.setErrorHandler((err: { statusCode?: number; message?: string }, req, reply) => {
    const status =
      typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500
        ? err.statusCode
        : 500;
    if (status === 500) req.log.error({ err: { message: err.message } }, 'metrics scrape failed');
    return sendProblem(
      reply,
      req,
      status,
      status === 500 ? 'INTERNAL' : 'BAD_REQUEST',
      status === 500 ? 'the server failed to complete the request' : (err.message ?? 'bad request'),
    );
  });
  return app;
}

async function scrape(collector: HttpMetrics, reply: FastifyReply) {
  return reply.type(collector.registry.contentType).send(await collector.registry.metrics());
}

/**
 * True for `Bearer <token>` (scheme case-insensitive, RFC 9110). Both sides are hashed first, so
 * the comparison takes the same time whatever the given token's length or content.
 */
function bearerMatcher(token: string): (authorization: string | undefined) => boolean {
  const expected = sha256(token);
  return (authorization) => {
    const given = /^bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    return given !== undefined && timingSafeEqual(sha256(given), expected);
  };
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();
