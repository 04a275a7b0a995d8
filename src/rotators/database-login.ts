/**
 * A database user's login as the registry stores it: a `basic_auth` value (`{ username, password }`)
 * or a `connection_string` URL (`postgres://user:password@host:port/db?…`). Reading one, and
 * writing a new password into one without touching anything else in it.
 *
 * Nothing here puts a value, or the error a URL parser raised on it, into a message: the parser's
 * error carries the whole input, password included, so it is never kept as a cause.
 */
import { RotationError } from '../core/rotator.js';
import type { CredentialType } from '../core/types.js';

/** A database user's name and password. */
export interface DatabaseLogin {
  readonly username: string;
  readonly password: string;
}

/** The credential types a database rotator rotates. */
export const DATABASE_CREDENTIAL_TYPES = ['basic_auth', 'connection_string'] as const;

function invalid(what: string, problem: string): RotationError {
  return new RotationError('INVALID_VALUE', `${what} ${problem}`, { retryable: false });
}

/**
 * Parses a connection string of one of `schemes` (`'postgres:'`, …) that names a host and a user.
 * `what` names the value in the error (`'the admin credential'`).
 *
 * @example parseDatabaseUrl('postgres://app:pw@db:5432/app', ['postgres:'], 'the current value').hostname // 'db'
 */
export function parseDatabaseUrl(text: unknown, schemes: readonly string[], what: string): URL {
  if (typeof text !== 'string') throw invalid(what, 'is not a connection string');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(what, 'is not a valid URL');
  }
  if (!schemes.includes(url.protocol)) {
    throw invalid(what, `must be a ${schemes.map((s) => `${s}//`).join(' or ')} URL`);
  }
  if (!url.hostname) throw invalid(what, 'must name a host');
  if (!url.username) throw invalid(what, 'must name a user');
  // Both drivers read user and password from the query too; a second place would make the
  // password written into the userinfo one that nobody uses.
  if (url.searchParams.has('user') || url.searchParams.has('password')) {
    throw invalid(what, 'must keep its user and password in the userinfo, not in the query');
  }
  return url;
}

/** The login in a `basic_auth` or `connection_string` value; the password may be empty. */
export function loginOf(
  type: CredentialType,
  value: unknown,
  schemes: readonly string[],
  what: string,
): DatabaseLogin {
  if (type === 'connection_string') {
    const url = parseDatabaseUrl(value, schemes, what);
    try {
      return { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
    } catch {
      throw invalid(what, 'has a user or password that is not valid percent-encoding');
    }
  }
  if (type === 'basic_auth') {
    const v = value as { username?: unknown; password?: unknown } | null;
    if (typeof v !== 'object' || v === null || typeof v.username !== 'string' || v.username === '') {
      throw invalid(what, 'is not a basic_auth value with a username');
    }
    return { username: v.username, password: typeof v.password === 'string' ? v.password : '' };
  }
  throw invalid(what, `is of type ${type}, which a database rotator does not rotate`);
}

/**
 * `url` with `login` as its userinfo, everything else as it was.
 *
 * @example urlWithLogin(new URL('postgres://admin:x@db/app'), { username: 'app', password: 'p/w' }) // 'postgres://app:p%2Fw@db/app'
 */
export function urlWithLogin(url: URL, login: DatabaseLogin): string {
  const next = new URL(url.href);
  // The setters leave `%` alone, so encode first: a password holding `%` must not be read back as an escape.
  next.username = encodeURIComponent(login.username);
  next.password = encodeURIComponent(login.password);
  return next.href;
}

/** `value` (of `type`) with `password` in place of its password: the same shape, nothing else changed. */
export function withPassword(
  type: CredentialType,
  value: unknown,
  password: string,
  schemes: readonly string[],
): unknown {
  const { username } = loginOf(type, value, schemes, 'the current value');
  if (type === 'basic_auth') return { username, password };
  // Only the password changes: the user stays spelled as it was, encoding included.
  const url = parseDatabaseUrl(value, schemes, 'the current value');
  url.password = encodeURIComponent(password);
  return url.href;
}
