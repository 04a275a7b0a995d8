import type { FastifyRequest } from 'fastify';
import type { Permission } from '../core/authorization.js';
import { RegistryError } from '../core/errors.js';
import { isUuid } from '../core/ids.js';
import type { AccessAction, Caller, RequestContext } from '../core/types.js';

/** What a route requires of its caller; set as the route's `config.access`. */
export type RouteAccess =
  | { kind: 'public' }
  | { kind: 'platform' }
  | {
      kind: 'tenant';
      permission: Permission;
      /** The access-log action a refusal of this route is recorded as. */
      action: AccessAction;
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

/** The route config of a tenant route: the permission it needs, and the action a refusal is logged as. */
export const tenantAccess = (permission: Permission, action: AccessAction) => ({
  access: { kind: 'tenant' as const, permission, action },
});

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
  };
}

/** The credential and vault a request names in its path, for the access-log row of a refusal. */
export function subjectOf(request: FastifyRequest, action: AccessAction) {
  const params = (request.params ?? {}) as Record<string, string | undefined>;
  const asId = (v: string | undefined) => (isUuid(v) ? v : null);
  const credentialRoute = request.routeOptions.url?.startsWith('/v1/credentials/') ?? false;
  return {
    action,
    credentialId: credentialRoute ? asId(params.id) : null,
    vaultId:
      asId(params.vaultId) ??
      (request.routeOptions.url?.startsWith('/v1/vaults/:id') ? asId(params.id) : null),
  };
}
