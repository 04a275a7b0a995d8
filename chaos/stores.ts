/**
 * A store of its own for each scenario: a fresh database on the private cluster, migrated by its
 * owner, or an embedded store in a temporary directory; with the environment the service runs
 * with on it, and how the ledger is checked against it afterwards.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { ChaosContext } from './context.js';
import type { Ledger } from './ledger.js';
import { runCli } from './service.js';
import { type Verification, verifyEmbedded, verifyOnCluster } from './verify.js';

export interface Store {
  backend: 'postgres' | 'embedded';
  /** The service's environment for this store (database, root key, and the chaos defaults). */
  env: Record<string, string>;
  /** `serve --migrate` on the embedded store; PostgreSQL is migrated once by the owner. */
  migrate: boolean;
  /** The login role the service connects as (PostgreSQL). */
  serviceUser?: string;
  database?: string;
  verify(ledger: Ledger): Promise<Verification>;
}

/** The environment every scenario's service gets, whatever its store. */
const SERVICE_DEFAULTS = {
  CREDREG_LISTEN: '127.0.0.1:0',
  CREDREG_MAINTENANCE_INTERVAL_MS: '0',
  CREDREG_RATE_LIMIT: '1000000',
  CREDREG_LOG_LEVEL: 'warn',
};

const identifier = (name: string) => `chaos_${name.replace(/[^a-z0-9]/g, '_')}`;

/**
 * A database of its own for one scenario, migrated by the owner; the service logs in as a role
 * that is nothing but a member of the runtime roles, as the README's production set-up says, so
 * its connections can be told from ours (`usename`).
 */
export async function postgresStore(
  ctx: ChaosContext,
  name: string,
  extraEnv: Record<string, string> = {},
): Promise<Store> {
  const cluster = await ctx.cluster();
  const database = identifier(name);
  const prefix = identifier(name);
  const login = { user: `${prefix}_svc`, password: randomBytes(18).toString('base64url') };
  await cluster.sql('postgres', `CREATE DATABASE ${database}`);
  const rootKey = randomBytes(32).toString('base64');
  await runCli(['migrate'], {
    built: ctx.built,
    env: {
      DATABASE_URL: cluster.url(database),
      CREDREG_DB_ROLE_PREFIX: prefix,
      CREDREG_ROOT_KEY: rootKey,
      CREDREG_LOG_LEVEL: 'warn',
    },
  });
  await cluster.sql(
    database,
    `CREATE ROLE ${login.user} LOGIN PASSWORD '${login.password}' NOINHERIT IN ROLE ${prefix}_app, ${prefix}_platform`,
  );
  return {
    backend: 'postgres',
    env: {
      ...SERVICE_DEFAULTS,
      DATABASE_URL: cluster.url(database, login),
      CREDREG_DB_ROLE_PREFIX: prefix,
      // Another root key provider needs none; migrating needed one all the same.
      ...(extraEnv.CREDREG_KEY_PROVIDER ? {} : { CREDREG_ROOT_KEY: rootKey }),
      ...extraEnv,
    },
    migrate: false,
    serviceUser: login.user,
    database,
    verify: (ledger) => verifyOnCluster(cluster, database, ledger),
  };
}

/** An embedded store in a directory of its own (root key given, so none is written beside it). */
export function embeddedStore(ctx: ChaosContext, name: string): Store {
  const dataDir = join(ctx.workDir, `embedded-${name}`);
  return {
    backend: 'embedded',
    env: {
      ...SERVICE_DEFAULTS,
      CREDREG_DATA_DIR: dataDir,
      CREDREG_ROOT_KEY: randomBytes(32).toString('base64'),
    },
    migrate: true,
    verify: (ledger) => verifyEmbedded(dataDir, ledger),
  };
}
