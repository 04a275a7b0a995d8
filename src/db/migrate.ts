import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { RegistryError } from '../core/errors.js';
import type { DbRoles } from './roles.js';
import type { SqlDatabase } from './sql.js';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);
/** Any fixed number: serializes `migrate` across processes sharing one PostgreSQL server. */
const MIGRATION_LOCK = 7_361_220_001;

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export function loadMigrations(): Migration[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const sql = readFileSync(new URL(file, MIGRATIONS_DIR), 'utf8');
      return {
        version: Number(file.slice(0, 4)),
        name: file.slice(5, -4),
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
    });
}

export interface MigrationResult {
  applied: string[];
  current: number;
}

/**
 * Applies pending numbered migrations, each in its own transaction with its row in
 * `credreg_migrations`. Idempotent; refuses to go on if an applied file was edited afterwards.
 * `through` stops after that version: how a test sets up the data a later migration moves.
 */
export async function migrate(
  db: SqlDatabase,
  roles: DbRoles,
  options: { through?: number } = {},
): Promise<MigrationResult> {
  const migrations = loadMigrations().filter((m) => m.version <= (options.through ?? Infinity));
  return db.session(async (s) => {
    await s.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await s.exec(`CREATE TABLE IF NOT EXISTS credreg_migrations (
        version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now())`);
      const done = new Map(
        (
          await s.query<{ version: number; checksum: string }>(
            'SELECT version, checksum FROM credreg_migrations',
          )
        ).map((r) => [r.version, r.checksum]),
      );
      const applied: string[] = [];
      for (const m of migrations) {
        const checksum = done.get(m.version);
        if (checksum !== undefined) {
          if (checksum !== m.checksum) {
            throw new RegistryError(
              'CONFIG',
              `migration ${m.version}_${m.name} changed after it was applied; restore the original file and add a new migration instead`,
            );
          }
          continue;
        }
        await s.exec('BEGIN');
        try {
          await s.exec(render(m.sql, roles));
          await s.query('INSERT INTO credreg_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
            m.version,
            m.name,
            m.checksum,
          ]);
          await s.exec('COMMIT');
        } catch (err) {
          await s.exec('ROLLBACK');
          throw new RegistryError(
            'INTERNAL',
            `migration ${m.version}_${m.name} failed: ${(err as Error).message}`,
            {
              cause: err,
            },
          );
        }
        applied.push(`${m.version}_${m.name}`);
      }
      return { applied, current: migrations.at(-1)?.version ?? 0 };
    } finally {
      await s.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  });
}

/**
 * The newest migration version applied, or 0 on an empty database. With `roles`, it reads as the
 * runtime role, as the service does: a production login role may have no rights of its own.
 */
export async function appliedVersion(db: SqlDatabase, roles?: DbRoles): Promise<number> {
  const [state] = await db.transaction((c) =>
    c.query<{ migrated: boolean; role: boolean }>(
      `SELECT to_regclass('credreg_migrations') IS NOT NULL AS migrated,
              EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS role`,
      [roles?.runtime ?? ''],
    ),
  );
  if (!state?.migrated || (roles && !state.role)) return 0;
  const [row] = await db.transaction(
    (c) => c.query<{ v: number }>('SELECT coalesce(max(version), 0)::int AS v FROM credreg_migrations'),
    roles ? `SET LOCAL ROLE "${roles.runtime}"` : undefined,
  );
  return row?.v ?? 0;
}

export function latestVersion(): number {
  return loadMigrations().at(-1)?.version ?? 0;
}

/** Role names are plain identifiers (checked in `rolesFromPrefix`), so quoting them is enough. */
function render(sql: string, roles: DbRoles): string {
  return sql
    .replaceAll('{{runtime_role_literal}}', `'${roles.runtime}'`)
    .replaceAll('{{platform_role_literal}}', `'${roles.platform}'`)
    .replaceAll('{{runtime_role}}', `"${roles.runtime}"`)
    .replaceAll('{{platform_role}}', `"${roles.platform}"`);
}
