/**
 * Scheduled jobs run once per interval across instances: two registries on one database (each with
 * its own pool on PostgreSQL) race for the lease, and exactly one wins each interval.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ScheduledJob } from '../../src/core/ports.js';
import { openPg } from '../../src/db/pg-adapter.js';
import { assemble, type RegistryHandle } from '../../src/main.js';
import {
  asRuntime,
  describeEachBackend,
  openTestRegistry,
  silentLogger,
  type TestRegistry,
  testConfig,
} from '../helpers/backends.js';

const JOB: ScheduledJob = 'maintenance';

describeEachBackend('job leases', (backend) => {
  let t: TestRegistry;
  let other: RegistryHandle;

  beforeAll(async () => {
    t = await openTestRegistry(backend);
    // A second instance: its own pool on PostgreSQL; on PGlite the one embedded database.
    const db = t.url ? openPg({ connectionString: t.url, maxConnections: 5 }) : t.db;
    other = await assemble(db, { config: testConfig(t.prefix, t.rootKey), logger: silentLogger });
  });
  afterAll(async () => {
    if (t.url) await other?.close();
    await t?.close();
  });

  /** The lease row as the owner sees it, with the database's own clock. */
  const lease = async () => {
    const [row] = await t.db.transaction((c) =>
      c.query<{ holder: string | null; due: boolean; left_ms: number }>(
        `SELECT holder, next_run_at <= now() AS due,
                (extract(epoch FROM next_run_at - now()) * 1000)::float8 AS left_ms
           FROM job_leases WHERE name = $1`,
        [JOB],
      ),
    );
    return row!;
  };

  /** Ten claims from each registry at once; the holders that won. */
  const race = async (leaseMs: number) => {
    const claims = [t.registry, other].flatMap((r, i) =>
      Array.from({ length: 10 }, async (_, n) => {
        const holder = `instance-${i}:${n}`;
        return (await r.claimScheduledRun(JOB, holder, leaseMs)) ? holder : null;
      }),
    );
    return (await Promise.all(claims)).filter((w): w is string => w !== null);
  };

  it('the migration seeds the maintenance lease, due at once and held by no one', async () => {
    expect(await lease()).toMatchObject({ holder: null, due: true });
  });

  it('of two registries claiming at once, exactly one wins; no one again while the lease lasts', async () => {
    const winners = await race(60_000);
    expect(winners).toHaveLength(1);
    const row = await lease();
    expect(row).toMatchObject({ holder: winners[0], due: false });
    // Held by the database's clock for the whole lease, from now on.
    expect(row.left_ms).toBeGreaterThan(50_000);
    expect(row.left_ms).toBeLessThanOrEqual(60_000);
    expect(await race(60_000)).toEqual([]);
  });

  it('once the lease lapses (its holder never gives it back) it is claimed again, never twice in one lease', async () => {
    await t.db.session((s) => s.exec('UPDATE job_leases SET next_run_at = now()'));
    const LEASE_MS = 300;
    // Three claimers on each registry, claiming over and over, until four leases were won. Each win
    // answers its lease's end by the database's clock, so the check holds however slow the machine:
    // a win needs the last lease over, so two ends are at least a lease apart.
    const ends: Date[] = [];
    const until = Date.now() + 30_000;
    await Promise.all(
      [t.registry, other].flatMap((r, i) =>
        [0, 1, 2].map(async (n) => {
          while (ends.length < 4 && Date.now() < until) {
            const end = await r.claimScheduledRun(JOB, `instance-${i}:${n}`, LEASE_MS);
            if (end) ends.push(end);
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
        }),
      ),
    );
    expect(ends.length).toBeGreaterThanOrEqual(4);
    const sorted = ends.map((d) => d.getTime()).sort((x, y) => x - y);
    // Dates carry whole milliseconds of the database's microseconds: 1 ms of rounding either way.
    for (const [i, end] of sorted.slice(1).entries())
      expect(end - sorted[i]!).toBeGreaterThanOrEqual(LEASE_MS - 1);
  });

  it('only the platform role reaches the leases, and it can move them but not add or remove any', async () => {
    await expect(asRuntime(t, null, (q) => q('SELECT 1 FROM job_leases'))).rejects.toThrow(
      /permission denied/,
    );
    await expect(asRuntime(t, null, (q) => q(`UPDATE job_leases SET holder = 'x'`))).rejects.toThrow(
      /permission denied/,
    );
    const asPlatform = (sql: string) =>
      t.db.transaction((c) => c.query(sql), `SELECT set_config('role', '${t.roles.platform}', true)`);
    for (const sql of [
      `INSERT INTO job_leases (name, next_run_at) VALUES ('extra', now())`,
      'DELETE FROM job_leases',
      'TRUNCATE job_leases',
    ]) {
      await expect(asPlatform(sql), sql).rejects.toThrow(/permission denied/);
    }
  });
});
