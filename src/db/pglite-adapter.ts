import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import lockfile from 'proper-lockfile';
import { RegistryError } from '../core/errors.js';
import type { SqlDatabase, SqlSession } from './sql.js';

/** The subset of a PGlite instance this adapter needs. */
type PgliteLike = Pick<PGlite, 'query' | 'exec' | 'transaction' | 'close'>;

export interface PgliteOptions {
  /** Directory for the data files; in memory when absent (tests). */
  dataDir?: string;
}

/**
 * The embedded backend: real PostgreSQL compiled to WASM, one connection, in this process.
 *
 * PGlite takes no lock on its directory, and two processes on one directory silently lose rows, so
 * we hold an exclusive lock (a lock directory refreshed every few seconds, stale after ten) for as
 * long as the database is open.
 */
export async function openPglite(options: PgliteOptions = {}): Promise<SqlDatabase> {
  let release: (() => Promise<void>) | undefined;
  let db: PgliteLike;
  if (options.dataDir) {
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    try {
      release = await lockfile.lock(options.dataDir, {
        lockfilePath: join(options.dataDir, 'credreg.lock'),
        stale: 10_000,
        update: 5_000,
        retries: 0,
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ELOCKED') {
        throw new RegistryError(
          'UNAVAILABLE',
          `the data directory ${options.dataDir} is in use by another credreg process; stop it, or point CREDREG_DATA_DIR elsewhere`,
        );
      }
      throw err;
    }
    db = new PGlite(join(options.dataDir, 'pgdata'));
  } else {
    db = new PGlite();
  }
  try {
    await db.query('select 1');
  } catch (err) {
    await release?.();
    throw new RegistryError('UNAVAILABLE', 'the embedded database could not be opened', { cause: err });
  }
  return new PgliteDatabase(db, release);
}

class PgliteDatabase implements SqlDatabase {
  readonly backend = 'pglite' as const;
  readonly #db: PgliteLike;
  readonly #release: (() => Promise<void>) | undefined;
  #closed = false;

  constructor(db: PgliteLike, release?: () => Promise<void>) {
    this.#db = db;
    this.#release = release;
  }

  transaction<T>(fn: Parameters<SqlDatabase['transaction']>[0], prelude?: string): Promise<T> {
    // PGlite queues transactions behind a mutex: its one connection is never shared mid-transaction.
    return this.#db.transaction(async (tx) => {
      if (prelude) await tx.exec(prelude);
      return fn({ query: async (text, params) => (await tx.query(text, params)).rows as never });
    }) as Promise<T>;
  }

  async session<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    return fn({
      query: async (text, params) => (await this.#db.query(text, params)).rows as never,
      exec: async (script) => void (await this.#db.exec(script)),
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#db.close();
    await this.#release?.();
  }
}
