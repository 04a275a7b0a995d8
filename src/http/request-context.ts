import type { FastifyRequest } from 'fastify';
import { RegistryError } from '../core/errors.js';
import type { Caller, RequestContext } from '../core/types.js';
import type { AnyUseCase } from '../core/use-case.js';

/** What a route requires of its caller; set as the route's `config.access`. */
export type RouteAccess =
  | { kind: 'public' }
  /** Any valid token, platform or tenant: the route answers only what the token itself says. */
  | { kind: 'caller' }
  | {
      kind: 'platform';
      /** The use-case the route runs in the tenant its `:tenantId` names, which logs its refusals. */
      inTenant?: AnyUseCase;
    }
  | {
      kind: 'tenant';
      /**
       * The use-case the route runs: it decides what the caller may do and what the access log
       * records, including for a request the route refuses before calling it.
       */
      useCase: AnyUseCase;
    };

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
    /** The caller's `X-Request-Id`, when printable and short; the request's own id is the server's. */
    clientRequestId?: string;
  }
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
}

/** The route config of a tenant route: the use-case it runs. */
export const tenantAccess = (useCase: AnyUseCase) => ({ access: { kind: 'tenant' as const, useCase } });

type TenantCaller = Extract<Caller, { kind: 'tenant' }>;

/** The caller of a tenant route (the auth hook guarantees one). */
export function tenantCaller(request: FastifyRequest): TenantCaller {
  const caller = request.caller;
  if (caller?.kind !== 'tenant') throw new RegistryError('FORBIDDEN', 'this route needs a tenant token');
  return caller;
}

/** Who, from where: what every access-log row records, plus the token's vault scope. */
export function requestContext(request: FastifyRequest): RequestContext {
  const caller = request.caller;
  const ua = request.headers['user-agent'];
  return {
    actor:
      caller?.kind === 'tenant' ? caller.principalId : caller ? `platform:${caller.name}` : '(anonymous)',
    sourceIp: request.ip,
    ...(ua ? { userAgent: ua } : {}),
    requestId: request.id,
    ...(request.clientRequestId ? { clientRequestId: request.clientRequestId } : {}),
    ...(caller?.kind === 'tenant' && caller.vaultId ? { vaultScope: caller.vaultId } : {}),
    ...(caller?.kind === 'tenant' ? { role: caller.role } : {}),
  };
}

/**
 * What a request gives its use-case, raw: the query and the body as sent, and the path's params,
 * last, so a body cannot make a refusal's row name another resource than the path does. A path
 * that names its resource by name (`/v1/vaults/by-name/{name}`, `/v1/secrets/{vault}/{name}`)
 * names it wholly: an `id` in the body or query is dropped, or the row would name another one.
 */
export function rawInput(request: FastifyRequest): Record<string, unknown> {
  const asObject = (v: unknown): Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  const params = asObject(request.params);
  const given: Record<string, unknown> = { ...asObject(request.query), ...asObject(request.body) };
  if ('name' in params) delete given.id;
  return { ...given, ...params };
}
