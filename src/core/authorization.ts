import { RegistryError } from './errors.js';
import type { AccessAction, Role } from './types.js';

/** What a use-case needs of its caller; roles grant sets of these. */
export type Capability =
  | 'principals:manage'
  | 'tokens:manage'
  | 'vaults:read'
  | 'vaults:create'
  | 'vaults:write'
  | 'credentials:read'
  | 'credentials:write'
  | 'credentials:reveal'
  | 'audit:read'
  | 'keys:manage'
  | 'webhooks:manage'
  | 'audit_sinks:manage';

/**
 * The role matrix. `writer` changes credentials but cannot read them back (write-only automation);
 * `auditor` reads metadata and the log but never a value; only `reader` and `admin` reveal.
 */
const GRANTS: Record<Role, ReadonlySet<Capability>> = {
  admin: new Set<Capability>([
    'principals:manage',
    'tokens:manage',
    'vaults:read',
    'vaults:create',
    'vaults:write',
    'credentials:read',
    'credentials:write',
    'credentials:reveal',
    'audit:read',
    'keys:manage',
    'webhooks:manage',
    'audit_sinks:manage',
  ]),
  writer: new Set<Capability>([
    'vaults:read',
    'vaults:create',
    'vaults:write',
    'credentials:read',
    'credentials:write',
  ]),
  reader: new Set<Capability>(['vaults:read', 'credentials:read', 'credentials:reveal']),
  auditor: new Set<Capability>(['vaults:read', 'credentials:read', 'audit:read']),
};

/**
 * Capabilities a vault-scoped token never has, whatever its role: each reaches past its one vault
 * (a new vault, or principals and tokens that could be given any scope).
 */
const UNSCOPED_ONLY: ReadonlySet<Capability> = new Set<Capability>([
  'principals:manage',
  'tokens:manage',
  'vaults:create',
  // A subscription receives events from every vault of the tenant.
  'webhooks:manage',
  // A sink receives every row of the tenant's log.
  'audit_sinks:manage',
]);

/** Every capability, in the order the role matrix lists them. */
export const CAPABILITIES: readonly Capability[] = Object.freeze([...GRANTS.admin]);

/**
 * What a token with `role` may do, limited to one vault or not: what a client shows its user (the
 * server checks each call anyway).
 */
export function capabilitiesOf(role: Role, vaultScoped: boolean): Capability[] {
  return CAPABILITIES.filter((c) => roleAllows(role, c) && !(vaultScoped && UNSCOPED_ONLY.has(c)));
}

export function roleAllows(role: Role, capability: Capability): boolean {
  return GRANTS[role].has(capability);
}

/**
 * Why a caller may not use `capability`, or null when it may. A caller without a role is the
 * library's own in-process caller (trusted as an administrator of the tenant it opened); every
 * caller that comes through the HTTP API has the role of its token.
 */
export function refusal(
  caller: { role?: Role; vaultScope?: string },
  capability: Capability,
  action: AccessAction,
): RegistryError | null {
  if (caller.vaultScope && UNSCOPED_ONLY.has(capability)) {
    return new RegistryError('FORBIDDEN', `a token limited to one vault cannot do this (${action})`);
  }
  if (caller.role && !roleAllows(caller.role, capability)) {
    return new RegistryError('FORBIDDEN', `the ${caller.role} role does not allow this (${action})`);
  }
  return null;
}
