/**
 * Two registry instances on one PostgreSQL database, each a process of its own with its own pool,
 * run the rotation scheduler at once over 40 due credentials in four tenants: each credential is
 * rotated exactly once (one value made, one run in its access log, version 2), none is left
 * `rotating`, and nothing is due again afterwards. PostgreSQL only: PGlite is one process's
 * database.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Rotator } from '../../src/core/rotator.js';
import { openPg } from '../../src/db/pg-adapter.js';
import { assemble, type RegistryHandle } from '../../src/main.js';
import {
  BACKENDS,
  openTestRegistry,
  silentLogger,
  type TestRegistry,
  testConfig,
} from '../helpers/backends.js';
import { collect, exited } from '../helpers/processes.js';
import { countingRotator } from '../helpers/test-rotators.js';
import { waitFor, waitUntil } from '../helpers/wait.js';

const postgres = BACKENDS.find((b) => b.name === 'postgres');
const TITLE = 'two registry instances rotate each due credential exactly once [postgres]';
const ops = { actor: 'ops' };
const TENANTS = 4;
const PER_TENANT = 10;
/** Concurrent `rotateDue` callers in each instance, and what each claims at a time. */
const LOOPS = 2;
const LIMIT = 5;

/**
 * A rotator whose first `create` after `hold()` waits until the gate's `release()`: a run slow at
 * its target, holding up the rest of its instance's batch.
 */
function gatedRotator() {
  const creates: string[] = [];
  let held: { entered: boolean; release: () => void; wait: Promise<void> } | null = null;
  const rotator: Rotator<object> = {
    type: 'gated',
    credentialTypes: ['api_key'],
    settings: z.strictObject({}),
    async create(ctx) {
      creates.push(ctx.credentialId);
      const gate = held;
      if (gate && !gate.entered) {
        gate.entered = true;
        await gate.wait;
      }
      return `gated-${creates.length}-${ctx.credentialId}`;
    },
    async set() {},
    async test() {},
    async finish() {},
  };
  return {
    rotator,
    creates,
    hold() {
      let release = () => {};
      const wait = new Promise<void>((r) => {
        release = r;
      });
      held = { entered: false, release, wait };
      return held;
    },
  };
}
const gated = gatedRotator();

interface Instance {
  child: ChildProcess;
  out(): string;
}

