import type { Role } from './types.js';

/** What a route needs; roles grant sets of these. */
export type Permission =
  | 'principals:manage'
  | 'tokens:manage'
  | 'vaults:read'
  | 'vaults:write'
  | 'credentials:read'
  | 'credentials:write'
  | 'credentials:reveal'
  | 'audit:read'
  | 'keys:manage';

/**
 * The role matrix. `writer` changes credentials but cannot read them back (write-only automation);
 * `auditor` reads metadata and the log but never a value; only `reader` and `admin` reveal.
 */
const GRANTS: Record<Role, ReadonlySet<Permission>> = {
  admin: new Set<Permission>([
    'principals:manage',
    'tokens:manage',
    'vaults:read',
    'vaults:write',
    'credentials:read',
    'credentials:write',
    'credentials:reveal',
    'audit:read',
    'keys:manage',
  ]),
  writer: new Set<Permission>(['vaults:read', 'vaults:write', 'credentials:read', 'credentials:write']),
  reader: new Set<Permission>(['vaults:read', 'credentials:read', 'credentials:reveal']),
  auditor: new Set<Permission>(['vaults:read', 'credentials:read', 'audit:read']),
};

export function roleAllows(role: Role, permission: Permission): boolean {
  return GRANTS[role].has(permission);
}
