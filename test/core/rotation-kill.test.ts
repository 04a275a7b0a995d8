/**
 * A rotation whose process is killed (SIGKILL) at each step boundary, then restarted, ends with one
 * current version that was tested: the real `postgresql` rotator against a private cluster that
 * checks passwords (scram-sha-256), so "the password works" means a login with it. The restart is
 * a new registry instance whose scheduler finds the interrupted run once its lease has lapsed: it
 * resumes a pending version that was stored (no second `create`) and makes a new one only when
 * none was. Run with the registry's own store on PostgreSQL (DATABASE_URL) and on PGlite with a
 * data directory, whose lock the killed process leaves behind for the kernel to drop.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Credential } from '../../src/core/types.js';
import { migrate } from '../../src/db/migrate.js';
import { openPg } from '../../src/db/pg-adapter.js';
import { openPglite } from '../../src/db/pglite-adapter.js';
import { rolesFromPrefix } from '../../src/db/roles.js';
import type { SqlDatabase } from '../../src/db/sql.js';
import { assemble, type RegistryHandle } from '../../src/main.js';
import { postgresqlRotator } from '../../src/rotators/postgresql.js';
import {
  BACKENDS,
  expectCode,
  silentLogger,
  TestClock,
  type TestDatabase,
  testConfig,
} from '../helpers/backends.js';
import { type PgCluster, startCluster } from '../helpers/private-postgres.js';
import { collect } from '../helpers/processes.js';
import {
  dyingRotator,
  fingerprint,
  KILL_POINTS,
  type KillPoint,
  type StepEvents,
} from '../helpers/test-rotators.js';

const ops = { actor: 'ops' };
const DATABASE = 'postgres';
/** A killed run's lease (LEASE_MS in credential-rotation.ts), and a minute more. */
const PAST_THE_LEASE_MS = 11 * 60_000;

/** The registry's own store, opened afresh for each phase (PGlite: one process at a time). */
interface RegistryStore {
  readonly name: 'postgres' | 'pglite';
  readonly prefix: string;
  /** How the child opens it: `postgres <url>` or `pglite <dataDir>`. */
  readonly childArgs: [string, string];
  open(): Promise<SqlDatabase>;
  dispose(): Promise<void>;
}

async function postgresStore(): Promise<RegistryStore> {
  const t: TestDatabase = await BACKENDS.find((b) => b.name === 'postgres')!.open();
  return {
    name: 'postgres',
    prefix: t.prefix,
    childArgs: ['postgres', t.url!],
    open: async () => openPg({ connectionString: t.url!, maxConnections: 4 }),
    dispose: () => t.close(),
  };
}

async function pgliteStore(): Promise<RegistryStore> {
  const root = mkdtempSync(join(tmpdir(), 'credreg-rotation-kill-'));
  const dataDir = join(root, 'data');
  const prefix = 'credreg';
  const db = await openPglite({ dataDir });
  try {
    await migrate(db, rolesFromPrefix(prefix));
  } finally {
    await db.close();
  }
  return {
    name: 'pglite',
    prefix,
    childArgs: ['pglite', dataDir],
    open: () => openPglite({ dataDir }),
    dispose: async () => rmSync(root, { recursive: true, force: true }),
  };
}

const STORES: { name: 'postgres' | 'pglite'; make: () => Promise<RegistryStore> }[] = [
  ...(process.env.DATABASE_URL ? [{ name: 'postgres' as const, make: postgresStore }] : []),
  { name: 'pglite', make: pgliteStore },
];
if (!process.env.DATABASE_URL)
  describe.skip('rotation killed at each step [postgres] (set DATABASE_URL to run)', () => {});

/** Each case's expectations: what the kill left behind and what the restart must do. */
const CASES: Record<
  KillPoint,
  {
    /** Left by the killed run: the versions, and whether the target still takes the old password. */
    midway: { current: number; pending: number | null; state: string; oldPasswordWorks: boolean };
    /** `create` calls by the killed run and by the restart. */
    creates: [number, number];
    /** The restart's claim (0: nothing left to do) and the rotate rows granted over both runs. */
    restartClaims: number;
    granted: string[];
  }
