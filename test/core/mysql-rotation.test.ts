/**
 * The `mysql` rotator through the registry, on both backends, against the machine's MariaDB with
 * password-authenticated accounts: the scheduler rotates a due user's password, the new one logs
 * in and the old one no longer does, and an admin that may not change it leaves the current
 * password working with the failure recorded.
 */
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TenantRegistry } from '../../src/core/registry.js';
import { describeEachBackend, openTestRegistry, type TestRegistry } from '../helpers/backends.js';
import { type Mariadb, type MariadbAccount, openMariadb } from '../helpers/mariadb.js';

const alice = { actor: 'alice' };

describeEachBackend('mysql rotation through the registry', (backend) => {
  let t: TestRegistry;
  let mariadb: Mariadb;
  let acme: TenantRegistry;
  let vaultId: string;
  const url = (a: Pick<MariadbAccount, 'username' | 'password'>) =>
    `mysql://${encodeURIComponent(a.username)}:${encodeURIComponent(a.password)}@127.0.0.1:${mariadb.port}/`;
  /** Whether `a` logs in; false on "access denied", a throw on anything else. */
  const logsIn = async (a: Pick<MariadbAccount, 'username' | 'password'>) => {
    try {
      const conn = await mysql.createConnection({ uri: url(a), connectTimeout: 30_000 });
      conn.destroy();
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === 'ER_ACCESS_DENIED_ERROR') return false;
      throw err;
    }
  };
  const storeAdmin = async (account: MariadbAccount, name: string) =>
    (await acme.credentials.store({ vaultId, name, type: 'connection_string', value: url(account) }, alice))
      .id;

  beforeAll(async () => {
    mariadb = await openMariadb();
    t = await openTestRegistry(backend, { config: { webhooks: { intervalMs: 0, allowPrivateUrls: true } } });
    acme = t.registry.forTenant((await t.registry.tenants.create({ name: 'acme' })).id);
    vaultId = (await acme.vaults.create({ name: 'db' }, alice)).id;
  });
  afterAll(async () => {
    await t?.registry.close();
    await t?.close();
    await mariadb?.close();
  });

  it('a due user password is rotated by the scheduler: the new one logs in, the old one does not', async () => {
    const admin = await storeAdmin(
      await mariadb.createAccount({ grants: ['GRANT CREATE USER ON *.*'] }),
      'admin',
    );
    const user = await mariadb.createAccount();
    const c = await acme.credentials.store(
      {
        vaultId,
        name: 'app',
        type: 'basic_auth',
        value: { username: user.username, password: user.password },
        rotation: { schedule: 'P30D', rotator: { type: 'mysql', adminCredential: admin } },
      },
      alice,
    );
    // Due now by the database's clock, which the scheduler's queue follows.
    await t.db.transaction((q) =>
      q.query("UPDATE due_rotations SET due_at = now() - interval '1 minute' WHERE credential_id = $1", [
        c.id,
      ]),
    );
    expect(await t.registry.rotateDue({ limit: 10 })).toMatchObject({ claimed: 1, rotated: 1, failed: 0 });
    const now = await acme.credentials.reveal(c.id, { ...alice, reason: 'connect' });
    const fresh = now.value as { username: string; password: string };
    expect(now.version).toBe(2);
    expect(fresh.username).toBe(user.username);
    expect(fresh.password).not.toBe(user.password);
    expect(await logsIn(fresh)).toBe(true);
    expect(await logsIn(user)).toBe(false);
    const meta = await acme.credentials.get(c.id, alice);
    expect(meta.rotation).toMatchObject({ state: 'idle', previousVersion: 1, lastError: null });
    expect(meta.rotation!.nextRotationAt!.getTime()).toBeGreaterThan(
      t.clock.now().getTime() + 29 * 86_400_000,
    );
  });

  it('an admin without the privilege fails at set: the current password still works, the error is recorded', async () => {
    const weak = await storeAdmin(await mariadb.createAccount(), 'weak-admin');
    const user = await mariadb.createAccount();
    const c = await acme.credentials.store(
      {
        vaultId,
        name: 'app2',
        type: 'basic_auth',
        value: { username: user.username, password: user.password },
        rotation: { rotator: { type: 'mysql', adminCredential: weak } },
      },
      alice,
    );
    await expect(acme.credentials.rotate(c.id, undefined, alice)).rejects.toMatchObject({
      code: 'ROTATION_FAILED',
    });
    const meta = await acme.credentials.get(c.id, alice);
    expect(meta.currentVersion).toBe(1);
    expect(meta.rotation).toMatchObject({ state: 'failed', attempts: 1 });
    expect(meta.rotation!.lastError!.message).not.toContain(user.password);
    expect(await logsIn(user)).toBe(true);
    expect((await acme.credentials.reveal(c.id, { ...alice, reason: 'connect' })).value).toEqual({
      username: user.username,
      password: user.password,
    });
  });
});