(postgres ? describe : describe.skip)(postgres ? TITLE : `${TITLE} (set DATABASE_URL to run)`, () => {
  let t: TestRegistry;
  const ids: string[] = [];
  let instances: Instance[] = [];

  beforeAll(async () => {
    // This registry only arranges: it knows the counting rotator so the settings validate.
    t = await openTestRegistry(postgres!, { rotators: [countingRotator(() => {}), gated.rotator] });
    for (let i = 0; i < TENANTS; i++) {
      const tenant = t.registry.forTenant((await t.registry.tenants.create({ name: `tenant-${i}` })).id);
      const vault = await tenant.vaults.create({ name: 'v' }, ops);
      for (let j = 0; j < PER_TENANT; j++) {
        const c = await tenant.credentials.store(
          {
            vaultId: vault.id,
            name: `k${j}`,
            type: 'api_key',
            value: `initial-${i}-${j}`,
            // Long enough that a rotated credential is not due again during the test.
            rotation: { schedule: 'P30D', rotator: { type: 'counting' } },
          },
          ops,
        );
        ids.push(c.id);
      }
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled(
      instances.map(async ({ child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const gone = exited(child);
        child.kill('SIGKILL');
        await gone;
      }),
    );
    await t?.close();
  }, 60_000);

  const sql = <R>(text: string, params?: unknown[]) => t.db.transaction((q) => q.query<R>(text, params));

  it('40 due credentials over four tenants, two instances at once: each rotates once, none left rotating', async () => {
    instances = [0, 1].map(() => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'test/helpers/rotate-due-child.ts',
          t.url!,
          t.prefix,
          t.rootKey,
          String(LOOPS),
          String(LIMIT),
        ],
        { stdio: ['pipe', 'pipe', 'pipe'] },
      );
      return { child, out: collect(child).out };
    });
    // Both polling before anything is due, so they race for the same rows from the first tick.
    await Promise.all(
      instances.map(({ child, out }, i) =>
        waitFor(() => {
          if (child.exitCode !== null) throw new Error(`instance ${i} exited early:\n${out()}`);
          return out().match(/^ready$/m);
        }, `instance ${i} to be ready`),
      ),
    );
    // Due now by the database's clock, which is the scheduler's: as if 30 days had passed.
    await sql(
      "UPDATE due_rotations SET due_at = now() - interval '1 second' WHERE credential_id = ANY($1::uuid[])",
      [ids],
    );

    const versions = () =>
      sql<{ current_version: number; rotation_state: string }>(
        'SELECT current_version, rotation_state FROM stored_credentials WHERE id = ANY($1::uuid[])',
        [ids],
      );
    await waitUntil(
      async () => {
        for (const [i, { child, out }] of instances.entries()) {
          if (child.exitCode !== null) throw new Error(`instance ${i} exited:\n${out()}`);
        }
        return (await versions()).every((r) => r.current_version >= 2 && r.rotation_state === 'idle');
      },
      'every credential to be rotated',
      180_000,
    );
    for (const { child } of instances) child.stdin!.end('stop\n');
    const codes = await Promise.all(instances.map(({ child }) => exited(child)));
    expect(codes, instances.map((s) => s.out()).join('\n---\n')).toEqual([0, 0]);

    // One value made per credential, across both instances.
    const creates = new Map<string, number>();
    const rotatedBy = instances.map(({ out }) => {
      const made = [...out().matchAll(/^create (\S+)$/gm)].map((m) => m[1]!);
      for (const id of made) creates.set(id, (creates.get(id) ?? 0) + 1);
      return made.length;
    });
    expect([...creates.keys()].sort()).toEqual([...ids].sort());
    expect([...creates.values()].every((n) => n === 1)).toBe(true);
    // Both instances did some of the work (the test would prove nothing if one had done it all).
    console.info(`rotations per instance: ${rotatedBy.join(' / ')}`);
    for (const [i, n] of rotatedBy.entries()) expect(n, `instance ${i}`).toBeGreaterThan(0);
    // No call failed: a second claim of a running rotation would be refused, and counted here.
    const reports = instances.flatMap(({ out }) =>
      [...out().matchAll(/^report (\d+) (\d+) (\d+)$/gm)].map((m) => m.slice(1).map(Number)),
    );
    expect(reports.reduce((s, r) => s + r[0]!, 0)).toBe(ids.length);
    expect(reports.reduce((s, r) => s + r[1]!, 0)).toBe(ids.length);
    expect(reports.reduce((s, r) => s + r[2]!, 0)).toBe(0);

    // Each at version 2, idle, no lease, no pending version, next due in 30 days.
    const rows = await sql<{
      current_version: number;
      rotation_state: string;
      pending_version: number | null;
      rotation_lease_until: Date | null;
      versions: number;
    }>(
      `SELECT c.current_version, c.rotation_state, c.pending_version, c.rotation_lease_until,
              (SELECT count(*)::int FROM credential_versions v WHERE v.credential_id = c.id) AS versions
         FROM stored_credentials c WHERE c.id = ANY($1::uuid[])`,
      [ids],
    );
    expect(rows).toHaveLength(ids.length);
    for (const r of rows) {
      expect(r).toEqual({
        current_version: 2,
        rotation_state: 'idle',
        pending_version: null,
        rotation_lease_until: null,
        versions: 2,
      });
    }
    // The access log shows one run each: started, staged, promoted, all by the scheduler.
    const log = await sql<{ credential_id: string; outcome: string; reason: string; actor: string }>(
      `SELECT credential_id, outcome, reason, actor FROM credential_access_log
        WHERE action = 'rotate' AND credential_id = ANY($1::uuid[]) ORDER BY occurred_at, id`,
      [ids],
    );
    for (const id of ids) {
      const own = log.filter((r) => r.credential_id === id);
      expect(own.map((r) => [r.outcome, r.reason, r.actor])).toEqual([
        ['granted', 'rotator counting: started', 'system:scheduler'],
        ['granted', 'rotator counting: created version 2 (pending)', 'system:scheduler'],
        ['granted', 'rotator counting: version 2 tested and current', 'system:scheduler'],
      ]);
    }
    const [due] = await sql<{ n: number; soonest: Date }>(
      `SELECT count(*)::int AS n, min(due_at) AS soonest FROM due_rotations WHERE credential_id = ANY($1::uuid[])`,
      [ids],
    );
    expect(due!.n).toBe(ids.length);
    expect(due!.soonest.getTime() - Date.now()).toBeGreaterThan(29 * 86_400_000);
    expect((await t.registry.rotateDue()).claimed).toBe(0);
  }, 240_000);

  it('a claimed rotation that waited past its claim behind a slow one is not run again once another instance ran it', async () => {
    // Two instances of their own (pools of their own) in this process, sharing the gated rotator.
    const open = async (): Promise<RegistryHandle> =>
      assemble(openPg({ connectionString: t.url!, maxConnections: 4 }), {
        config: testConfig(t.prefix, t.rootKey),
        logger: silentLogger,
        // The system clock: a rotation by B must read as later than A's claim.
        rotators: [gated.rotator],
      });
    const [a, b] = [await open(), await open()];
    try {
      const tenant = t.registry.forTenant((await t.registry.tenants.create({ name: 'slow' })).id);
      const vault = await tenant.vaults.create({ name: 'v' }, ops);
      const pair: string[] = [];
      for (const name of ['first', 'second']) {
        const c = await tenant.credentials.store(
          {
            vaultId: vault.id,
            name,
            type: 'api_key',
            value: 'initial',
            rotation: { schedule: 'P30D', rotator: { type: 'gated' } },
          },
          ops,
        );
        pair.push(c.id);
      }
      await sql(
        "UPDATE due_rotations SET due_at = now() - interval '1 second' WHERE credential_id = ANY($1::uuid[])",
        [pair],
      );
      // Instance A claims both and is held up in the first one's create.
      const gate = gated.hold();
      const aRun = a.rotateDue({ limit: 2 });
      await waitUntil(async () => gate.entered, 'instance A to start its first rotation');
      // Its claim lapses by the database's clock, which the queue follows: as if that create had
      // taken ten minutes. Instance B claims both again: the one A is in the middle of is still
      // leased to A (refused), the other B rotates.
      await sql(
        "UPDATE due_rotations SET due_at = due_at - interval '11 minutes' WHERE credential_id = ANY($1::uuid[])",
        [pair],
      );
      expect(await b.rotateDue({ limit: 2 })).toEqual({ claimed: 2, rotated: 1, failed: 1 });
      gate.release();
      const aReport = await aRun;
      // A finishes the one it had begun, and leaves the other, rotated for this due time already.
      expect(aReport).toEqual({ claimed: 2, rotated: 1, failed: 1 });
      const rows = await sql<{ current_version: number; rotation_state: string }>(
        'SELECT current_version, rotation_state FROM stored_credentials WHERE id = ANY($1::uuid[])',
        [pair],
      );
      expect(rows.map((r) => [r.current_version, r.rotation_state])).toEqual([
        [2, 'idle'],
        [2, 'idle'],
      ]);
      for (const id of pair)
        expect(
          gated.creates.filter((c) => c === id),
          id,
        ).toHaveLength(1);
    } finally {
      await Promise.allSettled([a.close(), b.close()]);
    }
  }, 120_000);
});
