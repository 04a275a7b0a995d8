/**
 * The databases the benchmark runs on, each fresh and migrated, with the registry assembled on it
 * and an owner's connection for the baseline. Mirrors test/helpers/backends.ts, which is not
 * imported because it depends on vitest.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Config, KeyProviderConfig, StorageConfig } from '../src/config.js';
import type { Logger } from '../src/core/ports.js';
import { migrate } from '../src/db/migrate.js';
import { openPg } from '../src/db/pg-adapter.js';
import { openPglite } from '../src/db/pglite-adapter.js';
import { rolesFromPrefix } from '../src/db/roles.js';
import type { Backend, SqlClient } from '../src/db/sql.js';
import { assemble, type RegistryHandle } from '../src/main.js';

export interface BenchTarget {
  backend: Backend;
  registry: RegistryHandle;
  /** Connections in the registry's pool, and in the baseline's; absent for PGlite's single one. */
  poolSize?: number;
  /** Another registry on the same database with another root key provider (its own tenants). */
  assembleWith(keyProvider: KeyProviderConfig): Promise<RegistryHandle>;
  /** One transaction as the database owner: no role switch, so no row-level security. */
  ownerTransaction<T>(fn: (c: SqlClient) => Promise<T>): Promise<T>;
  /** Closes everything and, on PostgreSQL, drops the database and its roles; tries every step. */
  close(): Promise<void>;
}

const silentLogger: Logger = { info() {}, warn() {}, error() {} };

function benchConfig(prefix: string, storage: StorageConfig): Config {
  return {
    storage,
    keyProvider: { kind: 'local', rootKey: { kind: 'base64', value: randomBytes(32).toString('base64') } },
    dbRolePrefix: prefix,
    listen: { host: '127.0.0.1', port: 0 },
    keyCache: { ttlMs: 300_000, maxEntries: 10_000, maxEntriesPerTenant: 1000 },
    keyProviderGuard: { timeoutMs: 5000, breakAfter: 5, openMs: 10_000 },
    maintenance: { intervalMs: 0, rotateVaultKeysAfterDays: 90 },
    rotation: { intervalMs: 0 },
    audit: { sealIntervalMs: 0, checkpointIntervalMs: 60_000 },
    // The webhook cell's receiver is on loopback; nothing else here calls out.
    webhooks: { intervalMs: 0, allowPrivateUrls: true },
    http: {
      trustedProxies: [],
      bodyLimit: 256 * 1024,
      rateLimitPerMinute: 1_000_000,
      tokenCacheTtlMs: 5000,
      consoleDir: null,
    },
    metrics: { token: undefined, listen: undefined },
    logLevel: 'silent',
  };
}

export async function openPgliteTarget(): Promise<BenchTarget> {
  const db = await openPglite();
  const prefix = 'credreg';
  try {
    await migrate(db, rolesFromPrefix(prefix));
    const config = benchConfig(prefix, { kind: 'pglite', dataDir: '(in memory)' });
    const registry = await assemble(db, { config, logger: silentLogger });
    return {
      backend: 'pglite',
      registry,
      assembleWith: (keyProvider) =>
        assemble(db, { config: { ...config, keyProvider }, logger: silentLogger }),
      // Without a prelude the adapter runs PGlite's own transaction as its superuser: the same
      // instance and queue the registry uses, minus the role switch and RLS.
      ownerTransaction: (fn) => db.transaction(fn),
      close: () => registry.close(),
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}

/**
 * A database of its own on the server at `adminUrl`, with role names of its own (roles are
 * cluster-wide), dropped on close. The baseline gets a plain `pg.Pool` of the registry's size, so
 * both queue for connections alike.
 */
export async function openPostgresTarget(adminUrl: string, poolSize: number): Promise<BenchTarget> {
  const suffix = randomBytes(5).toString('hex');
  const dbName = `credreg_bench_${suffix}`;
  const prefix = `credreg_b${suffix}`;
  const roles = rolesFromPrefix(prefix);
  const undo: (() => Promise<void>)[] = [];
  const close = async () => {
    let first: { error: unknown } | undefined;
    for (const step of undo.reverse()) {
      try {
        await step();
      } catch (error) {
        first ??= { error };
      }
    }
    if (first) throw first.error;
  };
  try {
    await onServer(adminUrl, `CREATE DATABASE ${dbName}`);
    undo.push(() =>
      onServer(
        adminUrl,
        `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`,
        `DROP ROLE IF EXISTS "${roles.runtime}", "${roles.platform}"`,
      ),
    );
    const url = new URL(adminUrl);
    url.pathname = `/${dbName}`;
    const connectionString = url.toString();

    const db = openPg({ connectionString, maxConnections: poolSize });
    let registry: RegistryHandle | undefined;
    // Closing the registry closes its pool; a pool must not be ended twice.
    undo.push(() => (registry ? registry.close() : db.close()));
    await migrate(db, roles);
    const config = benchConfig(prefix, {
      kind: 'postgres',
      url: connectionString,
      migrationUrl: connectionString,
      poolMax: poolSize,
      connectTimeoutMs: 5000,
      statements: 'named',
    });
    registry = await assemble(db, { config, logger: silentLogger });

    const pool = new pg.Pool({ connectionString, max: poolSize });
    // `end()` resolves before its connections are closed, so DROP DATABASE ... WITH (FORCE) can
    // terminate them as they close; unheard, that 'error' event would crash the process. Any other
    // broken connection fails the next baseline transaction, which reports it.
    pool.on('error', () => {});
    undo.push(() => pool.end());
    return {
      backend: 'postgres',
      registry,
      assembleWith: (keyProvider) =>
        assemble(db, { config: { ...config, keyProvider }, logger: silentLogger }),
      poolSize,
      ownerTransaction: (fn) => poolTransaction(pool, fn),
      close,
    };
  } catch (err) {
    await close().catch(() => {}); // the setup error is the one worth reporting
    throw err;
  }
}

/** BEGIN, the body's statements, COMMIT: one round trip each, as the registry's adapter does. */
async function poolTransaction<T>(pool: pg.Pool, fn: (c: SqlClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await fn({
      query: async <R>(text: string, params?: unknown[]) => (await client.query(text, params)).rows as R[],
    });
    await client.query('COMMIT');
    return result;
  } catch (err) {
    broken = await client.query('ROLLBACK').then(
      () => undefined,
      (rollbackError: Error) => rollbackError,
    );
    throw err;
  } finally {
    client.release(broken);
  }
}

/** Statements that cannot run in a transaction (CREATE/DROP DATABASE), on a short-lived connection. */
async function onServer(adminUrl: string, ...statements: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    for (const sql of statements) await client.query(sql);
  } finally {
    await client.end();
  }
}
