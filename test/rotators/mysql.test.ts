/**
 * The `mysql` rotator against the machine's MariaDB server, with accounts of its own (unique names,
 * passwords checked over TCP), dropped at the end.
 */
import { randomUUID } from 'node:crypto';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseLogin } from '../../src/rotators/database-login.js';
import { mysqlRotator } from '../../src/rotators/mysql.js';
import { type Mariadb, type MariadbAccount, openMariadb } from '../helpers/mariadb.js';
import { describeRotator, rotationContext, rotationError } from './conformance.js';
import { type DatabaseServer, databaseUnderTest, loginUrl, loginWorks } from './database-harness.js';

let mariadb: Mariadb;
let server: DatabaseServer;

const login = (a: MariadbAccount): DatabaseLogin => ({ username: a.username, password: a.password });

beforeAll(async () => {
  mariadb = await openMariadb();
  // CREATE USER is what ALTER USER needs: the privilege the rotator's documentation asks for.
  const admin = await mariadb.createAccount({ grants: ['GRANT CREATE USER ON *.*'] });
  server = {
    scheme: 'mysql',
    port: mariadb.port,
    database: '',
    admin: login(admin),
    createUser: async () => login(await mariadb.createAccount()),
    canLogin: (url) =>
      loginWorks(async () => {
        const conn = await mysql.createConnection({ uri: url, connectTimeout: 30_000 });
        try {
          await conn.query('SELECT 1');
        } finally {
          conn.destroy();
        }
      }, 'ER_ACCESS_DENIED_ERROR'),
    close: () => mariadb.close(),
  };
});

afterAll(async () => {
  await server?.close();
});

describeRotator('mysql, basic_auth', async () => databaseUnderTest(mysqlRotator, 'basic_auth', () => server));
describeRotator('mysql, connection_string', async () =>
  databaseUnderTest(mysqlRotator, 'connection_string', () => server, { host: '%' }),
);

describe('mysql rotator', () => {
  const contextFor = (
    current: DatabaseLogin,
    admin: DatabaseLogin,
    settings: Record<string, unknown> = {},
  ) => {
    const adminCredential = randomUUID();
    return rotationContext(mysqlRotator, {
      credentialType: 'connection_string',
      current: loginUrl(server, current),
      settings: { adminCredential, ...settings },
      related: { [adminCredential]: { type: 'connection_string', value: loginUrl(server, admin) } },
    });
  };

  it("the host setting names the account's host part", async () => {
    const local = login(await mariadb.createAccount({ host: '127.0.0.1' }));
    // The default '%' is another account: the server has no such user.
    const wrongHost = contextFor(local, server.admin);
    const refused = await rotationError(mysqlRotator.set(wrongHost, await mysqlRotator.create(wrongHost)));
    expect(refused.code).toBe('TARGET_REFUSED');
    expect(refused.message).toContain('ER_CANNOT_USER');

    const ctx = contextFor(local, server.admin, { host: '127.0.0.1' });
    const pending = await mysqlRotator.create(ctx);
    await mysqlRotator.set(ctx, pending);
    await mysqlRotator.test(ctx, pending);
    expect(await server.canLogin(pending as string)).toBe(true);
  });

  it("a refused ALTER USER keeps none of mysql2's error fields: its `sql` holds the password", async () => {
    const ctx = contextFor({ username: 'credreg_nobody', password: 'irrelevant-password' }, server.admin);
    const err = await rotationError(mysqlRotator.set(ctx, await mysqlRotator.create(ctx)));
    expect(err.cause).toBeInstanceOf(Error);
    expect(err.cause).not.toHaveProperty('sql');
    expect(Object.keys(err.cause as object).sort()).toEqual(['code', 'errno', 'name', 'sqlState']);
  });

  it('Precondition: the user name holds no quote, backslash or control character.', async () => {
    for (const username of ["o'brien", 'back\\slash', 'tab\tname']) {
      const ctx = contextFor({ username, password: 'irrelevant-password' }, server.admin);
      const err = await rotationError(mysqlRotator.set(ctx, await mysqlRotator.create(ctx)));
      expect(err.code).toBe('INVALID_VALUE');
      expect(err.options.retryable).toBe(false);
    }
  });

  it('its settings refuse a host part holding a quote', () => {
    const parsed = mysqlRotator.settings.safeParse({ adminCredential: randomUUID(), host: "%' OR '1" });
    expect(parsed.success).toBe(false);
  });
});
