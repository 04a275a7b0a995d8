import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe } from 'vitest';
import type { Config, KeyProviderConfig } from '../../src/config.js';
import type { Clock, Logger } from '../../src/core/ports.js';
import type { Rotator } from '../../src/core/rotator.js';
import { migrate } from '../../src/db/migrate.js';
import { openPg } from '../../src/db/pg-adapter.js';
import { openPglite } from '../../src/db/pglite-adapter.js';
import { type DbRoles, rolesFromPrefix } from '../../src/db/roles.js';
import type { Backend, SqlDatabase } from '../../src/db/sql.js';
import { assemble, type RegistryHandle } from '../../src/main.js';

/** A migrated database of its own: PGlite in memory, or a fresh database on the PostgreSQL server. */
export interface TestDatabase {
  backend: Backend;
  /** Connected as the owner (PGlite's superuser, or DATABASE_URL's user): for arranging and inspecting. */
  db: SqlDatabase;
  roles: DbRoles;
  prefix: string;
  /** The database's URL, on PostgreSQL. */
  url?: string;
  close(): Promise<void>;
}

export interface TestBackend {
  name: Backend;
  /** `through`: migrated only that far (for a test of a later migration's data move). */
  open(options?: { through?: number }): Promise<TestDatabase>;
}

const DATABASE_URL = process.env.DATABASE_URL;

const pglite: TestBackend = {
  name: 'pglite',
  async open(options) {
    const db = await openPglite();
    const prefix = 'credreg';
    const roles = rolesFromPrefix(prefix);
    await migrate(db, roles, options);
    return { backend: 'pglite', db, roles, prefix, close: () => db.close() };
  },
};

const postgres: TestBackend = {
  name: 'postgres',
  async open(options) {
    // Roles are cluster-wide: a prefix of its own keeps parallel test files from sharing them.
    const suffix = randomBytes(5).toString('hex');
    const prefix = `credreg_t${suffix}`;
    const dbName = `credreg_test_${suffix}`;
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const url = new URL(DATABASE_URL!);
    url.pathname = `/${dbName}`;
    const db = openPg({ connectionString: url.toString(), maxConnections: 20 });
    const roles = rolesFromPrefix(prefix);
    await migrate(db, roles, options);
    return {
      backend: 'postgres',
      db,
      roles,
      prefix,
      url: url.toString(),
      async close() {
        await db.close();
        const a = new pg.Client({ connectionString: DATABASE_URL });
        await a.connect();
        await a.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
        await a.query(`DROP ROLE IF EXISTS "${roles.runtime}", "${roles.platform}"`);
        await a.end();
      },
    };
  },
};

/** PGlite always; PostgreSQL when DATABASE_URL is set (CI sets it). */
export const BACKENDS: TestBackend[] = DATABASE_URL ? [pglite, postgres] : [pglite];

/** One `describe` per backend, so every suite runs on both. */
export function describeEachBackend(title: string, fn: (backend: TestBackend) => void): void {
  for (const backend of BACKENDS) describe(`${title} [${backend.name}]`, () => fn(backend));
  if (!DATABASE_URL) describe.skip(`${title} [postgres] (set DATABASE_URL to run)`, () => {});
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

/** A local root key provider from a base64 key. */
export const localKey = (value: string): KeyProviderConfig => ({
  kind: 'local',
  rootKey: { kind: 'base64', value },
});

export function testConfig(prefix: string, rootKey = randomBytes(32).toString('base64')): Config {
  return {
    storage: { kind: 'pglite', dataDir: '/nonexistent' },
    keyProvider: localKey(rootKey),
    dbRolePrefix: prefix,
    listen: { host: '127.0.0.1', port: 0 },
    keyCache: { ttlMs: 300_000, maxEntries: 10_000, maxEntriesPerTenant: 1000 },
    keyProviderGuard: { timeoutMs: 30_000, breakAfter: 5, openMs: 10_000 },
    maintenance: { intervalMs: 0, rotateVaultKeysAfterDays: 90 },
    rotation: { intervalMs: 0 },
    audit: { sealIntervalMs: 0, checkpointIntervalMs: 60_000, sinkIntervalMs: 0, sinks: [] },
    webhooks: { intervalMs: 0, allowPrivateUrls: false },
    http: {
      trustedProxies: [],
      bodyLimit: 256 * 1024,
      rateLimitPerMinute: 100_000,
      tokenCacheTtlMs: 5000,
      consoleDir: null,
    },
    metrics: { token: undefined, listen: undefined },
    logLevel: 'silent',
  };
}

/** A settable clock, for expiry and recovery windows. */
export class TestClock implements Clock {
  constructor(public current = new Date()) {}
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

export interface TestRegistry extends TestDatabase {
  registry: RegistryHandle;
  clock: TestClock;
  rootKey: string;
}

export async function openTestRegistry(
  backend: TestBackend,
  options: { logger?: Logger; rootKey?: string; config?: Partial<Config>; rotators?: Rotator[] } = {},
): Promise<TestRegistry> {
  const t = await backend.open();
  const clock = new TestClock();
  const rootKey = options.rootKey ?? randomBytes(32).toString('base64');
  const registry = await assemble(t.db, {
    config: { ...testConfig(t.prefix, rootKey), ...options.config },
    logger: options.logger ?? silentLogger,
    clock,
    ...(options.rotators ? { rotators: options.rotators } : {}),
  });
  return { ...t, registry, clock, rootKey };
}

/** `rows` access-log rows of the tenant written at once as the database owner ("owner", "row n"). */
export async function insertAccessRows(t: TestDatabase, tenantId: string, rows: number): Promise<void> {
  await t.db.transaction((c) =>
    c.query(
      `INSERT INTO credential_access_log (tenant_id, id, action, outcome, actor, reason)
       SELECT $1, gen_random_uuid(), 'reveal', 'granted', 'owner', 'row ' || n FROM generate_series(1, $2::int) AS n`,
      [tenantId, rows],
    ),
  );
}

/** Runs SQL as the runtime role with a tenant set (or none), around the service code. */
export async function asRuntime<T>(
  t: TestDatabase,
  tenantId: string | null,
  fn: (q: <R = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<R[]>) => Promise<T>,
): Promise<T> {
  const tenant = tenantId ? `, set_config('app.current_tenant_id', '${tenantId}', true)` : '';
  return t.db.transaction(
    (c) => fn((sql, params) => c.query(sql, params)),
    `SELECT set_config('role', '${t.roles.runtime}', true)${tenant}`,
  );
}

/** Expects `promise` to reject with a RegistryError of `code`; returns the error. */
export async function expectCode(promise: Promise<unknown>, code: string): Promise<Error & { code: string }> {
  try {
    await promise;
  } catch (err) {
    const e = err as Error & { code: string };
    if (e.code !== code) throw new Error(`expected ${code}, got ${e.code}: ${e.message}`);
    return e;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}
