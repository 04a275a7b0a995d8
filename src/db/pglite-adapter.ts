import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { RegistryError } from '../core/errors.js';
import { type DataDirLock, lockDataDir } from './data-dir-lock.js';
import type { SqlDatabase, SqlSession } from './sql.js';

/** The subset of a PGlite instance this adapter needs. */
type PgliteLike = Pick<PGlite, 'query' | 'exec' | 'transaction' | 'close' | 'dumpDataDir'>;

export interface PgliteOptions {
  /** Directory for the data files; in memory when absent (tests). */
  dataDir?: string;
}

/**
 * The embedded backend: real PostgreSQL compiled to WASM, one connection, in this process.
 *
 * The data directory is locked for as long as the database is open (see `lockDataDir`).
 */
export async function openPglite(options: PgliteOptions = {}): Promise<SqlDatabase> {
  let lock: DataDirLock | undefined;
  let db: PgliteLike;
  if (options.dataDir) {
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    lock = lockDataDir(options.dataDir);
    db = new PGlite(join(options.dataDir, 'pgdata'));
  } else {
    db = new PGlite();
  }
  try {
    await db.query('select 1');
  } catch (err) {
    lock?.release();
    throw new RegistryError('UNAVAILABLE', 'the embedded database could not be opened', { cause: err });
  }
  return new PgliteDatabase(db, lock);
}

class PgliteDatabase implements SqlDatabase {
  readonly backend = 'pglite' as const;
  readonly #db: PgliteLike;
  readonly #lock: DataDirLock | undefined;
  #closed = false;

  constructor(db: PgliteLike, lock?: DataDirLock) {
    this.#db = db;
    this.#lock = lock;
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

  async snapshot(): Promise<Uint8Array> {
    // Inside a transaction of its own, so that no other transaction is half done in the copy (PGlite
    // runs one at a time); the checkpoint first writes every page, so the copy opens without replay.
    return this.#db.transaction(async (tx) => {
      await tx.exec('CHECKPOINT');
      const archive = await this.#db.dumpDataDir('gzip');
      return new Uint8Array(await archive.arrayBuffer());
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#db.close();
    } finally {
      this.#lock?.release();
    }
  }
}
