/**
 * The `postgresql` rotator against a private PostgreSQL 15 cluster that checks passwords
 * (scram-sha-256): the machine's shared server trusts loopback, where a login proves nothing.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseLogin } from '../../src/rotators/database-login.js';
import { postgresqlRotator } from '../../src/rotators/postgresql.js';
import { type PgCluster, startCluster } from '../helpers/private-postgres.js';
import { waitUntil } from '../helpers/wait.js';
import { describeRotator, rotationContext } from './conformance.js';
import { type DatabaseServer, databaseUnderTest, loginUrl, loginWorks } from './database-harness.js';

const DATABASE = 'postgres';
let cluster: PgCluster;
let server: DatabaseServer;

const secret = () => randomBytes(18).toString('base64url');
const roleName = (what: string) => `credreg_${what}_${randomBytes(4).toString('hex')}`;

async function createRole(options: string): Promise<DatabaseLogin> {
  const login = { username: roleName('user'), password: secret() };
  await cluster.sql(
    DATABASE,
    `CREATE ROLE ${pg.escapeIdentifier(login.username)} LOGIN ${options} PASSWORD ${pg.escapeLiteral(login.password)}`,
  );
  return login;
}

beforeAll(async () => {
  cluster = await startCluster();
  // Only CREATEROLE, no superuser: the privilege the rotator's documentation asks for.
  const admin = await createRole('CREATEROLE');
  server = {
    scheme: 'postgres',
    port: cluster.port,
    database: DATABASE,
    admin,
    createUser: () => createRole(''),
    canLogin: (url) =>
      loginWorks(async () => {
        const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 30_000 });
        client.on('error', () => {});
        try {
          await client.connect();
          await client.query('SELECT 1');
        } finally {
          await client.end().catch(() => {});
        }
      }, '28P01'),
    // The cluster goes with every role in it.
    close: async () => {},
  };
});

afterAll(() => {
  cluster?.destroy();
});

describeRotator('postgresql, basic_auth', async () =>
  databaseUnderTest(postgresqlRotator, 'basic_auth', () => server),
);
describeRotator('postgresql, connection_string', async () =>
  databaseUnderTest(postgresqlRotator, 'connection_string', () => server),
);

describe('postgresql rotator', () => {
  const contextFor = (current: DatabaseLogin, admin: DatabaseLogin) => {
    const adminCredential = randomUUID();
    return rotationContext(postgresqlRotator, {
      credentialType: 'connection_string',
      current: loginUrl(server, current),
      settings: { adminCredential },
      related: { [adminCredential]: { type: 'connection_string', value: loginUrl(server, admin) } },
    });
  };

  it("set sends a SCRAM verifier, so the server's statement log never sees the new password", async () => {
    await cluster.sql(DATABASE, "ALTER SYSTEM SET log_statement = 'all'");
    await cluster.sql(DATABASE, 'SELECT pg_reload_conf()');
    try {
      const user = await server.createUser();
      // Wait until the reload took: the CREATE ROLE just run is in the log only once it has.
      await waitUntil(
        async () => cluster.logTail(50).includes(user.username),
        'log_statement to take effect',
      );
      const ctx = contextFor(user, server.admin);
      const pending = (await postgresqlRotator.create(ctx)) as string;
      await postgresqlRotator.set(ctx, pending);
      const password = decodeURIComponent(new URL(pending).password);
      await waitUntil(
        async () => /ALTER ROLE .* PASSWORD 'SCRAM-SHA-256\$/.test(cluster.logTail(200)),
        'the ALTER ROLE in the log',
      );
      expect(cluster.logTail(10_000)).not.toContain(password);
      expect(await server.canLogin(pending)).toBe(true);
    } finally {
      await cluster.sql(DATABASE, 'ALTER SYSTEM RESET log_statement');
      await cluster.sql(DATABASE, 'SELECT pg_reload_conf()');
    }
  });

  it('a role name that needs quoting is quoted, not interpreted', async () => {
    const user = { username: `we"ird ${roleName('x')}; DROP ROLE x`, password: secret() };
    await cluster.sql(
      DATABASE,
      `CREATE ROLE ${pg.escapeIdentifier(user.username)} LOGIN PASSWORD ${pg.escapeLiteral(user.password)}`,
    );
    const ctx = contextFor(user, server.admin);
    const pending = await postgresqlRotator.create(ctx);
    await postgresqlRotator.set(ctx, pending);
    await postgresqlRotator.test(ctx, pending);
    expect(await server.canLogin(pending as string)).toBe(true);
  });
});
