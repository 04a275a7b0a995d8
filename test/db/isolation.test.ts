/**
 * Tenant isolation, proved around the service: raw SQL as the runtime role, the way a bug in the
 * service (a forgotten filter, a wrong id) would reach the database.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/core/ids.js';
import { openPg } from '../../src/db/pg-adapter.js';
import { findRlsBypasses, SECURED_TABLES, TENANT_TABLES } from '../../src/db/role-check.js';
import { assemble } from '../../src/main.js';
import {
  asRuntime,
  describeEachBackend,
  expectCode,
  insertAccessRows,
  openTestRegistry,
  silentLogger,
  type TestRegistry,
  testConfig,
} from '../helpers/backends.js';

const alice = { actor: 'alice' };

describeEachBackend('tenant isolation', (backend) => {
  let t: TestRegistry;
  let a: string;
  let b: string;
  let bVault: string;
  let bCredential: string;
  let sinkDir: string;

  beforeAll(async () => {
    // An audit sink, so each tenant has a sink cursor too.
    sinkDir = mkdtempSync(join(tmpdir(), 'credreg-isolation-'));
    const sinks = [
      { name: 'iso', kind: 'file' as const, path: join(sinkDir, 'a.jsonl'), maxBytes: 1 << 20, keep: 1 },
    ];
    t = await openTestRegistry(backend, {
      config: { audit: { sealIntervalMs: 0, checkpointIntervalMs: 60_000, sinkIntervalMs: 0, sinks } },
    });
    a = (await t.registry.tenants.create({ name: 'tenant-a' })).id;
    b = (await t.registry.tenants.create({ name: 'tenant-b' })).id;
    const ta = t.registry.forTenant(a);
    const tb = t.registry.forTenant(b);
    const pa = await ta.principals.create({ name: 'alice', kind: 'user' }, alice);
    const pb = await tb.principals.create({ name: 'alice', kind: 'user' }, alice);
    await ta.tokens.create({ principalId: pa.id, role: 'reader' }, alice);
    await tb.tokens.create({ principalId: pb.id, role: 'reader' }, alice);
    // Subscriptions first, so the changes below leave events and deliveries in both tenants.
    await ta.webhooks.create({ url: 'https://hooks.example.com/a' }, alice);
    await tb.webhooks.create({ url: 'https://hooks.example.com/b' }, alice);
    const aVault = (await ta.vaults.create({ name: 'shared-name' }, alice)).id;
    // Rotating by itself and expiring, so each tenant has rows in the rotation and expiry queues too.
    const rotation = { schedule: 'P30D', rotator: { type: 'random' } };
    const expiresAt = new Date(t.clock.now().getTime() + 90 * 86_400_000);
    await ta.credentials.store(
      { vaultId: aVault, name: 'a-key', type: 'api_key', value: 'a-secret', rotation, expiresAt },
      alice,
    );
    bVault = (await tb.vaults.create({ name: 'shared-name' }, alice)).id;
    bCredential = (
      await tb.credentials.store(
        { vaultId: bVault, name: 'b-key', type: 'api_key', value: 'b-secret', rotation, expiresAt },
        alice,
      )
    ).id;
    // A webhook rotator in each, so each tenant holds a rotation endpoint's signing secret too.
    const webhook = { rotator: { type: 'webhook', url: 'https://rotate.example.com/credreg' } };
    for (const [tenant, vaultId] of [
      [ta, aVault],
      [tb, bVault],
    ] as const) {
      await tenant.credentials.store(
        { vaultId, name: 'hook', type: 'api_key', value: 'k', rotation: webhook },
        alice,
      );
    }
    await tb.credentials.reveal(bCredential, { ...alice, reason: 'seed the access log' });
    // A sealed audit log and a signed checkpoint in each: its tree, its key and its checkpoints.
    // 256 rows more each, written as the owner, so each tree has a stored node (a 256-leaf subtree).
    for (const tenant of [ta, tb]) {
      await insertAccessRows(t, tenant.tenantId, 256);
      await tenant.audit.checkpoint();
    }
    await t.registry.deliverAuditSinks();
    // And a sink of its own (after the delivery above: nothing is sent to these).
    for (const tenant of [ta, tb])
      await tenant.auditSinks.create({ url: 'https://siem.example.com/in' }, alice);
  });
  afterAll(async () => {
    await t.close();
    rmSync(sinkDir, { recursive: true, force: true });
  });

  it("with tenant A set, raw SQL sees none of B's rows in any table", async () => {
    await asRuntime(t, a, async (q) => {
      for (const table of TENANT_TABLES) {
        const rows = await q<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE tenant_id = $1`, [
          b,
        ]);
        expect(rows[0]!.n, table).toBe(0);
        const own = await q<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
        expect(own[0]!.n, table).toBeGreaterThan(0);
      }
    });
  });

  it('with no tenant set, every table reads as empty (fail closed, no error)', async () => {
    await asRuntime(t, null, async (q) => {
      for (const table of TENANT_TABLES) {
        const rows = await q<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
        expect(rows[0]!.n, table).toBe(0);
      }
    });
  });

  it('an empty tenant setting (as left by an ended transaction) also fails closed', async () => {
    await t.db.transaction(async (c) => {
      const rows = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM stored_credentials');
      expect(rows[0]!.n).toBe(0);
    }, `SELECT set_config('role', '${t.roles.runtime}', true), set_config('app.current_tenant_id', '', true)`);
  });

  it("cannot insert a row into B's vault or under B's tenant id", async () => {
    await expect(
      asRuntime(t, a, (q) =>
        q(
          `INSERT INTO stored_credentials (tenant_id, id, vault_id, name, type, current_version, created_by)
           VALUES ($1, $2, $3, 'planted', 'api_key', 1, 'mallory')`,
          [b, newId(), bVault],
        ),
      ),
    ).rejects.toThrow(/row-level security/);
    await expect(
      asRuntime(t, a, (q) =>
        q(
          `INSERT INTO credential_access_log (tenant_id, id, action, outcome, actor) VALUES ($1, $2, 'reveal', 'granted', 'x')`,
          [b, newId()],
        ),
      ),
    ).rejects.toThrow(/row-level security/);
  });

  it("cannot update or delete B's rows (they are invisible), nor move its own rows into B", async () => {
    await asRuntime(t, a, async (q) => {
      expect(
        await q(`UPDATE stored_credentials SET name = 'hijacked' WHERE id = $1 RETURNING id`, [bCredential]),
      ).toEqual([]);
      expect(await q('DELETE FROM credential_vaults WHERE id = $1 RETURNING id', [bVault])).toEqual([]);
    });
    await expect(
      asRuntime(t, a, (q) => q('UPDATE credential_vaults SET tenant_id = $1', [b])),
    ).rejects.toThrow(/row-level security/);
    expect((await t.registry.forTenant(b).credentials.get(bCredential)).name).toBe('b-key');
  });

  it("the service answers B's ids from tenant A exactly like ids that do not exist", async () => {
    const ta = t.registry.forTenant(a);
    const other = await expectCode(
      ta.credentials.reveal(bCredential, { ...alice, reason: 'r' }),
      'NOT_FOUND',
    );
    const missing = await expectCode(ta.credentials.reveal(newId(), { ...alice, reason: 'r' }), 'NOT_FOUND');
    expect(other.message).toBe(missing.message);
    await expectCode(ta.credentials.get(bCredential), 'NOT_FOUND');
    await expectCode(ta.credentials.rotate(bCredential, 'x', alice), 'NOT_FOUND');
    await expectCode(ta.vaults.get(bVault), 'NOT_FOUND');
    await expectCode(
      ta.credentials.store({ vaultId: bVault, name: 'x', type: 'api_key', value: 'v' }, alice),
      'NOT_FOUND',
    );
    await expectCode(ta.vaults.delete(bVault, { force: true }, alice), 'NOT_FOUND');
    // The attempts are in A's log, none in B's.
    const aLog = await ta.audit.query({ credentialId: bCredential });
    expect(aLog.items.every((e) => e.outcome === 'not_found')).toBe(true);
    expect(aLog.items.length).toBeGreaterThanOrEqual(2);
    const bLog = await t.registry.forTenant(b).audit.query({ credentialId: bCredential });
    expect(bLog.items.map((e) => e.actor)).not.toContain('mallory');
    expect(bLog.items.every((e) => e.outcome === 'granted')).toBe(true);
  });

  it('prepared statements on one shared connection never carry a tenant into the next transaction', async () => {
    // One connection, many alternating tenants: past the fifth execution PostgreSQL may switch a
    // prepared statement to a generic plan, which must still read the tenant at run time.
    const db = t.url ? openPg({ connectionString: t.url, maxConnections: 1 }) : t.db;
    const shared = t.url
      ? await assemble(db, { config: testConfig(t.prefix, t.rootKey), logger: silentLogger })
      : t.registry;
    try {
      for (let i = 0; i < 12; i++) {
        const ownA = (await shared.forTenant(a).vaults.list()).items.map((v) => v.tenantId);
        const ownB = (await shared.forTenant(b).vaults.list()).items.map((v) => v.tenantId);
        expect(new Set(ownA)).toEqual(new Set([a]));
        expect(new Set(ownB)).toEqual(new Set([b]));
        expect(
          (await shared.forTenant(b).credentials.reveal(bCredential, { ...alice, reason: 'r' })).value,
        ).toBe('b-secret');
        await expectCode(
          shared.forTenant(a).credentials.reveal(bCredential, { ...alice, reason: 'r' }),
          'NOT_FOUND',
        );
      }
    } finally {
      if (t.url) await db.close();
    }
  });

  it('the platform role manages tenants and can read no tenant data', async () => {
    const asPlatform = (sql: string) =>
      t.db.transaction(
        (c) => c.query<{ n: number }>(sql),
        `SELECT set_config('role', '${t.roles.platform}', true)`,
      );
    expect((await asPlatform('SELECT count(*)::int AS n FROM tenants'))[0]!.n).toBe(2);
    // The rotation queue is the one exception: ids and due times only, for claiming due work.
    // The webhook delivery queue likewise (see test/events/webhooks.test.ts for what it sees there),
    // and the expiry notices, which it may only read (see test/core/expiry-alerts.test.ts), and
    // the few columns the audit sealer finds work by (see test/core/audit-log.test.ts), and the
    // positions audit-sink delivery finds work and lag by: cursors and checkpoints' tree sizes.
    const claimable = [
      'tenants',
      'due_rotations',
      'webhook_deliveries',
      'expiry_notices',
      'credential_access_log',
      'audit_log_state',
      'audit_checkpoints',
      'audit_sink_cursors',
      'tenant_audit_sinks',
    ];
    for (const table of TENANT_TABLES.filter((name) => !claimable.includes(name))) {
      await expect(asPlatform(`SELECT count(*)::int AS n FROM ${table}`), table).rejects.toThrow(
        /permission denied/,
      );
    }
    for (const [table, column] of [
      ['audit_checkpoints', 'note'],
      ['audit_checkpoints', 'root_hash'],
      ['audit_checkpoints', 'key_id'],
      ['tenant_audit_sinks', 'url'],
    ]) {
      await expect(asPlatform(`SELECT ${column} FROM ${table}`), `${table}.${column}`).rejects.toThrow(
        /permission denied/,
      );
    }
    await expect(
      asRuntime(t, a, (q) => q('SELECT count(*) FROM platform_tokens')),
      'the runtime role never reads platform tokens',
    ).rejects.toThrow(/permission denied/);
  });

  it('every tenant table has RLS enabled and forced, with USING and WITH CHECK on its policies', async () => {
    const rows = await t.db.transaction((c) =>
      c.query<{ relname: string; rls: boolean; forced: boolean; policies: number; unchecked: number }>(
        `SELECT c.relname, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
                (SELECT count(*)::int FROM pg_policy p WHERE p.polrelid = c.oid) AS policies,
                (SELECT count(*)::int FROM pg_policy p WHERE p.polrelid = c.oid
                   AND (p.polqual IS NULL OR (p.polwithcheck IS NULL AND p.polcmd IN ('*', 'a', 'w')))) AS unchecked
           FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
            AND c.relname <> 'credreg_migrations'`,
      ),
    );
    expect(rows.map((r) => r.relname).sort()).toEqual([...SECURED_TABLES].sort());
    for (const r of rows) expect(r, r.relname).toMatchObject({ rls: true, forced: true, unchecked: 0 });
    for (const r of rows) expect(r.policies, r.relname).toBeGreaterThan(0);
    // Every table carries tenant_id, and its primary key starts with it.
    const keys = await t.db.transaction((c) =>
      c.query<{ relname: string; first: string }>(
        `SELECT c.relname, a.attname AS first FROM pg_constraint k
           JOIN pg_class c ON c.oid = k.conrelid
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.conkey[1]
          WHERE k.contype = 'p' AND c.relname = ANY($1)`,
        [TENANT_TABLES],
      ),
    );
    for (const k of keys) expect(k.first, k.relname).toBe('tenant_id');
  });

  it('the runtime roles pass the bypass check as migrated', async () => {
    expect(await findRlsBypasses(t.db, t.roles)).toEqual([]);
  });

  describe('the start-up check refuses roles that could bypass RLS', () => {
    // These alter only this suite's own roles (a prefix of their own on PostgreSQL).
    const cases: Array<[string, string, string, RegExp]> = [
      ['BYPASSRLS', 'ALTER ROLE {runtime} BYPASSRLS', 'ALTER ROLE {runtime} NOBYPASSRLS', /has BYPASSRLS/],
      [
        'unforced RLS',
        'ALTER TABLE stored_credentials NO FORCE ROW LEVEL SECURITY',
        'ALTER TABLE stored_credentials FORCE ROW LEVEL SECURITY',
        /does not force/,
      ],
      [
        'RLS disabled',
        'ALTER TABLE vault_keys DISABLE ROW LEVEL SECURITY',
        'ALTER TABLE vault_keys ENABLE ROW LEVEL SECURITY',
        /does not have row-level security enabled/,
      ],
      [
        'ownership',
        'ALTER TABLE principals OWNER TO {runtime}',
        'ALTER TABLE principals OWNER TO CURRENT_USER',
        /owns .* principals/,
      ],
      [
        'a disabled append-only trigger',
        'ALTER TABLE credential_access_log DISABLE TRIGGER access_log_append_only',
        'ALTER TABLE credential_access_log ENABLE TRIGGER access_log_append_only',
        /trigger access_log_append_only is missing or disabled/,
      ],
      [
        'an extra permissive policy',
        'CREATE POLICY open_door ON stored_credentials USING (true)',
        'DROP POLICY open_door ON stored_credentials',
        /unexpected policy open_door on table stored_credentials/,
      ],
      [
        'a change right on the access log',
        'GRANT DELETE ON credential_access_log TO {runtime}',
        'REVOKE DELETE ON credential_access_log FROM {runtime}',
        /may change the access log/,
      ],
    ];
    for (const [name, breakSql, fixSql, expected] of cases) {
      it(name, async () => {
        const sql = (s: string) => s.replaceAll('{runtime}', `"${t.roles.runtime}"`);
        await t.db.session((s) => s.exec(sql(breakSql)));
        try {
          const problems = await findRlsBypasses(t.db, t.roles);
          expect(problems.join('\n')).toMatch(expected);
        } finally {
          await t.db.session((s) => s.exec(sql(fixSql)));
        }
        expect(await findRlsBypasses(t.db, t.roles)).toEqual([]);
      });
    }
  });

  describe('the access log is append-only', () => {
    const LOG_CHANGES = [
      `UPDATE credential_access_log SET outcome = 'denied'`,
      'DELETE FROM credential_access_log',
      'TRUNCATE credential_access_log',
    ];

    it('the runtime role cannot UPDATE, DELETE or TRUNCATE it', async () => {
      for (const sql of LOG_CHANGES) {
        await expect(
          asRuntime(t, b, (q) => q(sql)),
          sql,
        ).rejects.toThrow(/permission denied/);
      }
    });

    it('triggers reject UPDATE, DELETE and TRUNCATE even from the owner', async () => {
      for (const sql of LOG_CHANGES) {
        await expect(
          t.db.transaction((c) => c.query(sql)),
          sql,
        ).rejects.toThrow(/append-only/);
      }
    });
  });
});