> = {
  'after-begin': {
    midway: { current: 1, pending: null, state: 'rotating', oldPasswordWorks: true },
    creates: [0, 1],
    restartClaims: 1,
    granted: ['started', 'started', 'created version 2 (pending)', 'version 2 tested and current'],
  },
  'after-create': {
    // The value made was never stored, and `create` changes nothing at the target: a new one is made.
    midway: { current: 1, pending: null, state: 'rotating', oldPasswordWorks: true },
    creates: [1, 1],
    restartClaims: 1,
    granted: ['started', 'started', 'created version 2 (pending)', 'version 2 tested and current'],
  },
  'after-stage': {
    midway: { current: 1, pending: 2, state: 'rotating', oldPasswordWorks: true },
    creates: [1, 0],
    restartClaims: 1,
    granted: ['started', 'created version 2 (pending)', 'resuming version 2', 'version 2 tested and current'],
  },
  'after-set': {
    midway: { current: 1, pending: 2, state: 'rotating', oldPasswordWorks: false },
    creates: [1, 0],
    restartClaims: 1,
    granted: ['started', 'created version 2 (pending)', 'resuming version 2', 'version 2 tested and current'],
  },
  'after-test': {
    midway: { current: 1, pending: 2, state: 'rotating', oldPasswordWorks: false },
    creates: [1, 0],
    restartClaims: 1,
    granted: ['started', 'created version 2 (pending)', 'resuming version 2', 'version 2 tested and current'],
  },
  'after-promote': {
    // The run was complete but for `finish`, which is best effort: the restart has nothing to do.
    midway: { current: 2, pending: null, state: 'idle', oldPasswordWorks: false },
    creates: [1, 0],
    restartClaims: 0,
    granted: ['started', 'created version 2 (pending)', 'version 2 tested and current'],
  },
};

let cluster: PgCluster;
let adminLogin: { user: string; password: string };

/** Whether `url` logs in now: false only for a refused password, any other failure thrown. */
async function canLogin(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 30_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch (err) {
    if ((err as { code?: unknown }).code === '28P01') return false;
    throw err;
  } finally {
    await client.end().catch(() => {});
  }
}

async function createRole(options: string): Promise<{ user: string; password: string }> {
  const login = {
    user: `credreg_kill_${randomBytes(5).toString('hex')}`,
    password: randomBytes(18).toString('base64url'),
  };
  await cluster.sql(
    DATABASE,
    `CREATE ROLE ${pg.escapeIdentifier(login.user)} LOGIN ${options} PASSWORD ${pg.escapeLiteral(login.password)}`,
  );
  return login;
}

/** Runs the child to its death; answers its `create` count and the fingerprints it saw tested. */
async function runUntilKilled(store: RegistryStore, rootKey: string, killAt: KillPoint) {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'test/helpers/rotation-kill-child.ts',
      ...store.childArgs,
      store.prefix,
      rootKey,
      killAt,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const { out } = collect(child);
  const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
    child.once('exit', (_code, s) => resolve(s)),
  );
  expect(signal, `the child should have died at ${killAt}:\n${out()}`).toBe('SIGKILL');
  return {
    creates: (out().match(/^create$/gm) ?? []).length,
    tested: [...out().matchAll(/^tested (\S+)$/gm)].map((m) => m[1]!),
  };
}

beforeAll(async () => {
  cluster = await startCluster();
  // Only CREATEROLE, no superuser: the privilege the rotator's documentation asks for.
  adminLogin = await createRole('CREATEROLE');
}, 120_000);

afterAll(() => {
  cluster?.destroy();
});

