import rateLimit from '@fastify/rate-limit';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { outcomeOfCode } from '../core/audited-operation.js';
import { type ErrorCode, isRegistryError, RegistryError } from '../core/errors.js';
import { isUuid, newId } from '../core/ids.js';
import { fieldName, PRINTABLE_ID } from '../core/validation.js';
import type { RegistryHandle } from '../main.js';
import { consoleRoutes } from './console-routes.js';
import { HttpMetrics } from './metrics.js';
import { addMetricsRoute, type MetricsAccess } from './metrics-routes.js';
import { registerOpenApi } from './openapi.js';
import { rawProblem, sendProblem, sendRegistryError } from './problem.js';
import { rawInput, requestContext } from './request-context.js';
import { auditRoutes } from './routes/audit.js';
import { auditSinkRoutes } from './routes/audit-sinks.js';
import { backupRoutes } from './routes/backup.js';
import { credentialRoutes } from './routes/credentials.js';
import { keyRoutes } from './routes/keys.js';
import { platformRoutes } from './routes/platform.js';
import { secretRoutes } from './routes/secrets.js';
import { tokenRoutes } from './routes/tokens.js';
import { vaultRoutes } from './routes/vaults.js';
import { webhookRoutes } from './routes/webhooks.js';
import { whoamiRoutes } from './routes/whoami.js';
import { SECURITY_HEADERS } from './security-headers.js';

export interface AppOptions {
  logger?: FastifyBaseLogger;
  /** See `Config['http']`. */
  http: { trustedProxies: string[]; bodyLimit: number; rateLimitPerMinute: number };
  /**
   * Who may read `/metrics` here (see `MetricsAccess`; Default: nobody), and the collector, when a
   * separate metrics listener must report this app's requests too. (Default: the app's own)
   */
  metrics?: MetricsAccess & { collector?: HttpMetrics };
  /** The built web console served at `/ui` (see `Config['http']['consoleDir']`). (Default: none) */
  consoleDir?: string | null;
}

const clientRequestIdOf = (given: unknown) =>
  typeof given === 'string' && PRINTABLE_ID.test(given) ? given : undefined;
/** Requests per minute one client IP may make, in units of the per-token limit. */
const IP_BUDGET = 10;
/** The auth scheme is case-insensitive (RFC 9110). */
const bearer = (req: FastifyRequest) => /^bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];

/**
 * The HTTP service: `/v1` (JSON, bearer tokens, RFC 9457 errors), `/openapi.json`, `/docs`,
 * `/healthz`, `/readyz`, `/metrics` and the web console at `/ui`.
 */
