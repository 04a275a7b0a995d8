/**
 * Production mode on PostgreSQL: the service logs in as a role that has no rights of its own and is
 * only a NOINHERIT member of the two runtime roles.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openPg } from '../../src/db/pg-adapter.js';
import type { SqlDatabase } from '../../src/db/sql.js';
import { assemble, type RegistryHandle } from '../../src/main.js';
import { describeEachBackend, silentLogger, type TestDatabase, testConfig } from '../helpers/backends.js';

describeEachBackend('a login role that is only a member of the runtime roles', (backend) => {
  if (backend.name !== 'postgres') {
    it.skip('needs PostgreSQL (PGlite has a single built-in user)', () => {});
    return;
  }
  let t: TestDatabase;
  let login: string;
  let db: SqlDatabase;
  let registry: RegistryHandle;

  beforeAll(async () => {
    t = await backend.open();
    login = `${t.prefix}_svc`;
    await t.db.session((s) =>
      s.exec(`CREATE ROLE "${login}" LOGIN NOINHERIT IN ROLE "${t.roles.runtime}", "${t.roles.platform}"`),
    );
    const url = new URL(process.env.DATABASE_URL!);
    url.username = login;
    url.pathname = `/${await t.db.session(async (s) => (await s.query<{ d: string }>('SELECT current_database() AS d'))[0]!.d)}`;
    db = openPg({ connectionString: url.toString() });
    registry = await assemble(db, { config: testConfig(t.prefix), logger: silentLogger });
  });
  afterAll(async () => {
    await db?.close();
    await t?.db.session((s) => s.exec(`DROP OWNED BY "${login}"; DROP ROLE "${login}"`));
    await t?.close();
  });

  it('starts, is ready, and serves tenants, vaults and reveals', async () => {
    expect(await registry.readiness()).toMatchObject({ ready: true });
    const tenant = await registry.tenants.create({ name: 'acme' });
    const acme = registry.forTenant(tenant.id);
    const vault = await acme.vaults.create({ name: 'v' }, { actor: 'svc' });
    const c = await acme.credentials.store(
      { vaultId: vault.id, name: 'k', type: 'api_key', value: 'prod' },
      { actor: 'svc' },
    );
    expect((await acme.credentials.reveal(c.id, { actor: 'svc', reason: 'r' })).value).toBe('prod');
  });

  it('cannot read any table with its own rights, without switching role', async () => {
    await expect(db.transaction((c) => c.query('SELECT 1 FROM stored_credentials'))).rejects.toThrow(
      /permission denied/,
    );
    await expect(db.transaction((c) => c.query('SELECT 1 FROM tenants'))).rejects.toThrow(
      /permission denied/,
    );
  });
});
