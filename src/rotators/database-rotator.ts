/**
 * What the PostgreSQL and MySQL rotators share: the four steps, their preconditions, and the rule
 * that no secret reaches an error. A driver only says how to change a password and how to log in
 * with one on its server, and what its errors mean; this wrapper checks the values before a driver
 * sees them, enforces the step's deadline, and turns whatever the driver threw into a
 * `RotationError` whose message is fixed text and whose cause has every known password cut out
 * (a driver's error can carry the statement it ran, password and all: mysql2 puts it in `sql`).
 */
import { z } from 'zod';
import { type RotationContext, RotationError, type Rotator } from '../core/rotator.js';
import {
  DATABASE_CREDENTIAL_TYPES,
  type DatabaseLogin,
  loginOf,
  parseDatabaseUrl,
  urlWithLogin,
  withPassword,
} from './database-login.js';
import { BASE64URL_ALPHABET, randomString } from './random-string.js';

/** The settings every database rotator has. */
export interface DatabaseSettings {
  /** The id of a `connection_string` credential of the same tenant that may change the user's password. */
  readonly adminCredential: string;
  /** How many characters a new password has. */
  readonly passwordLength: number;
}

/** The fields of `DatabaseSettings` as zod schemas, for a driver's `z.strictObject({ ...databaseSettingsShape, … })`. */
export const databaseSettingsShape = {
  adminCredential: z
    .uuid()
    .describe('id of a connection_string credential (same tenant) whose user may change the password'),
  passwordLength: z
    .number()
    .int()
    .min(16)
    .max(128)
    .default(32)
    .describe('characters in a new password, A–Z a–z 0–9 - _ (Default: 32)'),
};

/** What a driver's error means: the wrapper picks the code, the driver says why in fixed words. */
export interface TargetFailure {
  /** `unreachable`: no answer (network, timeout, server starting); `refused`: the server said no to this login or statement; `failed`: anything else. */
  readonly kind: 'unreachable' | 'refused' | 'failed';
  /** Fixed text and codes only (`'login refused (SQLSTATE 28P01)'`), never a driver's message. */
  readonly reason: string;
}

/** One database server's way of doing the two things a rotation needs. */
export interface DatabaseDriver<Settings extends DatabaseSettings> {
  /** For messages: `PostgreSQL`, `MySQL`. */
  readonly label: string;
  /** The URL schemes of its connection strings, with the colon: `['postgres:', 'postgresql:']`. */
  readonly schemes: readonly string[];
  /**
   * Connected with `adminUrl`, makes `login.password` the password of `login.username`. Must close
   * its connection when `signal` aborts. `login.password` holds only `A–Z a–z 0–9 - _`.
   */
  setPassword(adminUrl: string, login: DatabaseLogin, settings: Settings, signal: AbortSignal): Promise<void>;
  /** Logs in with `url` and runs a trivial statement; must close its connection when `signal` aborts. */
  tryLogin(url: string, signal: AbortSignal): Promise<void>;
  /**
   * What an error `setPassword` or `tryLogin` threw means, where the driver knows; `undefined`
   * leaves it to the wrapper (a socket error is `unreachable`, the rest `failed`).
   */
  classify(err: unknown): TargetFailure | undefined;
}

/** Error codes of Node's sockets and resolver that mean the server was not reached. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/** What `err` means: a socket or DNS error is `unreachable`, then the driver says, the rest is `failed`. */
function classify<S extends DatabaseSettings>(driver: DatabaseDriver<S>, err: unknown): TargetFailure {
  const code = errorCode(err);
  if (code !== undefined && NETWORK_CODES.has(code))
    return { kind: 'unreachable', reason: `network error ${code}` };
  return (
    driver.classify(err) ?? { kind: 'failed', reason: code ? `error ${code}` : 'unexpected client error' }
  );
}

/** `err.code` when it is a plain code (letters, digits, `_`), so it is safe to put in a message. */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'number') return String(code);
  return typeof code === 'string' && /^[A-Za-z0-9_]{1,64}$/.test(code) ? code : undefined;
}

/** Calls `close` once if `signal` aborts; returns the function that stops listening. */
export function closeOnAbort(signal: AbortSignal, close: () => void): () => void {
  if (signal.aborted) {
    close();
    return () => {};
  }
  signal.addEventListener('abort', close, { once: true });
  return () => signal.removeEventListener('abort', close);
}

/** What a password `create` makes may hold; the drivers rely on it (no quoting, no SASLprep). */
const PASSWORD_RE = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * A rotator for database users from a driver.
 *
 * @example
 * export const postgresqlRotator = databaseRotator('postgresql', z.strictObject(databaseSettingsShape), {
 *   label: 'PostgreSQL', schemes: ['postgres:', 'postgresql:'], setPassword, tryLogin, classify,
 * });
 */
