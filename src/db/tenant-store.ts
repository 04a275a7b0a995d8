import { RegistryError } from '../core/errors.js';
import { isUuid } from '../core/ids.js';
import type { PlatformTx, RegistryStore, TenantTx } from '../core/ports.js';
import { translate } from './error-translation.js';
import { GroupCommit, type GroupCommitOptions, type GroupCommitStats } from './group-commit.js';
import { SqlPlatformTx } from './repositories/platform-tx.js';
import { SqlTenantTx } from './repositories/tenant-tx.js';
import type { DbRoles } from './roles.js';
import type { SqlClient, SqlDatabase } from './sql.js';

/**
 * `RegistryStore` on PostgreSQL (either adapter). Every transaction first switches to a role that
 * row-level security applies to and, for tenant work, sets the tenant, both transaction-local so
 * nothing survives on a pooled connection. The SQL itself is in `repositories/`, one file a table.
 */
export class SqlRegistryStore implements RegistryStore {
  readonly #db: SqlDatabase;
  readonly #roles: DbRoles;
  readonly #group: GroupCommit | undefined;

  /** `groupCommit: false` gives every shared caller a transaction of its own. */
  constructor(db: SqlDatabase, roles: DbRoles, options: { groupCommit?: GroupCommitOptions | false } = {}) {
    this.#db = db;
    this.#roles = roles;
    this.#group =
      options.groupCommit === false
        ? undefined
        : new GroupCommit(
            {
              transaction: (tenantId, fn) => this.#inTenant(tenantId, fn),
              alone: (tenantId, work) => this.withTenant(tenantId, work),
            },
            options.groupCommit,
          );
  }

  async withTenant<T>(tenantId: string, fn: (tx: TenantTx) => Promise<T>): Promise<T> {
    return this.#inTenant(tenantId, (c) => fn(new SqlTenantTx(c, tenantId)));
  }

  async withTenantShared<T>(tenantId: string, fn: (tx: TenantTx) => Promise<T>): Promise<T> {
    if (!this.#group || !isUuid(tenantId)) return this.withTenant(tenantId, fn);
    return this.#group.submit(tenantId, fn);
  }

  /** Batches and their sizes since start-up; all zero with group commit off. */
  groupCommitStats(): Readonly<GroupCommitStats> {
    return this.#group?.stats() ?? { batches: 0, members: 0, sizes: {} };
  }

  async #inTenant<T>(tenantId: string, fn: (c: SqlClient) => Promise<T>): Promise<T> {
    /* Precondition: the tenant id is a UUID (it is written into the prelude, so this also guards injection). */
    if (!isUuid(tenantId)) throw new RegistryError('TENANT_REQUIRED', 'a valid tenant id is required');
    // SET LOCAL (not SELECT set_config): same effect, and no result rows to send and parse.
    const prelude = `SET LOCAL ROLE "${this.#roles.runtime}"; SET LOCAL app.current_tenant_id = '${tenantId}'`;
    return this.#run(fn, prelude);
  }

  async withPlatform<T>(fn: (tx: PlatformTx) => Promise<T>): Promise<T> {
    return this.#run((c) => fn(new SqlPlatformTx(c)), `SET LOCAL ROLE "${this.#roles.platform}"`);
  }

  async #run<T>(fn: (c: SqlClient) => Promise<T>, prelude: string): Promise<T> {
    try {
      return await this.#db.transaction(fn, prelude);
    } catch (err) {
      throw translate(err);
    }
  }
}
