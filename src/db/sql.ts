/**
 * The subset of a PostgreSQL connection the repositories use, so that one set of SQL runs on
 * both `pg` and PGlite. Rows come back as plain objects; each adapter keeps its own type parsing
 * and `db/rows.ts` evens out the differences (bytea as Buffer vs Uint8Array).
 */
export interface SqlClient {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  /**
   * A transaction's last statement, sent together with its COMMIT where the driver pipelines
   * (`pg`), to save a round trip: nothing may be sent after it, and the transaction has committed
   * only when `transaction` resolves. Absent where it would save nothing (PGlite, sessions).
   */
  finalQuery?<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
}

/** One connection held for a while: for migrations, which take a session-level lock. */
export interface SqlSession extends SqlClient {
  /** Runs a parameterless, possibly multi-statement script. */
  exec(script: string): Promise<void>;
}

export type Backend = 'pglite' | 'postgres';

export interface SqlDatabase {
  readonly backend: Backend;
  /**
   * Runs `fn` in one transaction: commit when it resolves, roll back when it throws. `prelude`, a
   * parameterless statement, runs first (on `pg`, in the same round trip as BEGIN).
   */
  transaction<T>(fn: (client: SqlClient) => Promise<T>, prelude?: string): Promise<T>;
  session<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  /**
   * A consistent copy of the whole store, taken between transactions: the embedded store's data
   * directory as a gzipped tarball (`credreg restore` opens it). Absent on PostgreSQL, whose own
   * tools (pg_dump) do this.
   */
  snapshot?(): Promise<Uint8Array>;
  close(): Promise<void>;
}
