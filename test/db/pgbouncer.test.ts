/**
 * The registry behind a real PgBouncer (Debian's 1.18) in transaction mode: server connections are
 * shared between many client transactions, so everything a transaction sets (role, tenant) must be
 * transaction-local, and named prepared statements, which live on one server connection, fail.
 * Migrations run direct: they hold a session-level advisory lock, which a transaction pooler breaks.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryError } from '../../src/core/errors.js';
import type { TenantRegistry } from '../../src/core/registry.js';
import type { AccessLogEntry } from '../../src/core/types.js';
import { openPg } from '../../src/db/pg-adapter.js';
import { assemble, type RegistryHandle } from '../../src/main.js';
import { BACKENDS, expectCode, silentLogger, type TestDatabase, testConfig } from '../helpers/backends.js';
import { HAS_PGBOUNCER, type PgBouncer, startPgBouncer } from '../helpers/pgbouncer.js';

const TITLE = 'the registry behind PgBouncer in transaction mode';
const POSTGRES = BACKENDS.find((b) => b.name === 'postgres');
const POOL_SIZE = 3;

if (!POSTGRES) describe.skip(`${TITLE} (set DATABASE_URL to run)`, () => {});
else if (!HAS_PGBOUNCER) describe.skip(`${TITLE} (install pgbouncer to run)`, () => {});
else {
  describe(TITLE, () => {
    let t: TestDatabase;
    let bouncer: PgBouncer;
    let registry: RegistryHandle;
    const rootKey = randomBytes(32).toString('base64');
    const ctx = { actor: 'svc' };
    /** A registry through one of the bouncer's entries; closed in afterAll whatever happens. */
    const opened: RegistryHandle[] = [];
    const open = async (entry: string, statements: 'named' | 'unnamed', maxConnections: number) => {
      // Generous: a request waiting for a pooled connection counts against this timeout too.
      const db = openPg({
        connectionString: bouncer.url(entry),
        statements,
        maxConnections,
        connectTimeoutMs: 60_000,
      });
      try {
        const r = await assemble(db, { config: testConfig(t.prefix, rootKey), logger: silentLogger });
        opened.push(r);
        return r;
      } catch (err) {
        await db.close();
        throw err;
      }
    };

    beforeAll(async () => {
      t = await POSTGRES.open(); // a database and roles of its own, migrated direct
      const dbname = new URL(t.url!).pathname.slice(1);
      bouncer = await startPgBouncer({
        upstream: process.env.DATABASE_URL!,
        // `credreg` shares POOL_SIZE server connections; `credreg_single` has exactly one.
        databases: { credreg: { dbname }, credreg_single: { dbname, poolSize: 1 } },
        defaultPoolSize: POOL_SIZE,
      });
      registry = await open('credreg', 'unnamed', 16);
    });

    afterAll(async () => {
      // Each step on its own: one failing must not leave the bouncer or the database behind.
      const steps = [...opened.map((r) => () => r.close()), () => bouncer?.stop(), () => t?.close()];
      const failures: unknown[] = [];
      for (const step of steps) {
        try {
          await step();
        } catch (err) {
          failures.push(err);
        }
      }
      if (failures.length) throw failures[0];
    });

    it('leaves neither role nor tenant on a server connection another client gets next', async () => {
      const single = await open('credreg_single', 'unnamed', 2);
      const tenant = await single.tenants.create({ name: 'leak-check' });
      const acme = single.forTenant(tenant.id);
      const vault = await acme.vaults.create({ name: 'v' }, ctx);
      const c = await acme.credentials.store(
        { vaultId: vault.id, name: 'k', type: 'api_key', value: 'leak-check-value' },
        ctx,
      );
      expect((await acme.credentials.reveal(c.id, { ...ctx, reason: 'r' })).value).toBe('leak-check-value');

      // One server connection only: the one every transaction above ran on.
      const servers = await bouncer.admin<{ database: string; remote_pid: string }>('SHOW SERVERS');
      const used = servers.filter((s) => s.database === 'credreg_single');
      expect(used).toHaveLength(1);
      const other = new pg.Client({ connectionString: bouncer.url('credreg_single') });
      await other.connect();
      try {
        const { rows } = await other.query(
          `SELECT pg_backend_pid() AS pid, current_user AS role, session_user AS login,
                  current_setting('app.current_tenant_id', true) AS tenant`,
        );
        expect(String(rows[0].pid)).toBe(String(used[0]!.remote_pid));
        expect(rows[0].role).toBe(rows[0].login);
        expect(rows[0].role).not.toBe(t.roles.runtime);
        expect(rows[0].tenant ?? '').toBe('');
      } finally {
        await other.end();
      }
    });

    it('serves concurrent reveals and rotations of several tenants over shared server connections: each the right tenant’s right value, each with its access-log row', async () => {
      const names = ['acme', 'globex', 'initech'];
      const tenants = await Promise.all(
        names.map(async (name) => ({
          name,
          tenant: registry.forTenant((await registry.tenants.create({ name })).id),
        })),
      );
      const perTenant = await Promise.all(
        tenants.map(async ({ name: tenantName, tenant }) => {
          const vaults = await Promise.all(
            ['payments', 'search'].map((v) => tenant.vaults.create({ name: v, maxVersions: 100 }, ctx)),
          );
          return Promise.all(
            vaults.flatMap((vault) =>
              ['db', 'api', 'smtp'].map(async (cred): Promise<Secret> => {
                const name = `${vault.name}-${cred}`;
                const value = `${tenantName}/${name}/stored`;
                const c = await tenant.credentials.store(
                  { vaultId: vault.id, name, type: 'api_key', value },
                  ctx,
                );
                return { tenantName, tenant, id: c.id, name, values: new Map([[1, value]]) };
              }),
            ),
          );
        }),
      );
      // Round robin over tenants, so neighbouring operations belong to different tenants.
      const secrets = perTenant[0]!.flatMap((_, i) => perTenant.map((list) => list[i]!));

      const reveals: (Done & { value: unknown; id: string })[] = [];
      const rotations: Done[] = [];
      const crossTenant: { tenant: TenantRegistry; requestId: string }[] = [];
      const OPERATIONS = 400;
      const operations = Array.from({ length: OPERATIONS }, (_, i) => async () => {
        const secret = secrets[i % secrets.length]!;
        const requestId = `op-${i}`;
        if (i % 10 === 0 || i % 10 === 5) {
          const value = `${secret.tenantName}/${secret.name}/rotation-${i}`;
          const { version } = await secret.tenant.credentials.rotate(secret.id, value, { ...ctx, requestId });
          expect(secret.values.has(version)).toBe(false); // no two rotations got one version
          secret.values.set(version, value);
          rotations.push({ secret, requestId, version });
        } else if (i % 10 === 7) {
          // Another tenant asks for this credential by its id: row-level security hides it.
          const stranger = tenants.find((x) => x.name !== secret.tenantName)!.tenant;
          await expectCode(
            stranger.credentials.reveal(secret.id, { ...ctx, requestId, reason: 'probe' }),
            'NOT_FOUND',
          );
          crossTenant.push({ tenant: stranger, requestId });
        } else {
          const r = await secret.tenant.credentials.reveal(secret.id, { ...ctx, requestId, reason: 'job' });
          reveals.push({ secret, requestId, version: r.version, value: r.value, id: r.credentialId });
        }
      });
      const xactsBefore = await transactions(bouncer, 'credreg');
      const batchesBefore = registry.groupCommitStats().batches;
      await inParallel(32, operations);
      // Right away, before the pool lets idle connections go (after 10 s): every one was just busy.
      const clients = (await bouncer.admin<{ database: string }>('SHOW CLIENTS')).filter(
        (c) => c.database === 'credreg',
      );

      expect(reveals.length + rotations.length + crossTenant.length).toBe(OPERATIONS);
      for (const r of reveals) {
        expect(r.id).toBe(r.secret.id);
        // The value of the version the reveal reported, of this credential, of this tenant.
        expect(r.value).toBe(r.secret.values.get(r.version));
        expect(String(r.value).startsWith(`${r.secret.tenantName}/${r.secret.name}/`)).toBe(true);
      }
      for (const s of secrets) {
        // Versions are 1..n without a gap, and the last is current.
        expect([...s.values.keys()].sort((a, b) => a - b)).toEqual(
          Array.from({ length: s.values.size }, (_, i) => i + 1),
        );
        const current = await s.tenant.credentials.reveal(s.id, { ...ctx, reason: 'final check' });
        expect(current).toMatchObject({ version: s.values.size, value: s.values.get(s.values.size) });
      }

      // Every reveal and rotation has its `granted` row, every refused probe its `not_found` row,
      // each in its own tenant's log and nowhere else.
      for (const { tenant } of tenants) {
        const log = (await readLog(tenant)).filter((e) => e.requestId?.startsWith('op-'));
        const rows = (action: string, outcome: string) =>
          log
            .filter((e) => e.action === action && e.outcome === outcome)
            .map((e) => `${e.requestId} ${e.credentialId} ${e.version}`)
            .sort();
        const mine = (list: Done[]) => list.filter((x) => x.secret.tenant === tenant);
        expect(rows('reveal', 'granted')).toEqual(
          mine(reveals)
            .map((r) => `${r.requestId} ${r.secret.id} ${r.version}`)
            .sort(),
        );
        expect(rows('rotate', 'granted')).toEqual(
          mine(rotations)
            .map((r) => `${r.requestId} ${r.secret.id} ${r.version}`)
            .sort(),
        );
        expect(
          log
            .filter((e) => e.action === 'reveal' && e.outcome === 'not_found')
            .map((e) => e.requestId)
            .sort(),
        ).toEqual(
          crossTenant
            .filter((x) => x.tenant === tenant)
            .map((x) => x.requestId)
            .sort(),
        );
        expect(log.filter((e) => !['granted', 'not_found'].includes(e.outcome))).toEqual([]);
      }

      // All of it went through the bouncer, on no more than its pool's server connections, while
      // more client connections than that were open. A rotation is a transaction of its own;
      // concurrent reveals of one tenant may share one (group commit), so each batch is one.
      const batches = registry.groupCommitStats().batches - batchesBefore;
      expect(batches).toBeGreaterThan(0);
      expect((await transactions(bouncer, 'credreg')) - xactsBefore).toBeGreaterThanOrEqual(
        rotations.length + batches,
      );
      const servers = (await bouncer.admin<{ database: string }>('SHOW SERVERS')).filter(
        (s) => s.database === 'credreg',
      );
      expect(servers.length).toBeGreaterThan(0);
      expect(servers.length).toBeLessThanOrEqual(POOL_SIZE);
      expect(clients.length).toBeGreaterThan(POOL_SIZE);
    });

    it('with named statements, concurrent reveals fail with a RegistryError that names the setting: a prepared statement belongs to one server connection', async () => {
      const tenant = registry.forTenant((await registry.tenants.create({ name: 'hooli' })).id);
      const vault = await tenant.vaults.create({ name: 'v' }, ctx);
      const c = await tenant.credentials.store(
        { vaultId: vault.id, name: 'k', type: 'api_key', value: 'hooli-value' },
        ctx,
      );
      // One server connection under four clients: the first client to prepare a statement owns its
      // name there, and every other client's Parse of it fails ("already exists"). Cannot flake:
      // sixteen reveals at once open all four clients, each runs at least one, and every reveal
      // starts with the same statement, so at least three fail. (On a pool of several server
      // connections, a client's statement is also missing where it was not prepared: "does not exist".)
      const named = await open('credreg_single', 'named', 4);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 16 }, () =>
          named.forTenant(tenant.tenantId).credentials.reveal(c.id, { ...ctx, reason: 'r' }),
        ),
      );
      const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
      expect(failures.length).toBeGreaterThanOrEqual(3);
      for (const err of failures) {
        expect(err).toBeInstanceOf(RegistryError);
        expect(['42P05', '26000']).toContain(sqlstate(err));
        // Our message, never the server's: it would name the statement.
        expect((err as Error).message).not.toMatch(/credreg_[0-9a-f]/);
      }
      // The operator is told what to set (a failure row that could not be written says so instead).
      expect(failures.some((e) => (e as RegistryError).code === 'CONFIG')).toBe(true);
      for (const err of failures.filter((e) => (e as RegistryError).code === 'CONFIG'))
        expect((err as Error).message).toMatch(/set CREDREG_DB_STATEMENTS=unnamed/);
      for (const o of outcomes) if (o.status === 'fulfilled') expect(o.value.value).toBe('hooli-value');

      // The unnamed registry on the same bouncer is unaffected.
      expect((await tenant.credentials.reveal(c.id, { ...ctx, reason: 'after' })).value).toBe('hooli-value');
    });
  });
}

