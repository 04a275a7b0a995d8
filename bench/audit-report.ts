/** The audit log's part of the report (report.ts): its JSON fields and its table. */
import type { AuditSealBenchResult } from './audit-seal-workload.js';
import type { SealerCellResult } from './audit-sealer-loop.js';
import type { AuditVerifyBenchResult } from './audit-verify-workload.js';
import type { BackendResult, Concurrency, RunInfo } from './report.js';

/** A backend's audit cells: sealing throughput, and the headline reveal cell with the sealer running. */
export interface AuditBackendResult {
  seal: AuditSealBenchResult;
  withSealer: SealerCellResult;
}

/** What `audit_verify_1m_s` is the time for. */
const MILLION = 1_000_000;

const round = (n: number, digits: number) => Number(n.toFixed(digits));

/** Reveal throughput over the baseline's at the sealer cell's concurrency, without and with the sealer. */
function sealerRatios(r: BackendResult) {
  const { withSealer } = r.audit;
  // run.ts runs it at the headline concurrency, one of the cells'.
  const c = withSealer.concurrency as Concurrency;
  const baseline = r.cells.baseline[c].opsPerSec;
  const { plain, sealing, change } = withSealer.median;
  return { plain: plain.opsPerSec / baseline, sealing: sealing.opsPerSec / baseline, change };
}

/** Seconds for a million leaves: measured when the export had that many, else at the rate measured. */
const verifyMillionSeconds = (v: AuditVerifyBenchResult) =>
  v.rows === MILLION ? v.seconds : MILLION / v.leavesPerSec;

export function auditJson(r: BackendResult, info: RunInfo): Record<string, unknown> {
  const { seal, withSealer } = r.audit;
  const ratios = sealerRatios(r);
  const row: Record<string, unknown> = {
    audit_seal_rows: seal.rows,
    audit_seal_batch: seal.batch,
    audit_seal_passes: seal.passes,
    audit_seal_leaves_per_s: round(seal.leavesPerSec, 1),
    audit_seal_floor_rows_per_s: round(seal.floorRowsPerSec, 1),
    // Leaves sealed per second over rows merely read per second: the sealer's cost, 1.0 being free.
    audit_seal_ratio: round(seal.leavesPerSec / seal.floorRowsPerSec, 3),
    reveal_with_sealer_ops_s: round(withSealer.median.sealing.opsPerSec, 1),
    reveal_with_sealer_p50_ms: round(withSealer.median.sealing.p50Ms, 3),
    reveal_with_sealer_p99_ms: round(withSealer.median.sealing.p99Ms, 3),
    reveal_ratio_with_sealer: round(ratios.sealing, 3),
    // The median round's: its sealing cell over the plain cell beside it, − 1. Issue 14
    // bounds it at ±0.05; every round's is listed after it.
    reveal_ratio_with_sealer_change: round(ratios.change, 3),
    reveal_with_sealer_round_changes: withSealer.rounds.map((x) => round(x.change, 3)),
    // What a reveal and its leaf's sealing used over what a reveal alone did, less one.
    reveal_with_sealer_cpu_share: round(withSealer.share.cpu, 3),
    // The same for the whole machine's CPU (the database's too, on PostgreSQL); null where unread.
    reveal_with_sealer_machine_cpu_share:
      withSealer.share.machineCpu === undefined ? null : round(withSealer.share.machineCpu, 3),
    reveal_with_sealer_wal_share: round(withSealer.share.wal, 3),
    audit_seal_interval_ms: withSealer.intervalMs,
    audit_seal_lag_rows: withSealer.lag.rows,
    audit_seal_lag_ms_p50: round(withSealer.lag.p50Ms, 1),
    audit_seal_lag_ms_max: round(withSealer.lag.maxMs, 1),
  };
  const v = info.auditVerify;
  if (v) {
    row.audit_verify_rows = v.rows;
    row.audit_verify_bytes = v.bytes;
    row.audit_verify_leaves_per_s = round(v.leavesPerSec, 1);
    row.audit_verify_1m_s = round(verifyMillionSeconds(v), 3);
  }
  return row;
}

export function auditTable(results: BackendResult[], info: RunInfo): string[] {
  const fixed = (n: number, digits: number) => n.toFixed(digits);
  const columns = (...cells: (string | number)[]) =>
    cells.map((c, i) => (i < 2 ? String(c).padEnd(i === 1 ? 14 : 10) : String(c).padStart(14))).join('');
  const first = results[0]?.audit;
  const v = info.auditVerify;
  const lines = [
    '',
    'audit log: seal = sealAuditLogs passes (as credreg serve: batches of ' +
      `${first?.seal.batch ?? '?'}) until none is left, over access-log rows of one tenant inserted as the owner; ` +
      "floor = the same rows read as the owner in the sealer's order and pages (no hashing, no writes); " +
      'verify = verifyAuditExport over a synthetic export read from a file, as `credreg audit verify` reads it ' +
      '(offline: no backend)',
    '',
    columns('backend', 'cell', 'rows', 'leaves/s', 'floor rows/s', 'ratio'),
  ];
  for (const r of results) {
    const s = r.audit.seal;
    lines.push(
      columns(
        r.backend,
        'seal',
        s.rows,
        fixed(s.leavesPerSec, 1),
        fixed(s.floorRowsPerSec, 1),
        fixed(s.leavesPerSec / s.floorRowsPerSec, 3),
      ),
    );
  }
  if (v) {
    const million = verifyMillionSeconds(v);
    lines.push(
      columns('offline', 'verify', v.rows, fixed(v.leavesPerSec, 1), '', '') +
        `  ${fixed(v.seconds, 2)} s for ${v.rows} leaves (${fixed(v.bytes / 2 ** 20, 0)} MiB)` +
        (v.rows === MILLION ? '' : `; 1,000,000 at this rate: ${fixed(million, 2)} s`),
    );
  }
  lines.push('');
  for (const r of results) {
    const w = r.audit.withSealer;
    const ratios = sealerRatios(r);
    const percent = (change: number) => `${change >= 0 ? '+' : ''}${fixed(change * 100, 1)}%`;
    lines.push(
      `${r.backend}: reveal_c${w.concurrency} with the sealer ticking every ${w.intervalMs} ms / baseline_c${w.concurrency} = ` +
        `${fixed(ratios.sealing, 3)} (without it, beside it: ${fixed(ratios.plain, 3)}: ${percent(ratios.change)}, the median ` +
        `of ${w.rounds.length} rounds: ${w.rounds.map((x) => percent(x.change)).join(', ')}; issue 14's bound is 5%); ` +
        `${fixed(w.median.sealing.opsPerSec, 1)} reveals/s, p99 ${fixed(w.median.sealing.p99Ms, 2)} ms; ` +
        `seal lag p50 ${fixed(w.lag.p50Ms, 0)} ms, max ${fixed(w.lag.maxMs, 0)} ms over ${w.lag.rows} rows; ` +
        `a reveal with its row sealed used ${percent(w.share.cpu)} CPU in this process, ` +
        (w.share.machineCpu === undefined ? '' : `${percent(w.share.machineCpu)} CPU machine-wide, `) +
        `and ${percent(w.share.wal)} WAL ` +
        'over one without the sealer (every round)',
    );
  }
  return lines;
}
