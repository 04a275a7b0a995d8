/**
 * Expiry alerts on every backend: each window's `credential.expiring` once, in order, as the
 * registry's clock advances; windows already past collapse into the narrowest; `credential.expired`
 * once at expiry; vault defaults inherited and overridden; notices that follow every change of
 * expiry, windows and life cycle; concurrent sweeps (and instances) that send each notice once; and
 * the queue's row-level security. Time is the test clock, moved, never waited for.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { planExpiryNotices } from '../../src/core/expiry-alerts.js';
import type { TenantRegistry } from '../../src/core/registry.js';
import { openPg } from '../../src/db/pg-adapter.js';
import { assemble } from '../../src/main.js';
import {
  asRuntime,
  describeEachBackend,
  expectCode,
  openTestRegistry,
  silentLogger,
  type TestRegistry,
  testConfig,
} from '../helpers/backends.js';

const alice = { actor: 'alice' };
const CANARY = 'CANARY-expiry-5d1c7e20-never-in-an-event';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describeEachBackend('expiry alerts', (backend) => {
  let t: TestRegistry;
  let acme: TenantRegistry;
  let acmeId: string;
  let otherId: string;
  let vaultId: string;
  let n = 0;

  beforeAll(async () => {
    t = await openTestRegistry(backend);
    acmeId = (await t.registry.tenants.create({ name: 'acme' })).id;
    acme = t.registry.forTenant(acmeId);
    otherId = (await t.registry.tenants.create({ name: 'other' })).id;
    vaultId = (await acme.vaults.create({ name: 'v' }, alice)).id;
  });
  afterAll(() => t.close());

  const at = (ms: number) => new Date(t.clock.now().getTime() + ms);
  const store = (extra: Record<string, unknown>, vault = vaultId, tenant = acme) =>
    tenant.credentials.store(
      { vaultId: vault, name: `c${++n}`, type: 'api_key', value: CANARY, ...extra } as never,
      alice,
    );
  const sweep = () => t.registry.sendExpiryAlerts();
  /** Sweeps until nothing is due (other tests' notices included). */
  const drain = async () => {
    for (let i = 0; i < 100; i++) if ((await sweep()).found === 0) return;
    throw new Error('the expiry notices never drained');
  };
  /** The expiry events a credential has had, in order: each window, or `expired`. */
  const sent = async (credentialId: string) =>
    (
      await t.db.transaction((q) =>
        q.query<{ type: string; data: Record<string, unknown> }>(
          `SELECT type, data FROM events
            WHERE data->>'credentialId' = $1 AND type IN ('credential.expiring', 'credential.expired')
            ORDER BY id`,
          [credentialId],
        ),
      )
    ).map((e) => (e.type === 'credential.expired' ? 'expired' : String(e.data.window)));
  /** A credential's pending notices: window and days from now (by the registry's clock). */
  const pending = async (credentialId: string) =>
    (
      await t.db.transaction((q) =>
        q.query<{ alert_window: string; due_at: Date }>(
          'SELECT alert_window, due_at FROM expiry_notices WHERE credential_id = $1 ORDER BY due_at, alert_window',
          [credentialId],
        ),
      )
    ).map((r) => [
      r.alert_window,
      Math.round(((r.due_at.getTime() - t.clock.now().getTime()) / DAY) * 100) / 100,
    ]);

  it('each window fires once, in order, as the clock advances; then expired, once', async () => {
    const c = await store({ expiresAt: at(40 * DAY) });
    expect(c).toMatchObject({
      expiryAlerts: null,
      effectiveExpiryAlerts: ['P30D', 'P7D', 'P1D'],
      lastExpiryAlert: null,
    });
    expect(await pending(c.id)).toEqual([
      ['P30D', 10],
      ['P7D', 33],
      ['P1D', 39],
      ['expired', 40],
    ]);
    await drain();
    expect(await sent(c.id)).toEqual([]);
    const steps: Array<[number, string[]]> = [
      [10, ['P30D']],
      [23, ['P30D', 'P7D']],
      [6, ['P30D', 'P7D', 'P1D']],
      [1, ['P30D', 'P7D', 'P1D', 'expired']],
    ];
    for (const [days, expected] of steps) {
      t.clock.advance(days * DAY - 1000);
      await drain();
      expect(await sent(c.id), `a second before day ${days}`).toEqual(expected.slice(0, -1));
      t.clock.advance(1000);
      await drain();
      await drain(); // a second sweep finds nothing more
      expect(await sent(c.id)).toEqual(expected);
    }
    t.clock.advance(30 * DAY);
    await drain();
    expect(await sent(c.id)).toEqual(['P30D', 'P7D', 'P1D', 'expired']);
    expect(await pending(c.id)).toEqual([]);
    expect((await acme.credentials.get(c.id)).lastExpiryAlert).toBe('expired');
    await expectCode(acme.credentials.reveal(c.id, { ...alice, reason: 'expired?' }), 'EXPIRED');
  });

  it('events carry ids, name, version, expiresAt and the window; never a value', async () => {
    const c = await store({ expiresAt: at(2 * DAY) });
    await acme.credentials.rotate(c.id, `${CANARY}-2`, alice);
    await drain();
    const rows = await t.db.transaction((q) =>
      q.query<{ type: string; data: Record<string, unknown> }>(
        "SELECT type, data FROM events WHERE data->>'credentialId' = $1 AND type = 'credential.expiring'",
        [c.id],
      ),
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.data).toEqual({
      tenantId: acmeId,
      vaultId,
      credentialId: c.id,
      name: c.name,
      version: 2,
      expiresAt: c.expiresAt!.toISOString(),
      window: 'P7D',
    });
    const dump = await t.db.transaction(async (q) =>
      JSON.stringify([await q.query('SELECT * FROM events'), await q.query('SELECT * FROM expiry_notices')]),
    );
    expect(dump).not.toContain('CANARY');
  });

  it('windows already past when scheduled collapse: only the narrowest fires, at once', async () => {
    const twoDays = await store({ expiresAt: at(2 * DAY) });
    const halfDay = await store({ expiresAt: at(12 * HOUR) });
    expect(await pending(twoDays.id)).toEqual([
      ['P7D', 0],
      ['P1D', 1],
      ['expired', 2],
    ]);
    expect(await pending(halfDay.id)).toEqual([
      ['P1D', 0],
      ['expired', 0.5],
    ]);
    await drain();
    expect(await sent(twoDays.id)).toEqual(['P7D']);
    expect(await sent(halfDay.id)).toEqual(['P1D']);
    t.clock.advance(12 * HOUR);
    await drain();
    expect(await sent(halfDay.id)).toEqual(['P1D', 'expired']);
    // A sweep that fell behind passes over the wider of the notices due together.
    t.clock.advance(2 * DAY);
    await drain();
    expect(await sent(twoDays.id)).toEqual(['P7D', 'expired']);
  });

  it('the plan: past windows collapse into the narrowest, and announced ones are never planned again', () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const expiresAt = new Date(now.getTime() + 3 * DAY);
    const plan = (announced: string | null, windows = ['P30D', 'P7D', 'P2D', 'P1D']) =>
      planExpiryNotices({ expiresAt, windows, announced, now }).map((x) => [
        x.window,
        (x.dueAt.getTime() - now.getTime()) / DAY,
      ]);
    expect(plan(null)).toEqual([
      ['P7D', 0],
      ['P2D', 1],
      ['P1D', 2],
      ['expired', 3],
    ]);
    expect(plan('P7D')).toEqual([
      ['P2D', 1],
      ['P1D', 2],
      ['expired', 3],
    ]);
    expect(plan('P2D')).toEqual([
      ['P1D', 2],
      ['expired', 3],
    ]);
    expect(plan('expired')).toEqual([]);
    // `P1W` is `P7D`: one window, not two.
    expect(plan(null, ['P1W', 'P7D'])).toEqual([
      ['P1W', 0],
      ['expired', 3],
    ]);
    expect(planExpiryNotices({ expiresAt: null, windows: ['P1D'], announced: null, now })).toEqual([]);
    // Already expired: the expiry itself is the narrowest past window.
    const past = planExpiryNotices({
      expiresAt: new Date(now.getTime() - DAY),
      windows: ['P1D'],
      announced: null,
      now,
    });
    expect(past).toEqual([{ window: 'expired', dueAt: now }]);
  });

  it("a vault's default is inherited, a credential's own overrides it, and [] turns the windows off", async () => {
    const vault = await acme.vaults.create({ name: `inherit${++n}`, expiryAlerts: ['P20D', 'P2D'] }, alice);
    expect(vault.expiryAlerts).toEqual(['P20D', 'P2D']);
    const inherits = await store({ expiresAt: at(30 * DAY) }, vault.id);
    const own = await store({ expiresAt: at(30 * DAY), expiryAlerts: ['P5D'] }, vault.id);
    const off = await store({ expiresAt: at(30 * DAY), expiryAlerts: [] }, vault.id);
    const noExpiry = await store({}, vault.id);
    expect(inherits).toMatchObject({ expiryAlerts: null, effectiveExpiryAlerts: ['P20D', 'P2D'] });
    expect(own).toMatchObject({ expiryAlerts: ['P5D'], effectiveExpiryAlerts: ['P5D'] });
    expect(off).toMatchObject({ expiryAlerts: [], effectiveExpiryAlerts: [] });
    expect(await pending(inherits.id)).toEqual([
      ['P20D', 10],
      ['P2D', 28],
      ['expired', 30],
    ]);
    expect(await pending(own.id)).toEqual([
      ['P5D', 25],
      ['expired', 30],
    ]);
    // No window, but the expiry itself is still an event: the credential stops revealing then.
    expect(await pending(off.id)).toEqual([['expired', 30]]);
    expect(await pending(noExpiry.id)).toEqual([]);

    // A new default reschedules, at once, every credential that inherits it, and no other.
    const updated = await acme.vaults.update(vault.id, { expiryAlerts: ['P3D'] }, alice);
    expect(updated.expiryAlerts).toEqual(['P3D']);
    expect(await pending(inherits.id)).toEqual([
      ['P3D', 27],
      ['expired', 30],
    ]);
    expect(await pending(own.id)).toEqual([
      ['P5D', 25],
      ['expired', 30],
    ]);
    expect((await acme.credentials.get(inherits.id)).effectiveExpiryAlerts).toEqual(['P3D']);
    // Back to the system default; a credential that drops its own setting inherits again.
    await acme.vaults.update(vault.id, { expiryAlerts: null }, alice);
    expect((await acme.vaults.get(vault.id)).expiryAlerts).toBeNull();
    expect(await pending(inherits.id)).toEqual([
      ['P30D', 0],
      ['P7D', 23],
      ['P1D', 29],
      ['expired', 30],
    ]);
    const back = await acme.credentials.update(own.id, { expiryAlerts: null }, alice);
    expect(back).toMatchObject({ expiryAlerts: null, effectiveExpiryAlerts: ['P30D', 'P7D', 'P1D'] });
    expect((await pending(own.id)).map(([w]) => w)).toEqual(['P30D', 'P7D', 'P1D', 'expired']);
    // The vault change is logged and is an event.
    const log = await acme.audit.query({ vaultId: vault.id, action: 'vault_update' });
    expect(log.items.map((e) => e.outcome)).toEqual(['granted', 'granted']);
    const events = await t.db.transaction((q) =>
      q.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM events WHERE type = 'vault.updated' AND data->>'vaultId' = $1",
        [vault.id],
      ),
    );
    expect(events[0]!.n).toBe(2);
  });

  it('a new expiresAt replaces the pending notices: by PATCH, and by a rotation that sets one', async () => {
    const c = await store({ expiresAt: at(40 * DAY) });
    await acme.credentials.update(c.id, { metadata: { owner: 'billing' } }, alice);
    expect((await pending(c.id)).map(([w]) => w)).toEqual(['P30D', 'P7D', 'P1D', 'expired']);
    await acme.credentials.update(c.id, { expiresAt: at(20 * DAY) }, alice);
    expect(await pending(c.id)).toEqual([
      ['P30D', 0],
      ['P7D', 13],
      ['P1D', 19],
      ['expired', 20],
    ]);
    await drain();
    expect(await sent(c.id)).toEqual(['P30D']);
    // Another expiry starts afresh: what was announced for the old one is forgotten.
    await acme.credentials.rotate(c.id, 'next', { ...alice, expiresAt: at(100 * DAY) });
    expect((await acme.credentials.get(c.id)).lastExpiryAlert).toBeNull();
    expect(await pending(c.id)).toEqual([
      ['P30D', 70],
      ['P7D', 93],
      ['P1D', 99],
      ['expired', 100],
    ]);
    // A rotation without a new expiry leaves them alone; clearing the expiry removes them.
    await acme.credentials.rotate(c.id, 'again', alice);
    expect((await pending(c.id)).map(([w]) => w)).toEqual(['P30D', 'P7D', 'P1D', 'expired']);
    await acme.credentials.update(c.id, { expiresAt: null }, alice);
    expect(await pending(c.id)).toEqual([]);
  });

  it('new windows for the same expiry never announce a window twice', async () => {
    const c = await store({ expiresAt: at(5 * DAY) });
    await drain();
    expect(await sent(c.id)).toEqual(['P7D']);
    // P14D and P7D are past and as wide as what was announced: neither is sent again.
    await acme.credentials.update(c.id, { expiryAlerts: ['P14D', 'P7D', 'P3D', 'P1D'] }, alice);
    expect(await pending(c.id)).toEqual([
      ['P3D', 2],
      ['P1D', 4],
      ['expired', 5],
    ]);
    await drain();
    expect(await sent(c.id)).toEqual(['P7D']);
    t.clock.advance(2 * DAY);
    await drain();
    expect(await sent(c.id)).toEqual(['P7D', 'P3D']);
  });

  it('a deleted credential gets no notices; a restore schedules them again', async () => {
    const c = await store({ expiresAt: at(5 * DAY) });
    await acme.credentials.delete(c.id, {}, alice);
    expect(await pending(c.id)).toEqual([]);
    t.clock.advance(DAY);
    await drain();
    expect(await sent(c.id)).toEqual([]);
    await acme.credentials.restore(c.id, alice);
    expect(await pending(c.id)).toEqual([
      ['P7D', 0],
      ['P1D', 3],
      ['expired', 4],
    ]);
    await drain();
    expect(await sent(c.id)).toEqual(['P7D']);
    // Deleted again and restored: what was sent before is not sent again.
    await acme.credentials.delete(c.id, {}, alice);
    await acme.credentials.restore(c.id, alice);
    expect((await pending(c.id)).map(([w]) => w)).toEqual(['P1D', 'expired']);
    // A purge takes the credential's notices with it.
    await acme.credentials.delete(c.id, {}, alice);
    await acme.credentials.purge(c.id, alice);
    expect(await pending(c.id)).toEqual([]);
  });

  it('concurrent sweeps send each notice exactly once', async () => {
    await drain();
    const due = await Promise.all(Array.from({ length: 12 }, () => store({ expiresAt: at(3 * DAY) })));
    const reports = await Promise.all([sweep(), sweep(), sweep()]);
    expect(reports.reduce((s, r) => s + r.sent, 0)).toBe(12);
    expect(reports.reduce((s, r) => s + r.failed, 0)).toBe(0);
    for (const c of due) expect(await sent(c.id)).toEqual(['P7D']);
    expect((await sweep()).found).toBe(0);
  });

  it('two registry instances on one database send each notice exactly once', async () => {
    await drain();
    // On PostgreSQL, a second instance with its own pool; on PGlite (one process, one connection),
    // a second registry over the same database.
    const db = t.url ? openPg({ connectionString: t.url, maxConnections: 5 }) : t.db;
    const second = await assemble(db, {
      config: testConfig(t.prefix, t.rootKey),
      logger: silentLogger,
      clock: t.clock,
    });
    try {
      const due = await Promise.all(Array.from({ length: 10 }, () => store({ expiresAt: at(HOUR) })));
      const reports = await Promise.all([
        t.registry.sendExpiryAlerts({ limit: 5 }),
        second.sendExpiryAlerts({ limit: 5 }),
        t.registry.sendExpiryAlerts(),
        second.sendExpiryAlerts(),
      ]);
      await drain();
      expect(reports.reduce((s, r) => s + r.failed, 0)).toBe(0);
      for (const c of due) expect(await sent(c.id)).toEqual(['P1D']);
    } finally {
      if (t.url) await db.close();
    }
  });

  it("the runtime role for one tenant neither sees nor deletes another's notices; with none set it sees none", async () => {
    const mine = await store({ expiresAt: at(60 * DAY) });
    const other = t.registry.forTenant(otherId);
    const otherVault = await other.vaults.create({ name: 'o' }, alice);
    const theirs = await store({ expiresAt: at(60 * DAY) }, otherVault.id, other);
    await asRuntime(t, otherId, async (q) => {
      const seen = await q<{ n: number }>(
        'SELECT count(*)::int AS n FROM expiry_notices WHERE tenant_id = $1',
        [acmeId],
      );
      expect(seen[0]!.n).toBe(0);
      expect(
        await q('DELETE FROM expiry_notices WHERE credential_id = $1 RETURNING alert_window', [mine.id]),
      ).toEqual([]);
      expect(
        await q('UPDATE expiry_notices SET due_at = now() WHERE credential_id = $1 RETURNING alert_window', [
          mine.id,
        ]),
      ).toEqual([]);
      const own = await q<{ n: number }>('SELECT count(*)::int AS n FROM expiry_notices');
      expect(own[0]!.n).toBeGreaterThan(0);
    });
    await expect(
      asRuntime(t, otherId, (q) =>
        q(
          "INSERT INTO expiry_notices (tenant_id, credential_id, alert_window, due_at) VALUES ($1, $2, 'P2D', now())",
          [acmeId, mine.id],
        ),
      ),
    ).rejects.toThrow(/row-level security/);
    await asRuntime(t, null, async (q) => {
      expect((await q<{ n: number }>('SELECT count(*)::int AS n FROM expiry_notices'))[0]!.n).toBe(0);
      expect(await q('DELETE FROM expiry_notices RETURNING alert_window')).toEqual([]);
    });
    expect((await pending(mine.id)).length).toBe(4);
    expect((await pending(theirs.id)).length).toBe(4);
    // The platform role reads the four columns that find due work, and changes nothing.
    const asPlatform = (sql: string) =>
      t.db.transaction((c) => c.query(sql), `SELECT set_config('role', '${t.roles.platform}', true)`);
    expect(
      (await asPlatform('SELECT tenant_id, credential_id, alert_window, due_at FROM expiry_notices')).length,
    ).toBeGreaterThan(0);
    for (const sql of [
      'DELETE FROM expiry_notices',
      'UPDATE expiry_notices SET due_at = now()',
      `INSERT INTO expiry_notices (tenant_id, credential_id, alert_window, due_at) VALUES ('${acmeId}', '${mine.id}', 'P2D', now())`,
    ]) {
      await expect(asPlatform(sql), sql).rejects.toThrow(/permission denied/);
    }
  });

  it('bad windows, repeats, too many and unknown fields are refused, naming the field', async () => {
    const issues = async (p: Promise<unknown>) =>
      ((await expectCode(p, 'VALIDATION')) as unknown as { issues: { path: string }[] }).issues.map(
        (i) => i.path,
      );
    const expiresAt = at(10 * DAY);
    expect(await issues(store({ expiresAt, expiryAlerts: ['soon'] }))).toEqual(['expiryAlerts.0']);
    expect(await issues(store({ expiresAt, expiryAlerts: ['P7D', 'PT0H'] }))).toEqual(['expiryAlerts.1']);
    expect(await issues(store({ expiresAt, expiryAlerts: ['P7D', 'P1D', 'P1W'] }))).toEqual([
      'expiryAlerts.2',
    ]);
    const eleven = Array.from({ length: 11 }, (_, i) => `P${i + 1}D`);
    expect(await issues(store({ expiresAt, expiryAlerts: eleven }))).toEqual(['expiryAlerts']);
    expect(await issues(store({ expiresAt, expiryAlert: ['P7D'] }))).toEqual(['expiryAlert']);
    expect(await issues(store({ expiresAt, expiryAlerts: 'P7D' }))).toEqual(['expiryAlerts']);
    const c = await store({ expiresAt });
    expect(await issues(acme.credentials.update(c.id, { expiryAlerts: ['P7D', 'P7D'] }, alice))).toEqual([
      'expiryAlerts.1',
    ]);
    expect(await issues(acme.vaults.update(vaultId, { expiryAlerts: ['tomorrow'] }, alice))).toEqual([
      'expiryAlerts.0',
    ]);
    expect(await issues(acme.vaults.update(vaultId, { expiryAlert: ['P1D'] } as never, alice))).toContain(
      'expiryAlert',
    );
    expect(await issues(acme.vaults.create({ name: 'bad', expiryAlerts: ['P0D'] }, alice))).toEqual([
      'expiryAlerts.0',
    ]);
    await expectCode(acme.vaults.update(vaultId, {}, alice), 'VALIDATION');
    // Each refusal is in the access log.
    const refused = await acme.audit.query({ vaultId, action: 'vault_update', outcome: 'invalid' });
    expect(refused.items.length).toBe(3);
  });

  it('Precondition: the limit is a whole number from 1 to 1000.', async () => {
    await expectCode(t.registry.sendExpiryAlerts({ limit: 0 }), 'VALIDATION');
    await expectCode(t.registry.sendExpiryAlerts({ limit: 1.5 }), 'VALIDATION');
    await expectCode(t.registry.sendExpiryAlerts({ limit: 1001 }), 'VALIDATION');
  });
});
