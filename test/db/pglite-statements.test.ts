/**
 * The embedded store prepares each distinct statement once and runs it again by name. Prepared is
 * not the same as unchanged: these pin down that a reused statement still sees what its role and
 * tenant may see, survives failures and rollbacks, follows DDL, stays bounded, and takes and gives
 * values as PGlite's own `query` does.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { openPglite } from '../../src/db/pglite-adapter.js';
import { type DbRoles, rolesFromPrefix } from '../../src/db/roles.js';
import type { SqlClient, SqlDatabase } from '../../src/db/sql.js';

/** The reveal's select, as `findSealed` sends it (its columns trimmed). */
const REVEAL = `SELECT c.id, c.name, v.version, v.ciphertext
     FROM stored_credentials c
     LEFT JOIN credential_versions v
       ON v.tenant_id = c.tenant_id AND v.credential_id = c.id AND v.version = coalesce($3::int, c.current_version)
    WHERE c.tenant_id = $1 AND c.id = $2`;
const COUNT = 'SELECT count(*)::int AS n FROM stored_credentials WHERE id = ANY($1::uuid[])';

const countPrepared = (db: SqlDatabase) =>
  db.session(async (s) => {
    const [row] = await s.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements');
    return row!.n;
  });

describe('prepared statements on the embedded store', () => {
  let db: SqlDatabase;
  let roles: DbRoles;
  const tenants = [randomUUID(), randomUUID()];
  const credentials = [randomUUID(), randomUUID()];

  /** As `SqlRegistryStore.withTenant`: the runtime role, the tenant, both transaction-local. */
  const asTenant = <T>(tenantId: string | null, fn: (c: SqlClient) => Promise<T>) =>
    db.transaction(
      fn,
      tenantId
        ? `SET LOCAL ROLE "${roles.runtime}"; SET LOCAL app.current_tenant_id = '${tenantId}'`
        : `SET LOCAL ROLE "${roles.runtime}"`,
    );
  const asPlatform = <T>(fn: (c: SqlClient) => Promise<T>) =>
    db.transaction(fn, `SET LOCAL ROLE "${roles.platform}"`);

  // One database for all: migrating costs more than every test here, and statements prepared by one
  // test staying around for the next is what the service sees too.
  beforeAll(async () => {
    db = await openPglite();
    roles = rolesFromPrefix('credreg');
    await migrate(db, roles);
    await db.session((s) =>
      s.exec(
        tenants
          .map((t, i) => {
            const vault = randomUUID();
            return `INSERT INTO tenants (tenant_id, name) VALUES ('${t}', 'tenant-${i}');
              INSERT INTO credential_vaults (tenant_id, id, name, created_by) VALUES ('${t}', '${vault}', 'v', 'test');
              INSERT INTO vault_keys (tenant_id, vault_id, version, wrapped_key, provider, provider_key_id)
                VALUES ('${t}', '${vault}', 1, '\\x00', 'local', 'k');
              INSERT INTO stored_credentials (tenant_id, id, vault_id, name, type, current_version, created_by)
                VALUES ('${t}', '${credentials[i]}', '${vault}', 'cred-${i}', 'api_key', 1, 'test');
              INSERT INTO credential_versions (tenant_id, credential_id, version, vault_id, vault_key_version, ciphertext, created_by)
                VALUES ('${t}', '${credentials[i]}', 1, '${vault}', 1, '\\x0${i}ff', 'test');`;
          })
          .join('\n'),
      ),
    );
  });

  afterAll(async () => {
    await db.close();
  });

  it('a statement first run by the owner, who sees every tenant, sees only its tenant under the runtime role', async () => {
    // The owner (PGlite's superuser) bypasses row-level security: the first plan has no policy in it.
    const owner = await db.transaction((c) => c.query<{ n: number }>(COUNT, [credentials]));
    expect(owner[0]!.n).toBe(2);
    // More than five runs each, so that PostgreSQL's plan cache has settled on a generic plan.
    for (let round = 0; round < 8; round++) {
      for (const [i, tenant] of tenants.entries()) {
        const rows = await asTenant(tenant, (c) => c.query<{ n: number }>(COUNT, [credentials]));
        expect(rows[0]!.n).toBe(1);
        const own = await asTenant(tenant, (c) => c.query(REVEAL, [tenant, credentials[i], null]));
        expect(own.map((r) => r.name)).toEqual([`cred-${i}`]);
        // The other tenant's row, asked for by its own tenant id and credential id: nothing.
        const other = await asTenant(tenant, (c) =>
          c.query(REVEAL, [tenants[1 - i], credentials[1 - i], null]),
        );
        expect(other).toEqual([]);
      }
      expect((await asTenant(null, (c) => c.query<{ n: number }>(COUNT, [credentials])))[0]!.n).toBe(0);
      await expect(asPlatform((c) => c.query(COUNT, [credentials]))).rejects.toMatchObject({ code: '42501' });
      expect((await db.transaction((c) => c.query<{ n: number }>(COUNT, [credentials])))[0]!.n).toBe(2);
    }
  });

  it('a statement that fails does not break later ones, nor the same one with other values', async () => {
    const divide = 'SELECT 10 / $1::int AS q';
    await expect(db.transaction((c) => c.query(divide, [0]))).rejects.toMatchObject({
      code: '22012',
      query: divide,
    });
    expect(await db.transaction((c) => c.query(divide, [5]))).toEqual([{ q: 2 }]);
    // One that cannot even be prepared, then one that can.
    await expect(db.transaction((c) => c.query('SELEC 1'))).rejects.toMatchObject({ code: '42601' });
    expect(await db.transaction((c) => c.query('SELECT 1 AS one'))).toEqual([{ one: 1 }]);
    // A statement prepared in a transaction already aborted is not prepared, and works later.
    await expect(
      db.transaction(async (c) => {
        await c.query(divide, [0]).catch(() => {});
        await c.query('SELECT 2 AS two');
      }),
    ).rejects.toMatchObject({ code: '25P02' });
    expect(await db.transaction((c) => c.query('SELECT 2 AS two'))).toEqual([{ two: 2 }]);
  });

  it('a statement prepared in a transaction that rolled back is still there, once', async () => {
    const text = 'SELECT name FROM stored_credentials WHERE tenant_id = $1';
    await expect(
      asTenant(tenants[0]!, async (c) => {
        expect(await c.query(text, [tenants[0]])).toEqual([{ name: 'cred-0' }]);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    const before = await countPrepared(db);
    expect(await asTenant(tenants[1]!, (c) => c.query(text, [tenants[1]]))).toEqual([{ name: 'cred-1' }]);
    expect(await countPrepared(db)).toBe(before);
  });

  it('a statement prepared before a migration runs after it with the new columns', async () => {
    const text = 'SELECT * FROM vaults_extra WHERE id = $1';
    await db.session((s) =>
      s.exec('CREATE TABLE vaults_extra (id int PRIMARY KEY); INSERT INTO vaults_extra VALUES (1)'),
    );
    expect(await db.transaction((c) => c.query(text, [1]))).toEqual([{ id: 1 }]);
    await db.session((s) => s.exec("ALTER TABLE vaults_extra ADD COLUMN note text NOT NULL DEFAULT 'n'"));
    expect(await db.transaction((c) => c.query(text, [1]))).toEqual([{ id: 1, note: 'n' }]);
  });

  it('DDL from elsewhere fails a changed statement once, then it is prepared again', async () => {
    const text = 'SELECT * FROM other_extra WHERE id = $1';
    await db.session((s) =>
      s.exec('CREATE TABLE other_extra (id int PRIMARY KEY); INSERT INTO other_extra VALUES (1)'),
    );
    expect(await db.transaction((c) => c.query(text, [1]))).toEqual([{ id: 1 }]);
    await db.transaction((c) => c.query('ALTER TABLE other_extra ADD COLUMN note text'));
    await expect(db.transaction((c) => c.query(text, [1]))).rejects.toMatchObject({ code: '0A000' });
    expect(await db.transaction((c) => c.query(text, [1]))).toEqual([{ id: 1, note: null }]);
  });

  it('the number of prepared statements is bounded', async () => {
    for (let i = 0; i < 300; i++) {
      expect(await db.transaction((c) => c.query(`SELECT $1::int + ${i} AS n`, [1]))).toEqual([{ n: i + 1 }]);
    }
    const prepared = await countPrepared(db);
    expect(prepared).toBeGreaterThan(0);
    expect(prepared).toBeLessThanOrEqual(256);
    // The ones closed to make room are prepared again when asked for.
    expect(await db.transaction((c) => c.query('SELECT $1::int + 0 AS n', [1]))).toEqual([{ n: 1 }]);
  });

  it('values go in and come out as through PGlite’s own query', async () => {
    const text = `SELECT $1::int AS i, $2::uuid[] AS ids, $3::bytea AS b, $4::jsonb AS j, $5::timestamptz AS t,
                          $6::text AS s, $7::boolean AS f, $8::bigint AS big`;
    const values = [
      [
        null,
        [randomUUID(), randomUUID()],
        Buffer.from([0, 1, 255]),
        { a: [1, 'x'] },
        new Date(0),
        'é',
        false,
        42n,
      ],
      [7, [], new Uint8Array([9]), '{"b":null}', null, null, true, null],
    ];
    for (const params of values) {
      const plain = await db.session((s) => s.query(text, params));
      for (let round = 0; round < 7; round++) {
        expect(await db.transaction((c) => c.query(text, params))).toEqual(plain);
      }
    }
  });

  it('a statement issued after its transaction ended is refused', async () => {
    let leaked: SqlClient | undefined;
    await db.transaction(async (c) => {
      leaked = c;
    });
    await expect(leaked!.query('SELECT 1')).rejects.toThrow('Transaction is closed');
  });
});
