/**
 * Group commit of reveals (src/db/group-commit.ts): concurrent reveals of one tenant share one
 * transaction, and still each value leaves only after its own row has committed. Checked from
 * outside the service code: rows are read as the owner, and a transaction is told by `xmin`.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TenantRegistry } from '../../src/core/registry.js';
import { SqlRegistryStore } from '../../src/db/tenant-store.js';
import { assemble } from '../../src/main.js';
import {
  describeEachBackend,
  expectCode,
  openTestRegistry,
  silentLogger,
  type TestBackend,
  type TestRegistry,
  testConfig,
} from '../helpers/backends.js';

const ctx = (requestId: string) => ({ actor: 'alice', requestId });

describeEachBackend('group commit', (backend: TestBackend) => {
  let t: TestRegistry;
  let acme: TenantRegistry;
  let acmeId: string;
  let hooli: TenantRegistry;
  let acmeCreds: { id: string; value: string }[];
  let hooliCred: string;
  const owner = (sql: string) => t.db.session((s) => s.exec(sql));
  /** Each reveal's row, by request id: its transaction (`xmin`), tenant and outcome. */
  const rowsOf = (prefix: string) =>
    t.db.session((s) =>
      s.query<{ request_id: string; xid: string; tenant_id: string; outcome: string; reason: string }>(
        `SELECT request_id, xmin::text AS xid, tenant_id::text, outcome, reason FROM credential_access_log
          WHERE request_id LIKE $1 ORDER BY request_id`,
        [`${prefix}%`],
      ),
    );
  const revealAll = (prefix: string, n: number, reason = 'batch') =>
    Promise.allSettled(
      Array.from({ length: n }, (_, i) =>
        acme.credentials.reveal(acmeCreds[i % acmeCreds.length]!.id, { ...ctx(`${prefix}-${i}`), reason }),
      ),
    );

  beforeAll(async () => {
    t = await openTestRegistry(backend);
    acmeId = (await t.registry.tenants.create({ name: 'acme' })).id;
    acme = t.registry.forTenant(acmeId);
    hooli = t.registry.forTenant((await t.registry.tenants.create({ name: 'hooli' })).id);
    const v = await acme.vaults.create({ name: 'v' }, ctx('setup'));
    acmeCreds = [];
    for (let i = 0; i < 4; i++) {
      const value = `acme-secret-${i}`;
      const c = await acme.credentials.store(
        { vaultId: v.id, name: `c${i}`, type: 'api_key', value },
        ctx('setup'),
      );
      acmeCreds.push({ id: c.id, value });
    }
    const hv = await hooli.vaults.create({ name: 'v' }, ctx('setup'));
    hooliCred = (
      await hooli.credentials.store(
        { vaultId: hv.id, name: 'h', type: 'api_key', value: 'hooli-secret' },
        ctx('setup'),
      )
    ).id;
  });
  afterAll(() => t?.close());

  it('concurrent reveals of one tenant share transactions, each with its own row and its own value', async () => {
    const before = t.registry.groupCommitStats();
    const results = await revealAll('share', 24);
    expect(results.map((r) => r.status)).toEqual(Array(24).fill('fulfilled'));
    results.forEach((r, i) => {
      expect((r as PromiseFulfilledResult<{ value: unknown }>).value.value).toBe(acmeCreds[i % 4]!.value);
    });
    const rows = await rowsOf('share-');
    expect(rows).toHaveLength(24);
    expect(rows.every((r) => r.outcome === 'granted' && r.tenant_id === acmeId)).toBe(true);
    // Fewer transactions than reveals: some rows were committed together.
    expect(new Set(rows.map((r) => r.xid)).size).toBeLessThan(24);
    const after = t.registry.groupCommitStats();
    expect(after.members - before.members).toBe(24);
    expect(after.batches - before.batches).toBeLessThan(24);
  });

  it('never mixes tenants in one transaction: each tenant sees only its own credentials', async () => {
    const mixed = await Promise.allSettled([
      ...Array.from({ length: 8 }, (_, i) =>
        acme.credentials.reveal(acmeCreds[0]!.id, { ...ctx(`mix-a-${i}`), reason: 'mix' }),
      ),
      ...Array.from({ length: 8 }, (_, i) =>
        hooli.credentials.reveal(hooliCred, { ...ctx(`mix-h-${i}`), reason: 'mix' }),
      ),
      // Another tenant's id, revealed in a batch of acme's: not found, as alone.
      acme.credentials.reveal(hooliCred, { ...ctx('mix-x'), reason: 'mix' }),
    ]);
    expect(mixed.slice(0, 16).every((r) => r.status === 'fulfilled')).toBe(true);
    expect((mixed[16] as PromiseRejectedResult).reason.code).toBe('NOT_FOUND');
    const rows = await rowsOf('mix-');
    const acmeXids = new Set(rows.filter((r) => r.tenant_id === acmeId).map((r) => r.xid));
    const hooliRows = rows.filter((r) => r.tenant_id !== acmeId);
    expect(hooliRows).toHaveLength(8);
    expect(hooliRows.some((r) => acmeXids.has(r.xid))).toBe(false);
    expect(rows.find((r) => r.request_id === 'mix-x')).toMatchObject({
      tenant_id: acmeId,
      outcome: 'not_found',
    });
  });

  it('a caller whose work fails (a cold vault key) leaves no row of that attempt: one row per reveal', async () => {
    // A second registry on the same database: its vault-key cache is empty, so every reveal's
    // first attempt stops at the key, leaves its batch, and comes back once the key is unwrapped.
    const cold = (
      await assemble(t.db, { config: testConfig(t.prefix, t.rootKey), logger: silentLogger })
    ).forTenant(acmeId);
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        cold.credentials.reveal(acmeCreds[i % 4]!.id, { ...ctx(`cold-${i}`), reason: 'cold' }),
      ),
    );
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    const rows = await rowsOf('cold-');
    expect(rows.map((r) => r.request_id).sort()).toEqual(
      Array.from({ length: 12 }, (_, i) => `cold-${i}`).sort(),
    );
  });

  it('a row the database refuses fails only its own caller: the others run again alone and succeed', async () => {
    await owner(`CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
                   BEGIN IF NEW.reason = 'poison' THEN RAISE EXCEPTION 'no poison here'; END IF; RETURN NEW; END $$;
                 CREATE TRIGGER refuse_poison BEFORE INSERT ON credential_access_log
                   FOR EACH ROW EXECUTE FUNCTION refuse_poison();`);
    try {
      const results = await Promise.allSettled([
        ...Array.from({ length: 6 }, (_, i) =>
          acme.credentials.reveal(acmeCreds[1]!.id, { ...ctx(`poison-ok-${i}`), reason: 'fine' }),
        ),
        acme.credentials.reveal(acmeCreds[1]!.id, { ...ctx('poison-bad'), reason: 'poison' }),
      ]);
      expect(results.slice(0, 6).every((r) => r.status === 'fulfilled')).toBe(true);
      const bad = results[6]!;
      expect(bad.status).toBe('rejected');
      expect((bad as PromiseRejectedResult).reason.code).toBe('AUDIT_UNAVAILABLE');
    } finally {
      await owner('DROP TRIGGER refuse_poison ON credential_access_log; DROP FUNCTION refuse_poison();');
    }
    const rows = await rowsOf('poison-');
    expect(rows.filter((r) => r.outcome === 'granted').map((r) => r.request_id)).toEqual(
      Array.from({ length: 6 }, (_, i) => `poison-ok-${i}`),
    );
    // The refused caller's failure is still recorded, with what it typed masked.
    expect(rows.find((r) => r.request_id === 'poison-bad')).toMatchObject({ outcome: 'error' });
  });

  it("one member's failed statement does not fail the others that read after it: they run again alone", async () => {
    const store = new SqlRegistryStore(t.db, t.roles);
    const [bad, good] = await Promise.allSettled([
      // U+0000 is refused by the server (22021), which aborts the shared transaction.
      store.withTenantShared(acmeId, (tx) => tx.credentials.findByPath('v', 'bad\u0000name')),
      store.withTenantShared(acmeId, async (tx) => {
        await tx.credentials.findByPath('v', 'c0');
        return tx.credentials.findSealed(acmeCreds[0]!.id);
      }),
    ]);
    expect(bad.status).toBe('rejected');
    expect(good).toMatchObject({ status: 'fulfilled', value: { credential: { id: acmeCreds[0]!.id } } });
  });

  it('when the database is away at the batch insert, every caller in the batch fails and none gets a value', async () => {
    // What a server shutting down answers (57P01): the store reports it as unavailable.
    await owner(`CREATE FUNCTION away() RETURNS trigger LANGUAGE plpgsql AS $$
                   BEGIN RAISE EXCEPTION 'shutting down' USING ERRCODE = 'admin_shutdown'; END $$;
                 CREATE TRIGGER away BEFORE INSERT ON credential_access_log
                   FOR EACH ROW EXECUTE FUNCTION away();`);
    let results: PromiseSettledResult<unknown>[];
    try {
      results = await revealAll('away', 10);
    } finally {
      await owner('DROP TRIGGER away ON credential_access_log; DROP FUNCTION away();');
    }
    expect(results.map((r) => r.status)).toEqual(Array(10).fill('rejected'));
    for (const r of results) {
      expect((r as PromiseRejectedResult).reason.code).toMatch(/^(AUDIT_)?UNAVAILABLE$/);
      expect(JSON.stringify(r)).not.toContain('acme-secret');
    }
    expect((await rowsOf('away-')).filter((r) => r.outcome === 'granted')).toEqual([]);
  });

  it('work in a shared transaction may only read: a write is refused before it reaches the database', async () => {
    const store = new SqlRegistryStore(t.db, t.roles);
    const write = store.withTenantShared(acmeId, (tx) =>
      tx.credentials.update(acmeCreds[0]!.id, { metadata: { changed: true } }),
    );
    await expectCode(write, 'INTERNAL');
    const locking = store.withTenantShared(acmeId, (tx) =>
      tx.credentials.find(acmeCreds[0]!.id, { forUpdate: true }),
    );
    await expectCode(locking, 'INTERNAL');
    expect((await acme.credentials.get(acmeCreds[0]!.id)).metadata).toEqual({});
    // Reads and row-level security as in any tenant transaction: another tenant's row is not there.
    expect(await store.withTenantShared(acmeId, (tx) => tx.credentials.findSealed(hooliCred))).toBeNull();
    expect(
      await store.withTenantShared(acmeId, (tx) => tx.credentials.findSealed(acmeCreds[0]!.id)),
    ).toMatchObject({
      credential: { id: acmeCreds[0]!.id },
    });
  });

  it.runIf(backend.name === 'postgres')(
    'a value leaves only after its row has committed: seen from another connection the moment it arrives',
    async () => {
      // A deferred trigger makes every COMMIT of an access-log row take a while, so a value handed
      // out before its COMMIT finished would arrive while its row is still invisible to others.
      await owner(`CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
                     BEGIN PERFORM pg_sleep(0.2); RETURN NULL; END $$;
                   CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON credential_access_log
                     DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();`);
      const observer = new pg.Pool({ connectionString: t.url, max: 6 });
      try {
        const seen = await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            acme.credentials
              .reveal(acmeCreds[2]!.id, { ...ctx(`commit-${i}`), reason: 'commit' })
              .then(async () => {
                const r = await observer.query(
                  'SELECT count(*)::int AS n FROM credential_access_log WHERE request_id = $1',
                  [`commit-${i}`],
                );
                return r.rows[0].n as number;
              }),
          ),
        );
        expect(seen).toEqual(Array(6).fill(1));
      } finally {
        await observer.end();
        await owner('DROP TRIGGER slow_commit ON credential_access_log; DROP FUNCTION slow_commit();');
      }
    },
  );
});
