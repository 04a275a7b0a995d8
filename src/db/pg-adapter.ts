import { createHash } from 'node:crypto';
import pg from 'pg';
import type { SqlClient, SqlDatabase, SqlSession } from './sql.js';

export interface PgOptions {
  connectionString: string;
  /** Most connections in the pool. (Default: 10) */
  maxConnections?: number;
  onError?: (err: Error) => void;
}

/** PostgreSQL over the network through a `pg` pool. */
export function openPg(options: PgOptions): SqlDatabase {
  const pool = new pg.Pool({ connectionString: options.connectionString, max: options.maxConnections ?? 10 });
  // An idle client can die (server restart); without a listener that error would crash the process.
  pool.on('error', (err) => options.onError?.(err));
  return new PgDatabase(pool);
}

/**
 * Statement names by text. Every parameterised query goes out as a named prepared statement, so
 * each connection parses and plans it once instead of on every call (the reveal's three-table join
 * costs more to plan than to run). The name is a hash of the text, so one name never means two
 * statements. The map is bounded by the number of distinct statements in the code.
 * Behind PgBouncer in transaction mode, this needs PgBouncer 1.21 or newer (`max_prepared_statements`).
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

const asClient = (client: pg.PoolClient): SqlClient => ({
  query: async (text, params) =>
    (await client.query({ name: statementName(text), text, values: params })).rows,
});

class PgDatabase implements SqlDatabase {
  readonly backend = 'postgres' as const;
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async transaction<T>(fn: (client: SqlClient) => Promise<T>, prelude?: string): Promise<T> {
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    try {
      // One round trip for BEGIN and the prelude (role and tenant): simple protocol, no parameters.
      await client.query(prelude ? `BEGIN; ${prelude}` : 'BEGIN');
      const result = await fn(asClient(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        broken = rollbackError as Error; // a connection that cannot roll back is not returned to the pool
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async session<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    try {
      return await fn({ ...asClient(client), exec: async (script) => void (await client.query(script)) });
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