for (const { name, make } of STORES) {
  describe(`postgresql rotation killed at each step, then restarted [${name}]`, () => {
    let store: RegistryStore;
    const rootKey = randomBytes(32).toString('base64');
    let tenantId: string;
    let vaultId: string;
    let adminId: string;

    /** A new registry instance on the store for `fn`, closed after (releasing PGlite's lock). */
    async function instance<T>(
      clock: TestClock,
      fn: (registry: RegistryHandle, db: SqlDatabase) => Promise<T>,
      events: StepEvents = {},
    ): Promise<T> {
      const db = await store.open();
      let registry: RegistryHandle;
      try {
        registry = await assemble(db, {
          config: testConfig(store.prefix, rootKey),
          logger: silentLogger,
          clock,
          // The real rotator, reporting its steps.
          rotators: [dyingRotator(postgresqlRotator, null, events)],
        });
      } catch (err) {
        await db.close();
        throw err;
      }
      try {
        return await fn(registry, db);
      } finally {
        await registry.close();
      }
    }

    beforeAll(async () => {
      store = await make();
      await instance(new TestClock(), async (registry) => {
        tenantId = (await registry.tenants.create({ name: 'acme' })).id;
        const acme = registry.forTenant(tenantId);
        vaultId = (await acme.vaults.create({ name: 'databases' }, ops)).id;
        adminId = (
          await acme.credentials.store(
            {
              vaultId,
              name: 'rotator-admin',
              type: 'connection_string',
              value: cluster.url(DATABASE, adminLogin),
            },
            ops,
          )
        ).id;
      });
    }, 120_000);

    afterAll(() => store?.dispose(), 60_000);

    it.each(KILL_POINTS)(
      'killed %s, then restarted: one tested current version',
      async (killAt) => {
        const expected = CASES[killAt];
        const user = await createRole('');
        const initial = cluster.url(DATABASE, user);
        const passwordOf = (url: string) => decodeURIComponent(new URL(url).password);
        const rotateRows = (db: SqlDatabase, id: string) =>
          db.transaction((q) =>
            q.query<{ outcome: string; reason: string }>(
              `SELECT outcome, reason FROM credential_access_log
              WHERE action = 'rotate' AND credential_id = $1 ORDER BY occurred_at, id`,
              [id],
            ),
          );

        // Stored, on a schedule, and due now by the database's clock (the scheduler's).
        const id = await instance(new TestClock(), async (registry, db) => {
          const c = await registry.forTenant(tenantId).credentials.store(
            {
              vaultId,
              name: `app-${killAt}`,
              type: 'connection_string',
              value: initial,
              rotation: { schedule: 'P30D', rotator: { type: 'postgresql', adminCredential: adminId } },
            },
            ops,
          );
          await db.transaction((q) =>
            q.query(
              "UPDATE due_rotations SET due_at = now() - interval '1 second' WHERE credential_id = $1",
              [c.id],
            ),
          );
          return c.id;
        });

        const killed = await runUntilKilled(store, rootKey, killAt);
        expect(killed.creates).toBe(expected.creates[0]);

        const tested = new Set(killed.tested);
        let restartCreates = 0;
        const clock = new TestClock();
        const final = await instance(
          clock,
          async (registry, db) => {
            const acme = registry.forTenant(tenantId);
            // What the killed run left behind.
            const midway = await acme.credentials.get(id, ops);
            expect({
              current: midway.currentVersion,
              pending: midway.rotation!.pendingVersion,
              state: midway.rotation!.state,
              oldPasswordWorks: await canLogin(initial),
            }).toEqual(expected.midway);

            // Restarted at once: the killed run's claim and lease still hold it.
            expect(await registry.rotateDue()).toEqual({ claimed: 0, rotated: 0, failed: 0 });
            if (expected.midway.state === 'rotating') {
              expect(midway.rotation!.runningUntil!.getTime()).toBeGreaterThan(clock.now().getTime());
              await expectCode(acme.credentials.rotate(id, undefined, ops), 'CONFLICT');
            }

            // Past the lease: the registry's clock moves on; the queue runs by the database's clock,
            // which a test cannot move, so the claim the killed run took is moved back instead.
            clock.advance(PAST_THE_LEASE_MS);
            await db.transaction((q) =>
              q.query(
                `UPDATE due_rotations SET due_at = due_at - $2::integer * interval '1 millisecond'
                WHERE credential_id = $1 AND due_at <= now() + interval '1 hour'`,
                [id, PAST_THE_LEASE_MS],
              ),
            );
            const n = expected.restartClaims;
            expect(await registry.rotateDue()).toEqual({ claimed: n, rotated: n, failed: 0 });
            // Nothing more to do, however often it is asked.
            expect(await registry.rotateDue()).toEqual({ claimed: 0, rotated: 0, failed: 0 });

            const current = await acme.credentials.reveal(id, { ...ops, reason: 'check' });
            const versions = await db.transaction((q) =>
              q.query<{ version: number }>(
                'SELECT version FROM credential_versions WHERE credential_id = $1 ORDER BY version',
                [id],
              ),
            );
            return {
              credential: await acme.credentials.get(id, ops),
              value: current.value as string,
              version: current.version,
              versions: versions.map((v) => v.version),
              rows: await rotateRows(db, id),
            };
          },
          { created: () => restartCreates++, tested: (p) => tested.add(fingerprint(p)) },
        );

        // One current version, the one that replaced version 1, and no other made.
        expect(final.version).toBe(2);
        expect(final.versions).toEqual([1, 2]);
        expect(final.credential).toMatchObject<Partial<Credential>>({ currentVersion: 2 });
        expect(final.credential.rotation).toMatchObject({
          state: 'idle',
          pendingVersion: null,
          previousVersion: 1,
          runningUntil: null,
          attempts: 0,
          lastError: null,
        });
        // It was tested before it became current, by the killed run or the restart.
        expect(tested).toContain(fingerprint(final.value));
        // The database user's password is the current version's; the old one no longer logs in.
        expect(passwordOf(final.value)).not.toBe(user.password);
        expect(await canLogin(final.value)).toBe(true);
        expect(await canLogin(initial)).toBe(false);
        // The run resumed where it stopped: a stored pending value was never made again.
        expect(restartCreates).toBe(expected.creates[1]);
        expect(
          final.rows
            .filter((r) => r.outcome === 'granted')
            .map((r) => r.reason.replace(/^rotator postgresql: /, '')),
        ).toEqual(expected.granted);
        // Only the early restart's attempt was refused, and no step failed.
        expect(final.rows.filter((r) => r.outcome !== 'granted').map((r) => r.outcome)).toEqual(
          expected.midway.state === 'rotating' ? ['conflict'] : [],
        );
      },
      180_000,
    );
  });
}