export function databaseRotator<Settings extends DatabaseSettings>(
  type: string,
  settings: z.ZodType<Settings>,
  driver: DatabaseDriver<Settings>,
): Rotator<Settings> {
  const { label, schemes } = driver;

  const currentLogin = (ctx: RotationContext<Settings>) =>
    loginOf(ctx.credentialType, ctx.current, schemes, 'the current value');

  const pendingLogin = (ctx: RotationContext<Settings>, pending: unknown): DatabaseLogin => {
    const login = loginOf(ctx.credentialType, pending, schemes, 'the pending value');
    /* Precondition: the pending value names the same user as the current value. */
    // Otherwise a pending value that went wrong would change another user's password.
    if (login.username !== currentLogin(ctx).username) {
      const message = 'the pending value names another user than the current value';
      throw new RotationError('INVALID_VALUE', message, { retryable: false });
    }
    /* Precondition: the pending password is one `create` makes (A–Z a–z 0–9 - _, 16–128 characters). */
    if (!PASSWORD_RE.test(login.password)) {
      throw new RotationError('INVALID_VALUE', 'the pending password is not one this rotator makes', {
        retryable: false,
      });
    }
    return login;
  };

  const adminUrl = async (ctx: RotationContext<Settings>): Promise<URL> => {
    const admin = await ctx.related(ctx.settings.adminCredential);
    /* Precondition: the admin credential is a connection string of this rotator's scheme. */
    if (admin.type !== 'connection_string') {
      throw new RotationError('INVALID_VALUE', 'the admin credential must be a connection_string', {
        retryable: false,
      });
    }
    return parseDatabaseUrl(admin.value, schemes, 'the admin credential');
  };

  /** Runs `work` against the server; any failure leaves as a `RotationError` without a secret. */
  const atTarget = async (
    step: 'set' | 'test',
    signal: AbortSignal,
    secrets: readonly string[],
    work: () => Promise<void>,
  ): Promise<void> => {
    if (signal.aborted) throw deadlinePassed(label);
    try {
      await untilAborted(work(), signal);
    } catch (err) {
      if (err instanceof RotationError) throw err;
      const cause = redactedCause(err, secrets);
      if (signal.aborted) throw deadlinePassed(label, cause);
      throw failureError(label, step, classify(driver, err), cause);
    }
  };

  return {
    type,
    credentialTypes: DATABASE_CREDENTIAL_TYPES,
    settings,
    async create(ctx) {
      return withPassword(
        ctx.credentialType,
        ctx.current,
        randomString(ctx.settings.passwordLength, BASE64URL_ALPHABET),
        schemes,
      );
    },
    async set(ctx, pending) {
      const login = pendingLogin(ctx, pending);
      const admin = await adminUrl(ctx);
      const secrets = [login.password, currentLogin(ctx).password, decodedPassword(admin)];
      await atTarget('set', ctx.signal, secrets, () =>
        driver.setPassword(admin.href, login, ctx.settings, ctx.signal),
      );
    },
    async test(ctx, pending) {
      const login = pendingLogin(ctx, pending);
      // A connection string is its own address; a basic_auth login goes where the admin does.
      const url =
        ctx.credentialType === 'connection_string'
          ? String(pending)
          : urlWithLogin(await adminUrl(ctx), login);
      const secrets = [login.password, currentLogin(ctx).password];
      await atTarget('test', ctx.signal, secrets, () => driver.tryLogin(url, ctx.signal));
    },
    // Changing the password already retired the old one: nothing is left to clean up.
    async finish() {},
  };
}

function decodedPassword(url: URL): string {
  try {
    return decodeURIComponent(url.password);
  } catch {
    return url.password;
  }
}

function untilAborted(work: Promise<void>, signal: AbortSignal): Promise<void> {
  // The drivers close their connection on abort; this is the net under them, so a driver that
  // missed a case still lets the step end at its deadline.
  return new Promise((resolve, reject) => {
    const stop = closeOnAbort(signal, () => reject(new Error('aborted')));
    work.then(resolve, reject).finally(stop);
  });
}

function deadlinePassed(label: string, cause?: Error): RotationError {
  return new RotationError(
    'TARGET_UNREACHABLE',
    `${label}: the step's deadline passed before the server answered`,
    {
      retryable: true,
      cause,
    },
  );
}

function failureError(
  label: string,
  step: 'set' | 'test',
  failure: TargetFailure,
  cause: Error,
): RotationError {
  const { kind, reason } = failure;
  if (kind === 'unreachable') {
    const doing = step === 'set' ? 'change the password' : 'log in with the new password';
    return new RotationError(
      'TARGET_UNREACHABLE',
      `${label}: could not reach the server to ${doing} (${reason})`,
      {
        retryable: true,
        cause,
      },
    );
  }
  if (step === 'test') {
    return new RotationError('TEST_FAILED', `${label}: logging in with the new password failed (${reason})`, {
      retryable: true,
      cause,
    });
  }
  return kind === 'refused'
    ? new RotationError('TARGET_REFUSED', `${label}: the server refused the password change (${reason})`, {
        retryable: false,
        cause,
      })
    : new RotationError('TARGET_ERROR', `${label}: the password change failed (${reason})`, {
        retryable: true,
        cause,
      });
}

/**
 * A copy of the driver's error for operators' logs: its message and codes with every secret (and
 * its percent-encoded form) cut out, and none of its other fields (mysql2's `sql` holds the
 * statement with the password in it).
 */
function redactedCause(err: unknown, secrets: readonly string[]): Error {
  const forms = [...new Set(secrets.filter((s) => s !== '').flatMap((s) => [s, encodeURIComponent(s)]))].sort(
    (a, b) => b.length - a.length,
  );
  const redact = (text: string) => forms.reduce((t, s) => t.split(s).join('[redacted]'), text);
  const source = err as { message?: unknown; name?: unknown } | null;
  const message = typeof source?.message === 'string' && source.message ? source.message : String(err);
  const cause = new Error(redact(message));
  if (typeof source?.name === 'string') cause.name = redact(source.name);
  const fields = err as Record<string, unknown> | null;
  for (const key of ['code', 'errno', 'sqlState', 'severity']) {
    const v = fields?.[key];
    if (typeof v === 'string' || typeof v === 'number') Object.assign(cause, { [key]: redact(String(v)) });
  }
  return cause;
}
