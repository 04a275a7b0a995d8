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

const asClient = (client: pg.PoolClient): SqlClient => ({
  query: async (text, params) => (await client.query(text, params)).rows,
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
