import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import pg from 'pg';
import { RegistryError } from '../core/errors.js';
import type { SqlClient, SqlDatabase, SqlSession } from './sql.js';

/**
 * How parameterised statements are sent.
 * - `named`: a named prepared statement per distinct text, parsed and planned once per connection.
 *   Needs a direct connection, or PgBouncer 1.21+ with `max_prepared_statements` set.
 * - `unnamed`: the unnamed statement, parsed and planned on every call. Works behind any pooler in
 *   transaction mode (PgBouncer 1.18 as Debian ships it, pgpool, RDS Proxy).
 */
export type StatementMode = 'named' | 'unnamed';

export interface PgOptions {
  connectionString: string;
  /** Most connections in the pool. (Default: 10) */
  maxConnections?: number;
  /** How long to wait for a new connection before answering UNAVAILABLE, in ms. (Default: 5000) */
  connectTimeoutMs?: number;
  /** (Default: `named`) */
  statements?: StatementMode;
  /** Told of every connection that breaks (idle or in use); the pool replaces it. */
  onError?: (err: Error) => void;
}

/** PostgreSQL over the network through a `pg` pool. */
export function openPg(options: PgOptions): SqlDatabase {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    // A peer that vanished without a FIN (host down, network cut) is noticed by TCP keep-alive.
    keepAlive: true,
    // Statements are written without waiting for the answer to the one before (each still has its
    // own Sync, so its own result or error): a transaction's BEGIN goes out with its first
    // statement, and its last statement with its COMMIT (see `transaction`).
    pipeline: true,
  });
  const broken = new WeakSet<pg.PoolClient>();
  // `pg` emits `error` on a client whose connection dies. The pool listens only while a client is
  // idle; a checked-out client without a listener of its own would crash the process (an
  // unhandled 'error' event). So every client gets one for life, and is marked as broken: the
  // query that was running fails, and `release(err)` then destroys the client instead of pooling it.
  pool.on('connect', (client) => {
    client.on('error', (err) => {
      broken.add(client);
      options.onError?.(err);
    });
    client.on('end', () => broken.add(client));
  });
  // Idle clients reach this listener too (the pool re-emits their error); it must exist.
  pool.on('error', () => {});
  return new PgDatabase(pool, broken, options.statements ?? 'named');
}

/**
 * Statement names by text. In `named` mode every parameterised query goes out as a named prepared
 * statement, so each connection parses and plans it once instead of on every call (the reveal's
 * three-table join costs more to plan than to run). The name is a hash of the text, so one name
 * never means two statements. The map is bounded by the number of distinct statements in the code.
 */
const statementNames = new Map<string, string>();