export async function buildApp(registry: RegistryHandle, options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: options.http.bodyLimit,
    trustProxy: options.http.trustedProxies.length > 0 ? options.http.trustedProxies : false,
    // Every request id is the server's, so no caller can make two log rows share one; a caller's
    // own X-Request-Id (printable and short) is kept beside it, in the logs, the access log and the reply.
    genReqId: () => newId(),
    requestIdHeader: false,
    // Without a logger there is nothing to bind: Fastify then skips the per-request child logger.
    ...(options.logger && {
      childLoggerFactory: (logger, bindings, opts, raw) => {
        const client = clientRequestIdOf(raw.headers['x-request-id']);
        return logger.child(client ? { ...bindings, clientRequestId: client } : bindings, opts);
      },
    }),
    // Fastify's own 503 while closing is not a problem document; the first hook below answers instead.
    return503OnClosing: false,
    // URLs refused before routing answer as problem documents too (never quoting the URL).
    frameworkErrors: (error, req, reply) =>
      error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? sendProblem(reply, req, 414, 'BAD_REQUEST', 'a path segment is longer than 100 characters')
        : sendProblem(reply, req, 400, 'BAD_REQUEST', 'the URL is not valid (a malformed percent-escape?)'),
    clientErrorHandler: (error, socket) => {
      if (!socket.writable) return;
      const tooLarge = (error as { code?: string }).code === 'HPE_HEADER_OVERFLOW';
      socket.end(
        tooLarge
          ? rawProblem(431, 'the request head is larger than 16 KiB')
          : rawProblem(400, 'the request is not valid HTTP'),
      );
    },
  }).withTypeProvider<ZodTypeProvider>();
  const metrics = options.metrics?.collector ?? new HttpMetrics(registry);

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  // Two budgets, both checked in the auth hook below: per client IP before the token is looked at
  // (so floods of bad or random tokens are bounded too), then per verified token.
  await app.register(rateLimit, { global: false });
  const perMinute = options.http.rateLimitPerMinute;
  const byIp = app.createRateLimit({
    max: perMinute * IP_BUDGET,
    timeWindow: 60_000,
    keyGenerator: (req) => `ip:${req.ip}`,
  });
  const byToken = app.createRateLimit({
    max: perMinute,
    timeWindow: 60_000,
    keyGenerator: (req) => `token:${req.caller?.tokenId ?? req.ip}`,
  });
  const limit = async (check: typeof byIp, req: FastifyRequest, reply: FastifyReply) => {
    const r = await check(req);
    if (r.isAllowed || !r.isExceeded) return; // isAllowed: an allow-listed request
    reply.header('retry-after', String(r.ttlInSeconds));
    throw Object.assign(
      new Error(`rate limit of ${r.max} requests per minute exceeded; retry in ${r.ttlInSeconds} s`),
      {
        statusCode: 429,
      },
    );
  };
  await registerOpenApi(app);
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });

  app.addHook('onRequest', async (req, reply) => {
    // First, so that every answer carries them, refusals included (see security-headers.ts).
    reply.headers(SECURITY_HEADERS);
    reply.header('x-request-id', req.id);
    const client = clientRequestIdOf(req.headers['x-request-id']);
    if (client) {
      req.clientRequestId = client;
      reply.header('x-client-request-id', client);
    }
    if (closing.has(app)) {
      // A request after the close began: this instance is going away, another (or this one
      // restarted) will answer; the onSend hook closes the connection after the reply.
      throw new RegistryError('UNAVAILABLE', 'the service is shutting down; retry');
    }
    // `routeOptions` is a getter that builds a new object on every read: read it once.
    const route = req.routeOptions;
    const access = route.config.access;
    // A /v1 route that forgot to declare its access is refused, not served openly.
    if (!access && route.url?.startsWith('/v1/')) {
      throw new RegistryError('INTERNAL', `route ${route.url} declares no access rule`);
    }
    if (!access || access.kind === 'public') return;
    if (req.url.startsWith('/v1/')) reply.header('cache-control', 'no-store');
    await limit(byIp, req, reply);
    req.caller = await registry.authenticator.authenticate(bearer(req));
    await limit(byToken, req, reply);
    if (access.kind === 'caller') return;
    if (access.kind === 'platform') {
      if (req.caller.kind === 'platform') return;
      // Refused before any tenant work, but the attempt is the token's tenant's: it is logged there.
      throw await registry
        .forTenant(req.caller.tenantId)
        .refusePlatformAccess(`${req.method} ${route.url}`, requestContext(req));
    }
    // What a tenant caller may do is its use-case's to decide (role, vault scope, input), not ours.
    if (req.caller.kind !== 'tenant')
      throw new RegistryError('FORBIDDEN', 'platform tokens manage tenants only');
  });

  // Synchronous hooks (`done`) where nothing is awaited: an async one costs a promise per request.
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: req.method, status: reply.statusCode });
    metrics.duration.observe({ route, method: req.method }, reply.elapsedTime / 1000);
    if (reply.statusCode === 401 || reply.statusCode === 403)
      metrics.denials.inc({ status: reply.statusCode });
    done();
  });

  /** The use-case a route runs, and in which tenant: the caller's, or the one a platform route names. */
  const useCaseOf = (req: FastifyRequest) => {
    const access = req.routeOptions.config.access;
    if (access?.kind === 'tenant' && req.caller?.kind === 'tenant')
      return { useCase: access.useCase, tenantId: req.caller.tenantId };
    const named = (req.params as { tenantId?: unknown } | undefined)?.tenantId;
    if (access?.kind === 'platform' && access.inTenant && req.caller?.kind === 'platform' && isUuid(named))
      return { useCase: access.inTenant, tenantId: named };
    return undefined;
  };
  const isReveal = (req: FastifyRequest) => {
    const access = req.routeOptions.config.access;
    return access?.kind === 'tenant' && access.useCase.action === 'reveal';
  };
  /**
   * A request refused here, before its use-case ran (input the schema or the body parser refused):
   * the use-case records it, and may answer otherwise (a role that may not use it at all).
   */
  const refusedHere = async (req: FastifyRequest, error: RegistryError): Promise<RegistryError> => {
    const target = useCaseOf(req);
    if (!target) return error;
    return registry
      .forTenant(target.tenantId)
      .refuse(target.useCase, rawInput(req), requestContext(req), error);
  };

  app.setErrorHandler(async (err, req, reply) => {
    if (isRegistryError(err)) {
      if (isReveal(req)) metrics.reveals.inc({ outcome: revealOutcome(err.code) });
      if (err.code === 'AUDIT_UNAVAILABLE') metrics.auditWriteFailures.inc();
      // The client sees a fixed text for these; the operator's log gets ours (never a value).
      if (err.code === 'INTERNAL' || err.code === 'CONFIG' || err.code === 'CRYPTO')
        req.log.error({ code: err.code }, err.message);
      return sendRegistryError(reply, req, err);
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const issues = err.validation.flatMap((v) => {
        const path =
          [v.instancePath.replace(/^\//, '').replaceAll('/', '.')].filter(Boolean).join('') ||
          err.validationContext ||
          'request';
        // A field this version does not know is refused, not dropped, and named (a field name
        // the caller chose, printable and cut short; never a value).
        if (v.keyword === 'unrecognized_keys') {
          const keys = ((v.params as { keys?: unknown }).keys ?? []) as unknown[];
          return keys.map((k) => ({
            path: `${path === err.validationContext ? '' : `${path}.`}${fieldName(k)}`,
            problem: 'is not a known field',
          }));
        }
        // The schema's rule, not the input: messages here never quote what was sent.
        return [
          {
            path,
            problem: v.keyword === 'invalid_type' ? 'has the wrong type or is missing' : 'is not valid',
          },
        ];
      });
      const error = await refusedHere(
        req,
        new RegistryError('VALIDATION', 'the request does not match the API schema', { issues }),
      );
      if (isReveal(req)) metrics.reveals.inc({ outcome: revealOutcome(error.code) });
      return sendRegistryError(reply, req, error);
    }
    const e = err as { statusCode?: number; code?: string; message?: string };
    const status =
      typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 500;
    if (status === 429) metrics.denials.inc({ status });
    if (status !== 429 && status !== 500) {
      // Refused by the body parser (malformed JSON, a media type or size it does not take): an
      // attempt like any other, so its use-case records it. Rate-limited requests are not: a row
      // each would hand a flood the very database work the limit is there to spare.
      const refused = await refusedHere(req, new RegistryError('BAD_REQUEST', e.message ?? 'bad request'));
      if (refused.code !== 'BAD_REQUEST') {
        if (isReveal(req)) metrics.reveals.inc({ outcome: revealOutcome(refused.code) });
        return sendRegistryError(reply, req, refused);
      }
    }
    if (isReveal(req))
      metrics.reveals.inc({
        outcome: status === 429 ? 'rate_limited' : status === 500 ? 'error' : 'invalid',
      });
    if (status === 500) req.log.error({ err: { code: e.code, message: e.message } }, 'unhandled error');
    const detail =
      status === 500 ? 'the server failed to complete the request' : (e.message ?? 'bad request');
    return sendProblem(
      reply,
      req,
      status,
      status === 429 ? 'RATE_LIMITED' : status === 500 ? 'INTERNAL' : 'BAD_REQUEST',
      detail,
    );
  });

  app.setNotFoundHandler((req, reply) =>
    sendProblem(reply, req, 404, 'NOT_FOUND', `no route for ${req.method} ${req.url.split('?')[0]}`),
  );

  const publicRoute = { config: { access: { kind: 'public' as const } }, schema: { hide: true } };
  app.get('/healthz', publicRoute, async () => ({ status: 'ok' }));
  app.get('/readyz', publicRoute, async (_req, reply) => {
    const r = await registry.readiness();
    return reply
      .code(r.ready ? 200 : 503)
      .send({ status: r.ready ? 'ready' : 'not_ready', detail: r.detail, checks: r.checks });
  });
  addMetricsRoute(app, metrics, options.metrics);
  app.get('/openapi.json', publicRoute, async () => app.swagger());

  await app.register(platformRoutes(registry));
  await app.register(backupRoutes(registry));
  await app.register(tokenRoutes(registry));
  await app.register(vaultRoutes(registry));
  await app.register(credentialRoutes(registry));
  await app.register(secretRoutes(registry));
  await app.register(auditRoutes(registry));
  await app.register(auditSinkRoutes(registry));
  await app.register(keyRoutes(registry));
  await app.register(webhookRoutes(registry));
  await app.register(whoamiRoutes);
  await app.register(consoleRoutes(options.consoleDir ?? null));
  app.addHook('onSend', (req, reply, payload, done) => {
    // While closing, every answer ends its connection (see closeGracefully).
    if (closing.has(app)) reply.header('connection', 'close');
    if (isReveal(req) && reply.statusCode === 200) metrics.reveals.inc({ outcome: 'granted' });
    done(null, payload);
  });
  return app;
}

/** A reveal's outcome as the access log names it; refusals before any tenant work have their own. */
function revealOutcome(code: ErrorCode): string {
  if (code === 'UNAUTHENTICATED') return 'unauthenticated';
  if (code === 'TENANT_REQUIRED') return 'invalid';
  return outcomeOfCode(code);
}

/** Apps whose close has begun: their new requests are answered 503 (see the first onRequest hook). */
const closing = new WeakSet<FastifyInstance>();

/**
 * Closes the service without cutting a request off:
 * 1. At once, every new request is answered 503 UNAVAILABLE (a problem document with `Retry-After`)
 *    and every response, those of requests in flight included, carries `Connection: close`, so each
 *    keep-alive connection is closed by the server right after an answer, never while the client's
 *    next request may be on its way.
 * 2. After `graceMs`, the listener closes. Connections that stayed idle all that time are closed
 *    then (Node closes idle ones on close), and the rest as they turn idle (swept every 100 ms):
 *    keep-alive connections would otherwise hold the close for the whole keep-alive timeout.
 * 3. After `timeoutMs`, whatever remains is cut.
 */
export async function closeGracefully(
  app: FastifyInstance,
  { graceMs = 1000, timeoutMs = 30_000 }: { graceMs?: number; timeoutMs?: number } = {},
): Promise<void> {
  closing.add(app);
  const cut = setTimeout(() => app.server.closeAllConnections(), timeoutMs);
  let sweep: NodeJS.Timeout | undefined;
  try {
    await new Promise((resolve) => setTimeout(resolve, graceMs));
    sweep = setInterval(() => app.server.closeIdleConnections(), 100);
    await app.close();
  } finally {
    clearInterval(sweep);
    clearTimeout(cut);
  }
}
