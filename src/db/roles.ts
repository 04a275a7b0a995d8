import { RegistryError } from '../core/errors.js';

/** The two database roles the service switches to; never the owner, never a superuser. */
export interface DbRoles {
  /** Tenant work: subject to row-level security on every table. */
  runtime: string;
  /** Tenant management: may touch the `tenants` table only. */
  platform: string;
}

/**
 * Role names come from one prefix (Default: `credreg`): `credreg_app` and `credreg_platform`.
 * Roles are cluster-wide, so deployments (or test runs) sharing one server use different prefixes.
 */
export function rolesFromPrefix(prefix = 'credreg'): DbRoles {
  /* Precondition: the prefix is a plain identifier, since role names are written into SQL. */
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(prefix)) {
    throw new RegistryError(
      'CONFIG',
      'the role prefix must be lower-case letters, digits and "_" (at most 41)',
    );
  }
  return Object.freeze({ runtime: `${prefix}_app`, platform: `${prefix}_platform` });
}
