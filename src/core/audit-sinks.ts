/**
 * Audit sinks (docs/operations.md, "Sinks"): every sealed access-log row copied out, at least
 * once and in leaf order, to each sink the operator configured, like Vault's audit devices.
 *
 * Glossary
 * - **sink**: a destination (`AuditSink` in ports.ts): a file, syslog, an HTTP collector, stdout.
 *   It may be scoped to one tenant.
 * - **cursor**: per (tenant, sink), the leaf index below which the sink has acknowledged every
 *   leaf, and the size of the last checkpoint it acknowledged. The sealed order is final, so the
 *   cursor is exact: no row is skipped, and one is sent twice only if an acknowledgement is lost.
 * - **lease**: the claim on a cursor while its batch is sent, outside any transaction (a sink may
 *   be slow, the embedded store has one connection). A dead holder's lease lapses; its batch is
 *   sent again.
 *
 * The database log stays the primary record and fail-closed: a reveal writes its row and commits
 * without a sink knowing. A sink that is down holds up only itself; it catches up when it is back.
 */
import { tenantSinkName } from './audit-sink-service.js';
import type { RegistryDeps } from './audited-operation.js';
import type {
  AuditSink,
  AuditSinkCheckpointRecord,
  AuditSinkCursor,
  AuditSinkLeaf,
  AuditSinkRecord,
  StoredCheckpoint,
} from './ports.js';

/** What wires sinks into the registry (`RegistryDeps.auditSinks`). */
export interface AuditSinkWiring {
  sinks: readonly AuditSink[];
  /** How long to leave a sink alone after its `failures`-th failure in a row, in ms. */
  retryDelayMs(failures: number): number;
  /** A sink is reported down (`credreg_audit_sink_up` 0, an error logged) after this many failures in a row. (Default: 5) */
  downAfterFailures?: number;
  /** The sender of a sink a tenant added (`audit-sink-service.ts`); without it, those are not sent to. (Default: none) */
  tenantSink?(sink: { name: string; tenantId: string; url: string }): AuditSink;
}

export interface AuditSinkDeliveryOptions {
  /** Leaves per batch, per tenant and sink. (Default: 500) */
  batchSize?: number;
  /** Tenants per sink per pass; the rest wait for the next. (Default: 100) */
  maxTenants?: number;
  /** How long a batch's claim holds while it is sent, in ms. (Default: 60000) */
  leaseMs?: number;
}

export interface AuditSinkDeliveryReport {
  /** Access-log rows acknowledged by sinks (a row sent to two sinks counts twice). */
  delivered: number;
  /** Checkpoints acknowledged by sinks. */
  checkpoints: number;
  /** Sends that failed. */
  failed: number;
}

/** One sink's health as this instance saw it. */
export interface AuditSinkStatus {
  sink: string;
  /** False after `downAfterFailures` failures in a row, until a send succeeds. */
  up: boolean;
  consecutiveFailures: number;
  /** Sealed leaves the sink has not acknowledged, summed over its tenants. */
  lag: number;
}

/**
 * Each sink's failures in a row and when to try it again, and the last tenant of its last full
 * page (the next pass goes on from there, so tenants past the first page are not starved):
 * per instance, in memory.
 */
export type AuditSinkHealth = Map<string, { failures: number; retryAt: number; after?: string }>;

export const DEFAULT_SINK_BATCH = 500;

/** A leaf and its row as a sink receives it; `leafHash` in base64. */
export function accessRecord(tenantId: string, leaf: AuditSinkLeaf): AuditSinkRecord {
  const leafHash = Buffer.from(leaf.leafHash).toString('base64');
  return leaf.entry
    ? { type: 'access', ...leaf.entry, leafIndex: leaf.leafIndex, leafHash }
    : { type: 'access', tenantId, id: leaf.logId, missing: true, leafIndex: leaf.leafIndex, leafHash };
}

/** A checkpoint as a sink receives it. */
export function checkpointRecord(tenantId: string, cp: StoredCheckpoint): AuditSinkCheckpointRecord {
  return {
    type: 'checkpoint',
    tenantId,
    treeSize: cp.treeSize,
    rootHash: Buffer.from(cp.rootHash).toString('base64'),
    keyId: cp.keyId,
    checkpoint: cp.note,
  };
}

type Deps = Pick<RegistryDeps, 'store' | 'clock' | 'logger'>;

/**
 * Sends one batch of one tenant's log to one sink: the leaves past its cursor, then the newest
 * checkpoint if those leaves reach it and the sink has not had it (a witness gets each checkpoint
 * after the rows it covers, at most once). The cursor moves only after the sink acknowledged.
 * Answers what was sent, or null when another instance holds the cursor.
 */
