/**
 * What the PostgreSQL and MySQL rotator tests share: a database server with a password-checking
 * admin, seen through one small interface, turned into what the conformance suite needs for each
 * credential type (`basic_auth`, `connection_string`).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Rotator } from '../../src/core/rotator.js';
import type { DatabaseLogin } from '../../src/rotators/database-login.js';
import { type RotatorUnderTest, rotationContext } from './conformance.js';

/** A server that checks passwords, with an admin that may change other users' passwords. */
export interface DatabaseServer {
  /** `postgres`, `mysql`. */
  readonly scheme: string;
  readonly port: number;
  /** The database in connection strings (may be empty). */
  readonly database: string;
  readonly admin: DatabaseLogin;
  /** A new login user with a random name and password, dropped by `close`. */
  createUser(): Promise<DatabaseLogin>;
  /** Whether `url` logs in now; false only for a refused password, any other failure throws. */
  canLogin(url: string): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Whether `login` (a connect and a trivial query) succeeds: false when it fails with `refusedCode`
 * (the server's "wrong password"), and any other failure thrown, so an unreachable server never
 * reads as a refused password.
 */
export async function loginWorks(login: () => Promise<void>, refusedCode: string): Promise<boolean> {
  try {
    await login();
    return true;
  } catch (err) {
    if ((err as { code?: unknown }).code === refusedCode) return false;
    throw err;
  }
}

/** A `scheme://user:password@127.0.0.1:port/database` URL. */
export function loginUrl(server: DatabaseServer, login: DatabaseLogin, port = server.port): string {
  const user = `${encodeURIComponent(login.username)}:${encodeURIComponent(login.password)}`;
  return `${server.scheme}://${user}@127.0.0.1:${port}/${server.database}`;
}

/** A value of `type` for `login` at 127.0.0.1:`port`. */
function credentialValue(
  server: DatabaseServer,
  type: DbType,
  login: DatabaseLogin,
  port = server.port,
): unknown {
  return type === 'basic_auth' ? { ...login } : loginUrl(server, login, port);
}

type DbType = 'basic_auth' | 'connection_string';

/**
 * The conformance suite's view of `server` for credentials of `type`. `extraSettings` are the
 * rotator's own settings besides the admin credential.
 */
export function databaseUnderTest<S>(
  rotator: Rotator<S>,
  type: DbType,
  server: () => DatabaseServer,
  extraSettings: Record<string, unknown> = {},
): RotatorUnderTest<S> {
  const adminId = randomUUID();
  const settings = { adminCredential: adminId, passwordLength: 24, ...extraSettings };
  const context = (current: unknown, adminUrl: string) =>
    rotationContext(rotator, {
      credentialType: type,
      current,
      settings,
      related: { [adminId]: { type: 'connection_string', value: adminUrl } },
    });
  const passwordOf = (value: unknown): string =>
    typeof value === 'string'
      ? decodeURIComponent(new URL(value).password)
      : String((value as DatabaseLogin).password);
  const noise = () => randomBytes(4).toString('hex');

  return {
    rotator,
    settings,
    alsoSecret: [server().admin.password],
    async fresh() {
      const s = server();
      return context(credentialValue(s, type, await s.createUser()), loginUrl(s, s.admin));
    },
    secrets: (value) => [passwordOf(value)],
    target: {
      async accepts(value: unknown) {
        const s = server();
        return s.canLogin(typeof value === 'string' ? value : loginUrl(s, value as DatabaseLogin));
      },
      async at(port, canary) {
        const s = server();
        const user = { username: `nobody_${noise()}`, password: `${canary}-current` };
        return context(
          credentialValue(s, type, user, port),
          loginUrl(s, { username: s.admin.username, password: `${canary}-admin` }, port),
        );
      },
      async wrongAdmin(canary) {
        const s = server();
        const admin = { username: s.admin.username, password: `${canary}-admin` };
        return context(credentialValue(s, type, await s.createUser()), loginUrl(s, admin));
      },
      async weakAdmin() {
        const s = server();
        // A login of its own and no privilege: it connects, and the statement is refused.
        return context(credentialValue(s, type, await s.createUser()), loginUrl(s, await s.createUser()));
      },
      async noSuchUser(canary) {
        const s = server();
        const user = { username: `nobody_${noise()}`, password: `${canary}-current` };
        return context(credentialValue(s, type, user), loginUrl(s, s.admin));
      },
    },
  };
}
