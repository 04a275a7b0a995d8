/**
 * The machine's MariaDB server, reached as root (MYSQL_ROOT_URL, set by .ci/run; root with an empty
 * password over 127.0.0.1 otherwise), for tests that need accounts of their own: each is made with
 * a unique name and a password, and dropped by `close()`. An unreachable server fails the test
 * with what to do, never skips it.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';

export const MYSQL_ROOT_URL = process.env.MYSQL_ROOT_URL ?? 'mysql://root@127.0.0.1:3306/';

/** A MariaDB account: `username@host`, with its password. */
export interface MariadbAccount {
  readonly username: string;
  readonly host: string;
  readonly password: string;
}

export interface Mariadb {
  readonly port: number;
  /** Creates `name@host` (a unique name), then runs each of `grants` on it (`GRANT CREATE USER ON *.*`). */
  createAccount(options?: { host?: string; grants?: string[] }): Promise<MariadbAccount>;
  /** Drops every account made here and closes root's connection. */
  close(): Promise<void>;
}

/** Connects as root; throws, saying how to start the server, when it cannot. */
export async function openMariadb(): Promise<Mariadb> {
  let root: mysql.Connection;
  try {
    root = await mysql.createConnection({ uri: MYSQL_ROOT_URL, connectTimeout: 30_000 });
  } catch (err) {
    throw new Error(
      `MariaDB is needed at ${new URL(MYSQL_ROOT_URL).host} as root (MYSQL_ROOT_URL); start it with ` +
        "'start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd' (.ci/run does)",
      { cause: err },
    );
  }
  const made: MariadbAccount[] = [];
  return {
    port: Number(new URL(MYSQL_ROOT_URL).port || 3306),
    async createAccount({ host = '%', grants = [] } = {}) {
      const account = {
        username: `credreg_${randomBytes(5).toString('hex')}`,
        host,
        password: randomBytes(18).toString('base64url'),
      };
      await root.query('CREATE USER ?@? IDENTIFIED BY ?', [account.username, host, account.password]);
      made.push(account);
      for (const grant of grants) await root.query(`${grant} TO ?@?`, [account.username, host]);
      return account;
    },
    async close() {
      try {
        for (const { username, host } of made) await root.query('DROP USER IF EXISTS ?@?', [username, host]);
      } finally {
        await root.end();
      }
    },
  };
}