async function deliverBatch(
  deps: Deps,
  sink: AuditSink,
  tenantId: string,
  batchSize: number,
  leaseMs: number,
): Promise<{ rows: number; checkpoint: boolean } | null> {
  const work = await deps.store.withTenant(tenantId, async (tx) => {
    const cursor = await tx.auditSinks.claim(sink.name, leaseMs);
    if (!cursor) return null;
    const leaves = await tx.auditSinks.leaves(cursor.deliveredBelow, batchSize);
    return { cursor, leaves, latest: await tx.auditLog.latestCheckpoint() };
  });
  if (!work) return null;
  const { cursor, leaves, latest } = work;
  // Leaf indexes are dense from 0, so the batch ends exactly where its last leaf does.
  const deliveredBelow = cursor.deliveredBelow + leaves.length;
  const witnessed =
    latest && latest.treeSize <= deliveredBelow && latest.treeSize > (cursor.checkpointSize ?? -1)
      ? latest
      : null;
  const records = leaves.map((leaf) => accessRecord(tenantId, leaf));
  if (witnessed) records.push(checkpointRecord(tenantId, witnessed));
  const next: AuditSinkCursor = {
    deliveredBelow,
    checkpointSize: witnessed ? witnessed.treeSize : cursor.checkpointSize,
  };
  try {
    if (records.length > 0) await sink.send(records);
  } catch (err) {
    // Let the next pass have it at once; should this fail too, the lease lapses by itself.
    await deps.store.withTenant(tenantId, (tx) => tx.auditSinks.release(sink.name)).catch(() => undefined);
    throw err;
  }
  const missing = leaves.filter((l) => l.entry === null).length;
  if (missing > 0) {
    // Sent as such: the sink's copy shows the hole. `credreg audit verify` names the index.
    deps.logger.error(
      { tenantId, sink: sink.name, missing },
      'audit sink: sealed leaves whose access-log rows are gone from the database (tampering?)',
    );
  }
  const moved = await deps.store.withTenant(tenantId, (tx) => tx.auditSinks.advance(sink.name, cursor, next));
  if (!moved) {
    // Our lease lapsed and another instance sent this batch too: at least once, as promised.
    deps.logger.warn(
      { tenantId, sink: sink.name },
      'audit sink: the cursor moved meanwhile; a batch went out twice',
    );
  }
  return { rows: leaves.length, checkpoint: witnessed !== null };
}

/**
 * One pass of delivery to every sink: for each tenant a sink is behind on, one batch. A sink that
 * fails is left alone until its retry delay has passed (it is down for every tenant, most
 * likely), and reported down after `downAfterFailures` failures in a row. Safe on any number of
 * instances: a cursor is claimed before its batch is sent.
 */
export async function deliverAuditSinks(
  deps: Deps,
  wiring: AuditSinkWiring,
  health: AuditSinkHealth,
  options: AuditSinkDeliveryOptions = {},
): Promise<AuditSinkDeliveryReport> {
  const report: AuditSinkDeliveryReport = { delivered: 0, checkpoints: 0, failed: 0 };
  for (const sink of wiring.sinks) await deliverToSink(deps, wiring, health, sink, options, report);
  if (wiring.tenantSink) {
    const owned = await deps.store.withPlatform((tx) => tx.tenantAuditSinks(options.maxTenants ?? 100));
    for (const { tenantId, id } of owned) {
      const name = tenantSinkName(id);
      if (deps.clock.now().getTime() < (health.get(name)?.retryAt ?? 0)) continue;
      // Its URL is read in its tenant: the platform role sees ids only.
      const found = await deps.store.withTenant(tenantId, (tx) => tx.auditSinks.findSink(id));
      if (!found) continue;
      const sink = wiring.tenantSink({ name, tenantId, url: found.url });
      await deliverToSink(deps, wiring, health, sink, options, report);
    }
  }
  return report;
}

async function deliverToSink(
  deps: Deps,
  wiring: AuditSinkWiring,
  health: AuditSinkHealth,
  sink: AuditSink,
  options: AuditSinkDeliveryOptions,
  report: AuditSinkDeliveryReport,
): Promise<void> {
  const batchSize = options.batchSize ?? DEFAULT_SINK_BATCH;
  const leaseMs = options.leaseMs ?? 60_000;
  const downAfter = wiring.downAfterFailures ?? 5;
  const state = health.get(sink.name) ?? { failures: 0, retryAt: 0 };
  health.set(sink.name, state);
  if (deps.clock.now().getTime() < state.retryAt) return;
  const limit = options.maxTenants ?? 100;
  const tenants = await deps.store.withPlatform((tx) =>
    tx.tenantsBehindSink(sink.name, {
      limit,
      ...(sink.tenantId ? { tenantId: sink.tenantId } : {}),
      ...(state.after ? { afterId: state.after } : {}),
    }),
  );
  // A full page: the next pass starts after it; a short one: from the first tenant again.
  if (tenants.length === limit) state.after = tenants.at(-1);
  else delete state.after;
  for (const tenantId of tenants) {
    try {
      const sent = await deliverBatch(deps, sink, tenantId, batchSize, leaseMs);
      if (!sent) continue;
      report.delivered += sent.rows;
      if (sent.checkpoint) report.checkpoints++;
      if (state.failures >= downAfter) deps.logger.info({ sink: sink.name }, 'audit sink is back up');
      state.failures = 0;
      state.retryAt = 0;
    } catch (err) {
      report.failed++;
      state.failures++;
      state.retryAt = deps.clock.now().getTime() + wiring.retryDelayMs(state.failures);
      const detail = { sink: sink.name, failures: state.failures, err: (err as Error).message };
      if (state.failures === downAfter) {
        deps.logger.error(
          detail,
          'audit sink is down: rows wait in the database and are sent when it is back',
        );
      } else {
        deps.logger.warn(detail, 'audit sink: sending failed; retrying later');
      }
      return; // the other tenants wait with it: the sink, not the tenant, is what failed
    }
  }
}

/** Each sink's health and lag. */
export async function auditSinkStatus(
  deps: Deps,
  wiring: AuditSinkWiring,
  health: AuditSinkHealth,
): Promise<AuditSinkStatus[]> {
  const downAfter = wiring.downAfterFailures ?? 5;
  const out: AuditSinkStatus[] = [];
  for (const sink of wiring.sinks) {
    const failures = health.get(sink.name)?.failures ?? 0;
    const lag = await deps.store.withPlatform((tx) => tx.auditSinkLag(sink.name, sink.tenantId));
    out.push({ sink: sink.name, up: failures < downAfter, consecutiveFailures: failures, lag });
  }
  return out;
}
