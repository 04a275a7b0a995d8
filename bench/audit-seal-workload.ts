/**
 * Sealing throughput: `rows` access-log rows of one fresh tenant, inserted as the database owner in
 * transactions of 32 (the size of a group-committed c32 reveal batch, so each transaction id holds
 * what a busy reveal path would put in it), then `sealAuditLogs` passes in `credreg serve`'s batch
 * size, one after another, until a pass finds nothing left: leaves per second.
 *
 * The floor, in the same run: the same rows read as the owner in the order and pages the sealer
 * reads them ((seal_xid, id), `BATCH` at a time, the columns a leaf encodes), with no hashing, no
 * tree and no writes. The sealer's share is everything above that.
 *
 * Every other tenant's log is sealed first (setup), so the passes timed seal this tenant's rows
 * only; they still look for rows to seal among every tenant the bench made, as a pass does.
 */
import { SERVE_BATCHES } from '../src/cli/server-commands.js';
import { newId } from '../src/core/ids.js';
import type { RegistryHandle } from '../src/main.js';
import { inParallel } from './scheduler-workload.js';
import type { BenchTarget } from './targets.js';

/** `credreg serve`'s sealing batch: rows per tenant per transaction. */
export const SEAL_BATCH = SERVE_BATCHES.auditSeal;
/** As the bench registry's config (targets.ts) and `credreg serve` pass it. */
export const CHECKPOINT_INTERVAL_MS = 60_000;
/** Access-log rows per inserting transaction. */
const ROWS_PER_TRANSACTION = 32;
const ctx = { actor: 'bench' };

export interface AuditSealBenchResult {
  rows: number;
  batch: number;
  /** `sealAuditLogs` calls, the last of which found nothing left. */
  passes: number;
  seconds: number;
  leavesPerSec: number;
  /** The same rows read as the owner, page by page: the raw floor. */
  floorRowsPerSec: number;
}

/** One sealer pass as `credreg serve` runs it. */
export const sealPass = (registry: RegistryHandle) =>
  registry.sealAuditLogs({ batchSize: SEAL_BATCH, checkpointIntervalMs: CHECKPOINT_INTERVAL_MS });

/** Passes until one seals nothing: every committed row of every tenant is a leaf. */
export async function sealEverything(
  registry: RegistryHandle,
  signal: AbortSignal,
): Promise<{ sealed: number; passes: number }> {
  let sealed = 0;
  let passes = 0;
  for (;;) {
    signal.throwIfAborted();
    const report = await sealPass(registry);
    passes++;
    sealed += report.sealed;
    if (report.sealed === 0) return { sealed, passes };
  }
}

export async function measureSealing(
  target: BenchTarget,
  options: { rows: number; signal: AbortSignal },
  progress: (message: string) => void,
): Promise<AuditSealBenchResult> {
  const { registry, backend } = target;
  const { rows, signal } = options;
  const tenant = await registry.tenants.create({ name: 'bench-audit-seal' });
  const t = registry.forTenant(tenant.id);
  const vault = await t.vaults.create({ name: 'audit' }, ctx);
  // The signing key exists before the timing, as it does for any tenant a sealer has signed for.
  await t.audit.keys();

  const t0 = performance.now();
  const before = await sealEverything(registry, signal);
  progress(
    `${backend}: audit seal: sealed the ${before.sealed} rows already logged, every tenant, in ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s (setup, checkpoints included)`,
  );
  // Every row the tenant has so far (its vault's creation) is a leaf now: read along by the floor.
  const logged = await treeSize(target, tenant.id);
  await insertAccessRows(target, { tenantId: tenant.id, vaultId: vault.id, rows });
  const floorRowsPerSec = await readFloor(target, tenant.id, rows + logged);

  const t1 = performance.now();
  const { sealed, passes } = await sealEverything(registry, signal);
  const seconds = (performance.now() - t1) / 1000;
  const leaves = await treeSize(target, tenant.id);
  if (sealed !== rows || leaves !== logged + rows) {
    throw new Error(`sealed ${sealed} of ${rows} rows; the tree has ${leaves} leaves, ${logged} before`);
  }
  progress(
    `${backend}: audit seal: ${rows} leaves in ${seconds.toFixed(2)} s (${passes} passes), ` +
      `${(rows / seconds).toFixed(0)} leaves/s; floor ${floorRowsPerSec.toFixed(0)} rows/s`,
  );
  return { rows, batch: SEAL_BATCH, passes, seconds, leavesPerSec: rows / seconds, floorRowsPerSec };
}

async function treeSize(target: BenchTarget, tenantId: string): Promise<number> {
  const [state] = await target.ownerTransaction((c) =>
    c.query<{ n: string }>('SELECT tree_size::text AS n FROM audit_log_state WHERE tenant_id = $1', [
      tenantId,
    ]),
  );
  return Number(state?.n ?? 0);
}

/** Reveal rows as the reveal path writes them (one credential of 200, granted), as the owner. */
async function insertAccessRows(
  target: BenchTarget,
  { tenantId, vaultId, rows }: { tenantId: string; vaultId: string; rows: number },
): Promise<void> {
  const credentials = Array.from({ length: 200 }, newId);
  const transactions = Math.ceil(rows / ROWS_PER_TRANSACTION);
  await inParallel(transactions, 8, (k) => {
    const n = Math.min(ROWS_PER_TRANSACTION, rows - k * ROWS_PER_TRANSACTION);
    const ids = Array.from({ length: n }, newId);
    const credentialIds = ids.map((_, i) => credentials[(k * ROWS_PER_TRANSACTION + i) % credentials.length]);
    return target.ownerTransaction((c) =>
      c.query(
        `INSERT INTO credential_access_log (tenant_id, id, credential_id, vault_id, action, outcome, actor, reason, version)
         SELECT $1, u.id, u.credential_id, $4, 'reveal', 'granted', 'bench', 'bench', 1
           FROM unnest($2::uuid[], $3::uuid[]) AS u (id, credential_id)`,
        [tenantId, ids, credentialIds, vaultId],
      ),
    );
  });
}

/**
 * Reads the tenant's rows as the sealer does, minus the anti-join with the leaves: pages of
 * SEAL_BATCH in (seal_xid, id) order by the same index, each in a transaction, with the columns
 * and the text form of `occurred_at` that the leaf repository reads (audit-log-repository.ts).
 */
async function readFloor(target: BenchTarget, tenantId: string, expected: number): Promise<number> {
  const t0 = performance.now();
  let after = { xid: '0', id: '00000000-0000-0000-0000-000000000000' };
  let read = 0;
  for (;;) {
    const page = await target.ownerTransaction((c) =>
      c.query<{ id: string; seal_xid: string }>(
        `SELECT l.tenant_id, l.id,
                to_char(l.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_at_text,
                l.credential_id, l.vault_id, l.action, l.outcome, l.actor, l.reason, l.source_ip, l.user_agent,
                l.request_id, l.client_request_id, l.version, l.error_code, l.seal_xid::text AS seal_xid
           FROM credential_access_log l
          WHERE l.tenant_id = $1 AND (l.seal_xid, l.id) > ($2::xid8, $3::uuid)
          ORDER BY l.seal_xid, l.id
          LIMIT $4`,
        [tenantId, after.xid, after.id, SEAL_BATCH],
      ),
    );
    read += page.length;
    const last = page.at(-1);
    if (!last) break;
    after = { xid: last.seal_xid, id: last.id };
  }
  if (read !== expected) throw new Error(`the floor read ${read} rows, expected ${expected}`);
  return read / ((performance.now() - t0) / 1000);
}
