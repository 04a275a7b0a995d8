/**
 * The `mysql` rotator: a new password for a MariaDB or MySQL account (`user@host`), set by an admin
 * account with the CREATE USER privilege whose connection string is another credential of the tenant.
 *
 * `ALTER USER ?@? IDENTIFIED BY ?` goes through mysql2's `query`, which fills the placeholders on
 * our side: MariaDB (10.11 here) refuses `ALTER USER` as a server-side prepared statement
 * (`execute` answers ER_PARSE_ERROR). Client-side quoting escapes with backslashes, which a server
 * in `NO_BACKSLASH_ESCAPES` mode would read differently, so a user or host holding a quote or a
 * backslash is refused before any statement is built; the password never holds one.
 */
import mysql from 'mysql2';
import { z } from 'zod';
import { RotationError } from '../core/rotator.js';
import type { DatabaseLogin } from './database-login.js';
import {
  closeOnAbort,
  type DatabaseSettings,
  databaseRotator,
  databaseSettingsShape,
  errorCode,
  type TargetFailure,
} from './database-rotator.js';

/** Printable, without a quote, a backslash or a backtick: safe to quote on the client in any SQL mode. */
const QUOTABLE = /^[^\p{C}'"`\\]+$/u;

/** Settings of the `mysql` rotator. */
export interface MysqlSettings extends DatabaseSettings {
  /** The host part of the account, as in `'app'@'10.0.%'`. */
  readonly host: string;
}

/**
 * Settings of the `mysql` rotator.
 *
 * @example { adminCredential: '0b6c…', host: '10.0.%' }
 */
export const mysqlSettings: z.ZodType<MysqlSettings> = z.strictObject({
  ...databaseSettingsShape,
  host: z
    .string()
    .min(1)
    .max(255)
    .regex(QUOTABLE, 'must not hold quotes, backslashes or control characters')
    .default('%')
    .describe("the account's host part, as in 'app'@'10.0.%' (Default: '%')"),
});

// Bounded so a step on a server that accepts but never answers ends on its own, before the deadline.
const CONNECT_TIMEOUT_MS = 10_000;
const STATEMENT_TIMEOUT_MS = 15_000;

/**
 * One connection for `fn`, closed afterwards, and destroyed at once when `signal` aborts. mysql2's
 * callback API is used to open it because it hands the connection over before the handshake
 * (mysql2/promise resolves only after, leaving nothing to destroy on abort); `fn` gets its
 * promise wrapper.
 */
async function withMysqlConnection(
  url: string,
  signal: AbortSignal,
  fn: (conn: ReturnType<mysql.Connection['promise']>) => Promise<void>,
) {
  const conn = mysql.createConnection({ uri: url, connectTimeout: CONNECT_TIMEOUT_MS });
  const stop = closeOnAbort(signal, () => conn.destroy());
  let done = false;
  try {
    await new Promise<void>((resolve, reject) => {
      // Kept for the connection's life: a later 'error' without a listener would crash the process;
      // the command that was running rejects with it anyway.
      conn.on('error', reject);
      conn.once('connect', () => resolve());
    });
    await fn(conn.promise());
    done = true;
  } finally {
    // A goodbye (COM_QUIT) after success, so the server logs no aborted connection; still cut off
    // by the abort if the server never answers it. After a failure the connection may be broken:
    // destroyed without one.
    if (done)
      await conn
        .promise()
        .end()
        .catch(() => {});
    stop();
    conn.destroy();
  }
}

async function setPassword(
  adminUrl: string,
  login: DatabaseLogin,
  settings: MysqlSettings,
  signal: AbortSignal,
) {
  /* Precondition: the user name holds no quote, backslash or control character. */
  if (!QUOTABLE.test(login.username)) {
    throw new RotationError('INVALID_VALUE', 'the user name holds a quote, backslash or control character', {
      retryable: false,
    });
  }
  await withMysqlConnection(adminUrl, signal, async (conn) => {
    await conn.query({ sql: 'ALTER USER ?@? IDENTIFIED BY ?', timeout: STATEMENT_TIMEOUT_MS }, [
      login.username,
      settings.host,
      login.password,
    ]);
  });
}

async function tryLogin(url: string, signal: AbortSignal) {
  await withMysqlConnection(url, signal, async (conn) => {
    await conn.query({ sql: 'SELECT 1', timeout: STATEMENT_TIMEOUT_MS });
  });
}

/** mysql2's error codes (the server's names, and its own PROTOCOL_* ones) by what they mean here. */
const CODES: Record<string, TargetFailure['kind']> = {
  PROTOCOL_CONNECTION_LOST: 'unreachable',
  PROTOCOL_SEQUENCE_TIMEOUT: 'unreachable',
  ER_CON_COUNT_ERROR: 'unreachable',
  ER_SERVER_SHUTDOWN: 'unreachable',
  ER_CONNECTION_KILLED: 'unreachable',
  ER_ACCESS_DENIED_ERROR: 'refused',
  ER_ACCESS_DENIED_NO_PASSWORD_ERROR: 'refused',
  ER_DBACCESS_DENIED_ERROR: 'refused',
  ER_SPECIFIC_ACCESS_DENIED_ERROR: 'refused',
  ER_TABLEACCESS_DENIED_ERROR: 'refused',
  ER_CANNOT_USER: 'refused',
  ER_PASSWORD_NO_MATCH: 'refused',
  ER_NOT_VALID_PASSWORD: 'refused',
  ER_HOST_NOT_PRIVILEGED: 'refused',
  ER_HOST_IS_BLOCKED: 'refused',
  ER_BAD_DB_ERROR: 'refused',
  ER_MUST_CHANGE_PASSWORD_LOGIN: 'refused',
  ER_ACCOUNT_HAS_BEEN_LOCKED: 'refused',
};

function classify(err: unknown): TargetFailure | undefined {
  const code = errorCode(err);
  const kind = code ? CODES[code] : undefined;
  return code && kind ? { kind, reason: code } : undefined;
}

/**
 * Rotates a MariaDB or MySQL account's password, for a `basic_auth` value (logged in where the
 * admin connection string points) or a `connection_string` (`mysql://user:pass@host:port/db`, the
 * new password in the same URL).
 *
 * @example
 * // settings: { adminCredential: '<id of mysql://rotator:…@db:3306/>', host: '%' }
 * const pending = await mysqlRotator.create(ctx);
 * await mysqlRotator.set(ctx, pending); // ALTER USER 'app'@'%' IDENTIFIED BY …
 * await mysqlRotator.test(ctx, pending); // SELECT 1 as app with the new password
 */
export const mysqlRotator = databaseRotator('mysql', mysqlSettings, {
  label: 'MySQL',
  schemes: ['mysql:', 'mariadb:'],
  setPassword,
  tryLogin,
  classify,
});
