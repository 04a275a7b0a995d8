import type { SqlClient } from '../sql.js';

/**
 * What each tenant repository is built on: the client of the transaction `withTenant` opened, and
 * the tenant it set. Every statement still names `tenant_id` itself: the policy is the guarantee,
 * the explicit filter lets the planner (and Citus) route by tenant.
 *
 * Column lists are explicit everywhere: a prepared `SELECT *` fails ("cached plan must not change
 * result type") once a migration adds a column under a running service.
 */
export abstract class TenantRepository {
  constructor(
    protected readonly c: SqlClient,
    protected readonly tenantId: string,
  ) {}
}
