/**
 * The `postgresql` rotator: a new password for a PostgreSQL role, set by an admin role (one with
 * CREATEROLE, or on PostgreSQL 16+ with ADMIN OPTION on the role) whose connection string is
 * another credential of the tenant.
 *
 * `set` sends `ALTER ROLE … PASSWORD '<SCRAM verifier>'`, not the password: see `scram-sha-256.ts`.
 * A utility statement takes no bind parameters, so the name and the verifier are quoted with pg's
 * `escapeIdentifier` / `escapeLiteral`; the statement is never logged here.
 */
import { Socket } from 'node:net';
import pg from 'pg';
import { z } from 'zod';
import type { DatabaseLogin } from './database-login.js';
import {
  closeOnAbort,
  type DatabaseSettings,
  databaseRotator,
  databaseSettingsShape,
  errorCode,
  type TargetFailure,
} from './database-rotator.js';
import { scramSha256Verifier } from './scram-sha-256.js';

/**
 * Settings of the `postgresql` rotator.
 *
 * @example { adminCredential: '0b6c…', passwordLength: 40 }
 */
export const postgresqlSettings: z.ZodType<DatabaseSettings> = z.strictObject(databaseSettingsShape);

// Bounded so a step on a server that accepts but never answers ends on its own, before the deadline.
const TIMEOUTS = {
  connectionTimeoutMillis: 10_000,
  statement_timeout: 15_000,
  lock_timeout: 10_000,
  query_timeout: 20_000,
} as const;

/**
 * One connection for `fn`, closed afterwards, and at once when `signal` aborts: the socket is ours
 * (pg's `stream` option), since `client.end()` waits for a goodbye a hung server never sends.
 */
async function withPgClient(url: string, signal: AbortSignal, fn: (client: pg.Client) => Promise<void>) {
  const socket = new Socket();
  const client = new pg.Client({
    connectionString: url,
    ...TIMEOUTS,
    application_name: 'credreg-rotator',
    stream: () => socket,
  });
  // The failure reaches the pending connect or query; without a listener it would also crash the process.
  client.on('error', () => {});
  const stop = closeOnAbort(signal, () => socket.destroy());
  try {
    await client.connect();
    await fn(client);
  } finally {
    // Still listening while saying goodbye: a server that never closes its side is cut off by the abort.
    await client.end().catch(() => {});
    stop();
    socket.destroy();
  }
}

async function setPassword(adminUrl: string, login: DatabaseLogin, _settings: unknown, signal: AbortSignal) {
  await withPgClient(adminUrl, signal, async (client) => {
    const verifier = scramSha256Verifier(login.password);
    await client.query(
      `ALTER ROLE ${pg.escapeIdentifier(login.username)} PASSWORD ${pg.escapeLiteral(verifier)}`,
    );
  });
}

async function tryLogin(url: string, signal: AbortSignal) {
  await withPgClient(url, signal, async (client) => void (await client.query('SELECT 1')));
}

/** SQLSTATEs and classes (two characters) by what they mean here; see PostgreSQL's Appendix A. */
const SQLSTATES: Record<string, TargetFailure> = {
  '08': { kind: 'unreachable', reason: 'connection failure' },
  '53': { kind: 'unreachable', reason: 'server out of resources' },
  '57P01': { kind: 'unreachable', reason: 'server shutting down' },
  '57P02': { kind: 'unreachable', reason: 'server crashed' },
  '57P03': { kind: 'unreachable', reason: 'server not accepting connections yet' },
  '57014': { kind: 'failed', reason: 'statement timed out' },
  '55P03': { kind: 'failed', reason: 'role locked by another session' },
  '28': { kind: 'refused', reason: 'login refused' },
  '42501': { kind: 'refused', reason: 'insufficient privilege' },
  '42704': { kind: 'refused', reason: 'no such role' },
  '3D000': { kind: 'refused', reason: 'no such database' },
};

// pg's own errors have no code; their messages are fixed strings of its source, matched here only
// to tell a timeout or a dropped connection from the rest.
const PG_CLIENT_MESSAGES: [RegExp, TargetFailure][] = [
  [/^timeout expired$/, { kind: 'unreachable', reason: 'connect timed out' }],
  [/^Query read timeout$/, { kind: 'unreachable', reason: 'no answer in time' }],
  [/^Connection terminated/, { kind: 'unreachable', reason: 'connection lost' }],
];

function classify(err: unknown): TargetFailure | undefined {
  const code = errorCode(err);
  if (code && /^[0-9A-Z]{5}$/.test(code)) {
    const known = SQLSTATES[code] ?? SQLSTATES[code.slice(0, 2)];
    return known
      ? { kind: known.kind, reason: `${known.reason}, SQLSTATE ${code}` }
      : { kind: 'failed', reason: `SQLSTATE ${code}` };
  }
  const message = err instanceof Error ? err.message : '';
  return PG_CLIENT_MESSAGES.find(([re]) => re.test(message))?.[1];
}

/**
 * Rotates a PostgreSQL role's password, for a `basic_auth` value (logged in where the admin
 * connection string points) or a `connection_string` (the new password in the same URL).
 *
 * @example
 * // settings: { adminCredential: '<id of postgres://rotator:…@db:5432/app>' }
 * const pending = await postgresqlRotator.create(ctx); // 'postgres://app:<new>@db:5432/app'
 * await postgresqlRotator.set(ctx, pending);
 * await postgresqlRotator.test(ctx, pending); // SELECT 1 as app with the new password
 */
export const postgresqlRotator = databaseRotator('postgresql', postgresqlSettings, {
  label: 'PostgreSQL',
  schemes: ['postgres:', 'postgresql:'],
  setPassword,
  tryLogin,
  classify,
});
