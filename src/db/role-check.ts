import { RegistryError } from '../core/errors.js';
import type { DbRoles } from './roles.js';
import type { SqlDatabase } from './sql.js';

/** Every table that holds tenant data; each must have row-level security enabled and forced. */
export const TENANT_TABLES = [
  'tenants',
  'principals',
  'credential_vaults',
  'vault_keys',
  'stored_credentials',
  'credential_versions',
  'credential_access_log',
  'api_tokens',
  'due_rotations',
  'expiry_notices',
  'events',
  'webhook_subscriptions',
  'webhook_deliveries',
  'rotation_endpoint_secrets',
  'audit_log_state',
  'audit_log_leaf_runs',
  'audit_log_nodes',
  'audit_signing_keys',
  'audit_checkpoints',
  'audit_sink_cursors',
  'tenant_audit_sinks',
] as const;

/** The append-only tables: no role the service runs as may change them, and triggers refuse it. */
const APPEND_ONLY: ReadonlyArray<{ table: string; label: string; triggers: string[] }> = [
  {
    table: 'credential_access_log',
    label: 'the access log',
    triggers: ['access_log_append_only', 'access_log_no_truncate'],
  },
  ...['audit_log_leaf_runs', 'audit_log_nodes', 'audit_checkpoints'].map((table) => ({
    table,
    label: table,
    triggers: [`${table}_append_only`, `${table}_no_truncate`],
  })),
];

/** Tables that belong to no tenant; only the platform role reaches them. */
export const PLATFORM_TABLES = ['platform_tokens', 'job_leases'] as const;

/** Every table of the schema but the migrations ledger: each must force row-level security. */
export const SECURED_TABLES = [...TENANT_TABLES, ...PLATFORM_TABLES] as const;

/** The policies the migrations create; any other one is reported. */
const EXPECTED_POLICIES = new Set([
  ...TENANT_TABLES.map((t) => `${t}.tenant_isolation`),
  'tenants.platform_manages_tenants',
  'platform_tokens.platform_only',
  'job_leases.platform_only',
  'due_rotations.platform_claims',
  'expiry_notices.platform_finds_due',
  'webhook_deliveries.platform_claims_due',
  'credential_access_log.platform_finds_unsealed',
  'audit_log_state.platform_finds_unsealed',
  'audit_checkpoints.platform_finds_undelivered',
  'audit_sink_cursors.platform_finds_undelivered',
  'tenant_audit_sinks.platform_finds_undelivered',
]);

/**
 * Lists every way the roles the service runs as could read around row-level security: superuser,
 * BYPASSRLS, owning (or being a member of the owner of) a tenant table, RLS not enabled or not
 * forced, a change right on the access log. Runs as each role, as the service would.
 */
export async function findRlsBypasses(db: SqlDatabase, roles: DbRoles): Promise<string[]> {
  const problems: string[] = [];
  for (const role of [roles.runtime, roles.platform]) {
    try {
      await db.transaction(async (c) => {
        const [me] = await c.query<{ rolsuper: boolean; rolbypassrls: boolean }>(
          'SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user',
        );
        if (me?.rolsuper) problems.push(`role ${role} is a superuser`);
        if (me?.rolbypassrls) problems.push(`role ${role} has BYPASSRLS`);
        const tables = await c.query<{ relname: string; rls: boolean; forced: boolean; owns: boolean }>(
          `SELECT c.relname, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
                  pg_has_role(current_user, c.relowner, 'MEMBER') AS owns
             FROM pg_class c
            WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND c.relname = ANY($1)`,
          [SECURED_TABLES],
        );
        const seen = new Set(tables.map((t) => t.relname));
        for (const name of SECURED_TABLES) if (!seen.has(name)) problems.push(`table ${name} is missing`);
        for (const t of tables) {
          if (!t.rls) problems.push(`table ${t.relname} does not have row-level security enabled`);
          if (!t.forced) problems.push(`table ${t.relname} does not force row-level security`);
          if (t.owns) problems.push(`role ${role} owns (or is a member of the owner of) table ${t.relname}`);
        }
        for (const { table, label } of APPEND_ONLY) {
          const [log] = await c.query<{ upd: boolean; del: boolean; trunc: boolean }>(
            `SELECT has_table_privilege($1, 'UPDATE') AS upd, has_table_privilege($1, 'DELETE') AS del,
                    has_table_privilege($1, 'TRUNCATE') AS trunc`,
            [table],
          );
          if (log?.upd || log?.del || log?.trunc) problems.push(`role ${role} may change ${label}`);
        }
        // Policies are permissive by default: one more policy widens access, so only ours may exist.
        const policies = await c.query<{ table: string; name: string }>(
          `SELECT c.relname AS table, p.polname AS name FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
            WHERE c.relname = ANY($1) AND c.relnamespace = 'public'::regnamespace`,
          [SECURED_TABLES],
        );
        for (const p of policies) {
          if (!EXPECTED_POLICIES.has(`${p.table}.${p.name}`))
            problems.push(`unexpected policy ${p.name} on table ${p.table}`);
        }
        const triggers = await c.query<{ table: string; name: string }>(
          `SELECT c.relname AS table, t.tgname AS name FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            WHERE c.relname = ANY($1) AND c.relnamespace = 'public'::regnamespace
              AND NOT t.tgisinternal AND t.tgenabled <> 'D'`,
          [APPEND_ONLY.map((a) => a.table)],
        );
        for (const { table, label, triggers: names } of APPEND_ONLY) {
          for (const name of names) {
            if (!triggers.some((t) => t.table === table && t.name === name))
              problems.push(`${label}'s trigger ${name} is missing or disabled`);
          }
        }
      }, `SET LOCAL ROLE "${role}"`);
    } catch (err) {
      problems.push(
        `cannot check as role ${role} (${(err as Error).message}); run \`credreg migrate\` and grant the role to the login role`,
      );
    }
  }
  return [...new Set(problems)]; // both roles see the same table-level problems
}

/** Refuses to start when row-level security could be bypassed. */
export async function assertRlsEnforced(db: SqlDatabase, roles: DbRoles): Promise<void> {
  const problems = await findRlsBypasses(db, roles);
  if (problems.length > 0) {
    throw new RegistryError(
      'CONFIG',
      `refusing to start: tenant isolation could be bypassed: ${problems.join('; ')}`,
    );
  }
}
