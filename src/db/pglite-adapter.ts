import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { messages, PGlite, parse, protocol } from '@electric-sql/pglite';
import { RegistryError } from '../core/errors.js';
import { type DataDirLock, lockDataDir } from './data-dir-lock.js';
import type { SqlDatabase, SqlSession } from './sql.js';

/** The subset of a PGlite instance this adapter needs. */
type PgliteLike = Pick<
  PGlite,
  | 'query'
  | 'exec'
  | 'transaction'
  | 'close'
  | 'dumpDataDir'
  | 'execProtocolStream'
  | 'runExclusive'
  | 'serializers'
  | 'parsers'
>;

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
  readonly #statements: PreparedStatements;
  #closed = false;

  constructor(db: PgliteLike, lock?: DataDirLock) {
    this.#db = db;
    this.#lock = lock;
    this.#statements = new PreparedStatements(db);
  }

  transaction<T>(fn: Parameters<SqlDatabase['transaction']>[0], prelude?: string): Promise<T> {
    // PGlite queues transactions behind a mutex: its one connection is never shared mid-transaction.
    return this.#db.transaction(async (tx) => {
      if (prelude) await tx.exec(prelude);
      // As PGlite's own `tx.query`: a statement issued after the callback settled is refused, so
      // that it cannot run in the next transaction (another tenant's, under another role).
      let open = true;
      try {
        return await fn({
          query: async (text, params) => {
            if (!open) throw new Error('Transaction is closed');
            return (await this.#statements.query(text, params)) as never;
          },
        });
      } finally {
        open = false;
      }
    }) as Promise<T>;
  }

  async session<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    return fn({
      query: async (text, params) => (await this.#db.query(text, params)).rows as never,
      exec: async (script) => {
        try {
          await this.#db.exec(script);
        } finally {
          // A script is DDL (migrations): a statement whose result columns changed would fail once
          // ("cached plan must not change result type"), so every statement is prepared afresh.
          this.#statements.forgetAll();
        }
      },
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

type BackendMessage = Awaited<ReturnType<PgliteLike['execProtocolStream']>>[number];

interface Prepared {
  name: string;
  /** The parameters' type OIDs, as the server inferred them: each value is serialized by its type. */
  paramTypes: number[];
  /**
   * The statement's row description (none for a statement that returns no rows), read once: the
   * server never runs a prepared statement with another result type, it fails instead.
   */
  description: BackendMessage[];
}

/**
 * Most statements kept prepared at once. (Default: 256) The code has about 80 distinct texts, and a
 * few more from the audit filters and credential patches that build their text; past the bound,
 * the statement used least recently is closed.
 */
const MAX_STATEMENTS = 256;

/** A statement whose prepared form is gone or no longer fits: prepare it again next time. */
const STALE = new Set(['26000', '0A000']);

const { serialize } = protocol;
const SYNC = serialize.sync();

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Named prepared statements on PGlite's one connection, one per distinct text, as the `pg` adapter
 * has per connection. PGlite's `query` parses and plans its unnamed statement on every call, in
 * six protocol exchanges; here the first call parses it (Parse and Describe, one exchange), and each
 * call after that binds and executes it (Bind, Execute, Sync, one exchange) on a plan PostgreSQL
 * caches. The plan cache re-plans when the role changes (row-level security depends on it) and
 * after DDL on the tables the statement reads. Prepared statements outlive the transaction that
 * prepared them, rolled back or not. Values are serialized and rows parsed as `query` does.
 *
 * Used only inside a transaction: PGlite's transaction mutex keeps other work off the connection,
 * and `runExclusive` orders these exchanges with PGlite's own queries in the same transaction.
 */
class PreparedStatements {
  readonly #db: PgliteLike;
  /** In order of last use, least recent first. */
  readonly #byText = new Map<string, Prepared>();
  /** Names to close with the next Parse: evicted or forgotten statements. */
  #toClose: string[] = [];
  #counter = 0;

  constructor(db: PgliteLike) {
    this.#db = db;
  }

  query(text: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
    return this.#db.runExclusive(async () => {
      let statement = this.#byText.get(text);
      if (statement) this.#byText.delete(text);
      else statement = await this.#prepare(text, params);
      this.#byText.set(text, statement);
      const { name, paramTypes, description } = statement;
      let result: BackendMessage[];
      try {
        result = await this.#db.execProtocolStream(
          concat([
            serialize.bind({ statement: name, values: this.#serialize(paramTypes, params) }),
            serialize.execute({}),
            SYNC,
          ]),
          { syncToFs: false },
        );
      } catch (err) {
        if (STALE.has((err as { code?: string })?.code ?? '')) this.#forget(text);
        throw withQuery(err, text, params);
      }
      return parse.parseResults([...description, ...result], this.#db.parsers)[0]?.rows ?? [];
    });
  }

  /** Every statement is prepared again on its next use (after DDL). */
  forgetAll(): void {
    for (const text of [...this.#byText.keys()]) this.#forget(text);
  }

  #forget(text: string): void {
    const statement = this.#byText.get(text);
    if (!statement) return;
    this.#byText.delete(text);
    this.#toClose.push(statement.name);
  }

  async #prepare(text: string, params: unknown[]): Promise<Prepared> {
    while (this.#byText.size >= MAX_STATEMENTS) {
      const [oldest] = this.#byText.keys();
      this.#forget(oldest as string);
    }
    const closing = this.#toClose.slice();
    // A fresh name: a statement that failed to prepare, or was forgotten, never collides with a new one.
    const name = `credreg_${++this.#counter}`;
    let result: BackendMessage[];
    try {
      result = await this.#db.execProtocolStream(
        concat([
          ...closing.map((n) => serialize.close({ type: 'S', name: n })),
          serialize.parse({ text, name }),
          serialize.describe({ type: 'S', name }),
          SYNC,
        ]),
        { syncToFs: false },
      );
    } catch (err) {
      // Closing again later is harmless: closing a statement that does not exist is no error.
      throw withQuery(err, text, params);
    }
    this.#toClose.splice(0, closing.length);
    return {
      name,
      paramTypes: parse.parseDescribeStatementResults(result),
      description: result.filter((m) => m.name === 'rowDescription'),
    };
  }

  /** As PGlite's `query` does: null stays null, a type's serializer if it has one, else `toString`. */
  #serialize(types: number[], params: unknown[]): (string | null)[] {
    return params.map((value, i) => {
      if (value === null || value === undefined) return null;
      const serializer = this.#db.serializers[types[i] as number];
      return serializer ? serializer(value) : String(value);
    });
  }
}

/** The statement rides along on a database error, as PGlite's `query` attaches it. */
function withQuery(err: unknown, query: string, params: unknown[]): unknown {
  if (err instanceof messages.DatabaseError) Object.assign(err, { query, params, queryOptions: undefined });
  return err;
}
