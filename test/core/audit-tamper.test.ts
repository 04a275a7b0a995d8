/**
 * The database's owner tampers with a tenant's access log (and its tree), as someone who can drop
 * triggers and edit tables would; the offline verifier must name the first bad index and why.
 * On every backend; the export is made as `credreg audit export --proofs` makes it (the library's
 * calls behind its API), and checked by the verifier `credreg audit verify` runs.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TenantRegistry } from '../../src/core/registry.js';
import { verifyAuditExport } from '../../src/crypto/audit-log-verifier.js';
import { exportLines, LEAVES_SQL, publicKeysOf } from '../helpers/audit-export.js';
import { describeEachBackend, openTestRegistry, type TestRegistry } from '../helpers/backends.js';

const alice = { actor: 'alice' };
/** Rows in each tenant's log before the tampering. */
const ROWS = 40;

describeEachBackend('audit log tampering', (backend) => {
  let t: TestRegistry;
  let n = 0;
  const owner = (sql: string) => t.db.session((s) => s.exec(sql));
  const ownerQuery = <R = Record<string, unknown>>(sql: string, params: unknown[]) =>
    t.db.session((s) => s.query<R>(sql, params));

  beforeAll(async () => {
    t = await openTestRegistry(backend);
  });
  afterAll(() => t.close());

  /** A tenant whose log holds exactly ROWS rows, all sealed, with a checkpoint of them. */
  async function loggedTenant() {
    const tenant = t.registry.forTenant((await t.registry.tenants.create({ name: `t${n++}` })).id);
    const { id: vaultId } = await tenant.vaults.create({ name: 'v' }, alice);
    const c = await tenant.credentials.store({ vaultId, name: 'k', type: 'api_key', value: 'sekrit' }, alice);
    let size = (await tenant.audit.query({ limit: 1000 })).items.length;
    for (; size < ROWS; size++) await tenant.credentials.reveal(c.id, { ...alice, reason: `r${size}` });
    const held = await tenant.audit.checkpoint();
    expect(held.treeSize).toBe(ROWS);
    return { tenant, held };
  }

  async function verify(tenant: TenantRegistry, checkpoint: string, previous?: string) {
    const { lines } = await exportLines(tenant);
    const publicKeys = await publicKeysOf(tenant);
    return verifyAuditExport({
      lines: () => lines,
      checkpoint,
      ...(previous ? { previous } : {}),
      publicKeys,
    });
  }

  const logIdAt = async (tenantId: string, index: number) =>
    (
      await ownerQuery<{ log_id: string }>(`SELECT log_id FROM (${LEAVES_SQL}) AS f WHERE leaf_index = $2`, [
        tenantId,
        index,
      ])
    )[0]!.log_id;

  /** Runs `sql` as the owner with the access log's triggers dropped, as an attacker would, then puts them back. */
  async function withoutTriggers(table: string, triggers: string[], fn: () => Promise<unknown>) {
    const fnName =
      table === 'credential_access_log'
        ? 'credreg_reject_access_log_change'
        : 'credreg_reject_audit_tree_change';
    await owner(triggers.map((tg) => `DROP TRIGGER ${tg} ON ${table};`).join('\n'));
    try {
      await fn();
    } finally {
      await owner(
        triggers
          .map((tg) =>
            tg.endsWith('no_truncate')
              ? `CREATE TRIGGER ${tg} BEFORE TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION ${fnName}();`
              : `CREATE TRIGGER ${tg} BEFORE UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${fnName}();`,
          )
          .join('\n'),
      );
    }
  }
  const LOG = ['credential_access_log', ['access_log_append_only', 'access_log_no_truncate']] as const;
  const LEAVES = [
    'audit_log_leaf_runs',
    ['audit_log_leaf_runs_append_only', 'audit_log_leaf_runs_no_truncate'],
  ] as const;

  it('an untouched log verifies, and against an older checkpoint (under a key rotated out since) it only grew', async () => {
    const { tenant, held } = await loggedTenant();
    await tenant.audit.rotateKey({ actor: 'admin', role: 'admin' });
    const c = (await tenant.credentials.list((await tenant.vaults.list()).items[0]!.id)).items[0]!;
    for (let i = 0; i < 5; i++) await tenant.credentials.reveal(c.id, { ...alice, reason: `later ${i}` });
    const now = await tenant.audit.checkpoint();
    const result = await verify(tenant, now.checkpoint, held.checkpoint);
    expect(result).toMatchObject({ ok: true, treeSize: ROWS + 6, previousTreeSize: ROWS });
  });

  it('an edited field of one row (with the trigger dropped): edited, at its index', async () => {
    const { tenant, held } = await loggedTenant();
    const id = await logIdAt(tenant.tenantId, 17);
    await withoutTriggers(LOG[0], [...LOG[1]], () =>
      ownerQuery(`UPDATE credential_access_log SET outcome = 'denied' WHERE tenant_id = $1 AND id = $2`, [
        tenant.tenantId,
        id,
      ]),
    );
    expect(await verify(tenant, held.checkpoint)).toMatchObject({ ok: false, reason: 'edited', index: 17 });
  });

  it('a deleted row: deleted, at its index', async () => {
    const { tenant, held } = await loggedTenant();
    const id = await logIdAt(tenant.tenantId, 9);
    await withoutTriggers(LOG[0], [...LOG[1]], () =>
      ownerQuery('DELETE FROM credential_access_log WHERE tenant_id = $1 AND id = $2', [tenant.tenantId, id]),
    );
    expect(await verify(tenant, held.checkpoint)).toMatchObject({ ok: false, reason: 'deleted', index: 9 });
  });

  it('two rows swapped in the log: reordered, at the first', async () => {
    const { tenant, held } = await loggedTenant();
    const [a, b] = [await logIdAt(tenant.tenantId, 12), await logIdAt(tenant.tenantId, 20)];
    // Each id where the other was, in whichever runs hold them.
    await withoutTriggers(LEAVES[0], [...LEAVES[1]], () =>
      ownerQuery(
        `UPDATE audit_log_leaf_runs
            SET log_ids = array_replace(array_replace(array_replace(log_ids, $2::uuid, $4::uuid), $3::uuid, $2::uuid),
                                        $4::uuid, $3::uuid)
          WHERE tenant_id = $1`,
        [tenant.tenantId, a, b, '00000000-0000-7000-8000-000000000000'],
      ),
    );
    expect(await verify(tenant, held.checkpoint)).toMatchObject({
      ok: false,
      reason: 'reordered',
      index: 12,
    });
  });

  it("two rows' contents swapped (ids kept): edited, at the first", async () => {
    const { tenant, held } = await loggedTenant();
    const [a, b] = [await logIdAt(tenant.tenantId, 3), await logIdAt(tenant.tenantId, 30)];
    await withoutTriggers(LOG[0], [...LOG[1]], () =>
      ownerQuery(
        `UPDATE credential_access_log l SET reason = o.reason, occurred_at = o.occurred_at, action = o.action,
                credential_id = o.credential_id, vault_id = o.vault_id
           FROM credential_access_log o
          WHERE l.tenant_id = $1 AND o.tenant_id = $1
            AND ((l.id = $2 AND o.id = $3) OR (l.id = $3 AND o.id = $2))`,
        [tenant.tenantId, a, b],
      ),
    );
    expect(await verify(tenant, held.checkpoint)).toMatchObject({ ok: false, reason: 'edited', index: 3 });
  });

  it('the last 10 rows deleted: truncated, at the first of them', async () => {
    const { tenant, held } = await loggedTenant();
    await withoutTriggers(LOG[0], [...LOG[1]], () =>
      ownerQuery(
        `DELETE FROM credential_access_log WHERE tenant_id = $1 AND id IN (
           SELECT log_id FROM (${LEAVES_SQL}) AS f WHERE leaf_index >= $2)`,
        [tenant.tenantId, ROWS - 10],
      ),
    );
    expect(await verify(tenant, held.checkpoint)).toMatchObject({
      ok: false,
      reason: 'truncated',
      index: ROWS - 10,
    });
  });

  it('a row deleted and written again: the sealer seals it a second time, and verify says duplicate, at the new index', async () => {
    const { tenant } = await loggedTenant();
    const id = await logIdAt(tenant.tenantId, 9);
    // Every column but seal_xid, so the row written again takes its new transaction's id, as any row does.
    const columns = (
      await ownerQuery<{ name: string }>(
        `SELECT column_name AS name FROM information_schema.columns
          WHERE table_name = 'credential_access_log' AND table_schema = current_schema() AND column_name <> 'seal_xid'`,
        [],
      )
    )
      .map((c) => `"${c.name}"`)
      .join(', ');
    await withoutTriggers(LOG[0], [...LOG[1]], () =>
      ownerQuery(
        `WITH gone AS (DELETE FROM credential_access_log WHERE tenant_id = $1 AND id = $2 RETURNING *)
         INSERT INTO credential_access_log (${columns}) SELECT ${columns} FROM gone`,
        [tenant.tenantId, id],
      ),
    );
    const now = await tenant.audit.checkpoint();
    expect(now.treeSize).toBe(ROWS + 1);
    expect(await logIdAt(tenant.tenantId, ROWS)).toBe(id);
    const result = await verify(tenant, now.checkpoint);
    expect(result).toMatchObject({ ok: false, reason: 'duplicate', index: ROWS });
    expect(result.ok ? '' : result.message).toContain('index 9');
  });

  it('an older backup restored (log, tree and checkpoints): truncated against the checkpoint the tenant kept', async () => {
    const { tenant, held: older } = await loggedTenant();
    const tables = [
      'credential_access_log',
      'audit_log_leaf_runs',
      'audit_log_nodes',
      'audit_log_state',
      'audit_checkpoints',
    ];
    const tid = tenant.tenantId;
    // The backup: every row of the tenant's log and tree as they are now.
    for (const table of tables) {
      await ownerQuery(`CREATE TABLE bak_${table} AS SELECT * FROM ${table} WHERE tenant_id = $1`, [tid]);
    }
    const c = (await tenant.credentials.list((await tenant.vaults.list()).items[0]!.id)).items[0]!;
    for (let i = 0; i < 6; i++)
      await tenant.credentials.reveal(c.id, { ...alice, reason: `after backup ${i}` });
    const kept = await tenant.audit.checkpoint();
    expect(kept.treeSize).toBe(ROWS + 6);
    // The restore: the tenant's rows replaced by the backup's, triggers out of the way.
    const appendOnly = [
      'credential_access_log',
      'audit_log_leaf_runs',
      'audit_log_nodes',
      'audit_checkpoints',
    ];
    await owner(appendOnly.map((tb) => `ALTER TABLE ${tb} DISABLE TRIGGER USER;`).join('\n'));
    try {
      for (const table of tables) {
        await ownerQuery(`DELETE FROM ${table} WHERE tenant_id = $1`, [tid]);
        await ownerQuery(`INSERT INTO ${table} SELECT * FROM bak_${table}`, []);
        await owner(`DROP TABLE bak_${table}`);
      }
    } finally {
      await owner(appendOnly.map((tb) => `ALTER TABLE ${tb} ENABLE TRIGGER USER;`).join('\n'));
    }
    // The restored server signs what it holds, and verifies against its own checkpoint...
    const restored = await tenant.audit.checkpoint();
    expect(restored.treeSize).toBe(ROWS);
    expect(await verify(tenant, restored.checkpoint, older.checkpoint)).toMatchObject({ ok: true });
    // ...but not against the newer checkpoint the tenant kept: the last 6 are gone.
    expect(await verify(tenant, restored.checkpoint, kept.checkpoint)).toMatchObject({
      ok: false,
      reason: 'truncated',
      index: ROWS,
    });
    expect(await verify(tenant, kept.checkpoint)).toMatchObject({
      ok: false,
      reason: 'truncated',
      index: ROWS,
    });
  });

  it('a checkpoint under another key: bad-signature', async () => {
    const { tenant, held } = await loggedTenant();
    const { tenant: stranger } = await loggedTenant();
    const { lines } = await exportLines(tenant);
    const publicKeys = await publicKeysOf(stranger);
    expect(
      await verifyAuditExport({ lines: () => lines, checkpoint: held.checkpoint, publicKeys }),
    ).toMatchObject({
      ok: false,
      reason: 'bad-signature',
    });
  });
});