interface Secret {
  tenantName: string;
  tenant: TenantRegistry;
  id: string;
  name: string;
  /** Every version's value, as its store or rotation was answered. */
  values: Map<number, string>;
}

/** A reveal or rotation that succeeded, and the version it reported. */
interface Done {
  secret: Secret;
  requestId: string;
  version: number;
}

/** Runs `tasks` with at most `n` in flight; rejects with the first failure, after all have settled. */
async function inParallel(n: number, tasks: (() => Promise<void>)[]): Promise<void> {
  const queue = [...tasks];
  const errors: unknown[] = [];
  await Promise.all(
    Array.from({ length: n }, async () => {
      for (let task = queue.shift(); task; task = queue.shift()) {
        try {
          await task();
        } catch (err) {
          errors.push(err);
        }
      }
    }),
  );
  if (errors.length) throw errors[0];
}

/** A tenant's whole access log, every page. */
async function readLog(tenant: TenantRegistry): Promise<AccessLogEntry[]> {
  const entries: AccessLogEntry[] = [];
  let cursor: string | undefined;
  do {
    const page = await tenant.audit.query({ limit: 1000, cursor });
    entries.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return entries;
}

/** Transactions the bouncer has passed to the server for one of its entries. */
async function transactions(bouncer: PgBouncer, database: string): Promise<number> {
  const stats = await bouncer.admin<{ database: string; total_xact_count: string }>('SHOW STATS');
  return Number(stats.find((s) => s.database === database)?.total_xact_count ?? 0);
}

/** The SQLSTATE of the database error somewhere in an error's causes. */
function sqlstate(err: unknown): string | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (!(e instanceof RegistryError) && typeof e.code === 'string') return e.code;
  }
  return undefined;
}