function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `credreg_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return name;
}

/**
 * The socket under a `pg` client, so that statements sent in one go leave in one write
 * (`Writable.cork`, as `pg` itself does around the messages of one statement); undefined where
 * the client has none to hold (then each statement is written on its own, as before).
 */
function socketOf(client: pg.PoolClient): Writable | undefined {
  const stream = (client as unknown as { connection?: { stream?: Partial<Writable> } }).connection?.stream;
  return typeof stream?.cork === 'function' && typeof stream.uncork === 'function'
    ? (stream as Writable)
    : undefined;
}

/** The server's errors carry a SQLSTATE; an error without one, on a dead connection, is `pg`'s own. */
const lost = (cause: unknown) =>
  new RegistryError('UNAVAILABLE', 'the database connection was lost; retry', { cause });

class PgDatabase implements SqlDatabase {
  readonly backend = 'postgres' as const;
  readonly #pool: pg.Pool;
  readonly #broken: WeakSet<pg.PoolClient>;
  readonly #named: boolean;
  #closing: Promise<void> | undefined;

  constructor(pool: pg.Pool, broken: WeakSet<pg.PoolClient>, statements: StatementMode) {
    this.#pool = pool;
    this.#broken = broken;
    this.#named = statements === 'named';
  }

  async transaction<T>(fn: (client: SqlClient) => Promise<T>, prelude?: string): Promise<T> {
    // A connection that died while idle in the pool may be handed out before its error arrives:
    // BEGIN then fails, and nothing behind it ran, so one more try on a fresh connection is safe.
    for (let attempt = 0; ; attempt++) {
      const client = await this.#connect();
      let broken: Error | undefined;
      // BEGIN and the prelude (role and tenant) in one simple-protocol query, not awaited: it shares
      // the round trip of the body's first statement, and is held until that statement is sent so
      // that both leave in one write (on loopback a write costs about as much as a statement); at
      // the latest, at the next turn. Should it fail, every statement behind it fails: they are in
      // its transaction block, or on a dead connection.
      const socket = socketOf(client);
      let held = socket;
      held?.cork();
      const release = () => {
        held?.uncork();
        held = undefined;
      };
      const begin = client.query(prelude ? `BEGIN; ${prelude}` : 'BEGIN');
      setImmediate(release);
      const begun = begin.then(
        () => true,
        () => false,
      );
      let commit: Promise<unknown> | undefined;
      try {
        const result = await fn(
          this.#asClient(client, { socket, release, committing: (sent) => (commit = sent) }),
        );
        if (!(await begun)) await begin; // its own error, when `fn` sent nothing
        await (commit ?? this.#commit(client));
        return result;
      } catch (err) {
        if (!this.#broken.has(client)) {
          try {
            await client.query('ROLLBACK');
            throw err;
          } catch (rollbackError) {
            if (rollbackError === err) throw err;
            // A connection that cannot roll back is dead, whether or not `pg` has said so yet.
          }
        }
        broken = err as Error; // not returned to the pool
        if (!(await begun) && attempt === 0) continue;
        // A COMMIT cut off midway may or may not have committed: the caller is told to retry,
        // and nothing it was given depended on it (a value is returned only after COMMIT answers).
        throw err instanceof RegistryError ? err : lost(err);
      } finally {
        client.release(broken ?? this.#broken.has(client));
      }
    }
  }

  async #commit(client: pg.PoolClient): Promise<void> {
    const done = await this.#guard(client, () => client.query('COMMIT'));
    // COMMIT in a transaction a failed statement aborted answers ROLLBACK, not an error: work that
    // caught that statement's error must not pass for committed.
    if (done.command === 'ROLLBACK') {
      throw new RegistryError('INTERNAL', 'the transaction had failed, so it was rolled back');
    }
  }

  async session<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    const client = await this.#connect();
    try {
      return await fn({
        ...this.#asClient(client),
        exec: async (script) => void (await this.#guard(client, () => client.query(script))),
      });
    } finally {
      client.release(this.#broken.has(client));
    }
  }

  async close(): Promise<void> {
    // Idempotent, as on PGlite: `pg` throws when a pool is ended twice.
    this.#closing ??= this.#pool.end();
    await this.#closing;
  }

  async #connect(): Promise<pg.PoolClient> {
    try {
      return await this.#pool.connect();
    } catch (err) {
      // Refused, timed out, or authentication failed: either way the database is not there for us.
      throw new RegistryError('UNAVAILABLE', 'the database is unavailable; retry later', { cause: err });
    }
  }

  /**
   * In a transaction: `release` lets its held BEGIN go with the first statement, `socket` holds
   * `finalQuery`'s two statements into one write, and `committing` is told of the COMMIT a
   * `finalQuery` sent, for `transaction` to await.
   */
  #asClient(
    client: pg.PoolClient,
    tx?: {
      socket: Writable | undefined;
      release: () => void;
      committing: (commit: Promise<unknown>) => void;
    },
  ): SqlClient {
    const query = async (text: string, params?: unknown[]) => {
      const sent = this.#guard(client, () =>
        client.query(
          this.#named ? { name: statementName(text), text, values: params } : { text, values: params },
        ),
      );
      tx?.release(); // the statement is in the socket's buffer by now, behind BEGIN
      return (await sent).rows;
    };
    return {
      query,
      finalQuery: tx
        ? async (text, params) => {
            // Both in one write (see `socketOf`): each call writes synchronously, before its first await.
            tx.socket?.cork();
            const rows = query(text, params);
            const commit = this.#commit(client);
            tx.socket?.uncork();
            // Awaited by `transaction`; here only so that a failed statement's COMMIT (ROLLBACK) is not unhandled.
            commit.catch(() => {});
            tx.committing(commit);
            return (await rows) as never;
          }
        : undefined,
    };
  }

  /** A failure on a connection that broke is UNAVAILABLE, whatever `pg` called it. */
  async #guard<R>(client: pg.PoolClient, run: () => Promise<R>): Promise<R> {
    try {
      return await run();
    } catch (err) {
      if (this.#broken.has(client)) throw lost(err);
      throw err;
    }
  }
}
