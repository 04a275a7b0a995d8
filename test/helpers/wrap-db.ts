import type { SqlClient, SqlDatabase } from '../../src/db/sql.js';

/** The database with each transaction's client passed through `wrap`: to watch or break its statements. */
export function wrapTransactions(db: SqlDatabase, wrap: (c: SqlClient) => SqlClient): SqlDatabase {
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'transaction') {
        return (fn: (c: SqlClient) => Promise<unknown>, prelude?: string) =>
          target.transaction((c) => fn(wrap(c)), prelude);
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
