/** The benchmark's two outputs: a table for people and a JSON array for scripts and CI. */
import type { Backend } from '../src/db/sql.js';
import { type AuditBackendResult, auditJson, auditTable } from './audit-report.js';
import type { AuditVerifyBenchResult } from './audit-verify-workload.js';
import type { CliStartupResult } from './cli-startup.js';
import type { BatchSizes } from './group-commit.js';
import type { CellResult } from './load.js';
import type { SchedulerResult } from './scheduler-workload.js';
import type { WebhookResult } from './webhook-workload.js';

export const OPERATIONS = ['reveal', 'reveal_multi', 'http_reveal', 'store', 'baseline'] as const;
/** 128 is four callers per pool connection: how the registry queues when callers outnumber them. */
export const CONCURRENCIES = [1, 32, 128] as const;
/** The concurrency the unsuffixed JSON fields (`reveal_ops_s`, `ratio`, ...) report. */
export const HEADLINE = 32;

export type Operation = (typeof OPERATIONS)[number];
export type Concurrency = (typeof CONCURRENCIES)[number];

export interface BackendResult {
  backend: Backend;
  /** Connections in the registry's pool and the baseline's; absent for PGlite. */
  poolSize?: number;
  cells: Record<Operation, Record<Concurrency, CellResult>>;
  /** Group-commit batches during the timed c32 reveal cells; null when not measured. */
  batchSizes: Record<'reveal' | 'reveal_multi', BatchSizes | null>;
  rootKeyCallsPerReveal: number;
  /** Data keys moved to a new vault-key version per second (one re-wrap of the whole vault). */
  rewrapKeysPerSec: number;
  /** Warm reveals (c32) per root key provider, each on its own fresh workload, `local` included. */
  providerReveals: Record<string, CellResult>;
  /** Rotation scheduler: idle tick cost at two queue sizes, and time per due rotation (`random`). */
  scheduler: SchedulerResult;
  /** Webhook delivery to a receiver on loopback, ticks back to back until the outbox is empty. */
  webhooks: WebhookResult;
  /** The audit log's sealer: its throughput, and the headline reveal cell with it running. */
  audit: AuditBackendResult;
}

export interface RunInfo {
  secondsPerCell: number;
  warmupSeconds: number;
  credentials: number;
  /** The reveal_multi cell: tenants, each with one vault of this many credentials. */
  tenants: number;
  credentialsPerTenant: number;
  /** Backends left out, with why. */
  skipped: string[];
  /** The built CLI's wall time per call; the same whatever the backend (it runs its own server). */
  cli?: CliStartupResult;
  /** Offline verification of a synthetic audit export; the same whatever the backend. */
  auditVerify?: AuditVerifyBenchResult;
}

const round = (n: number, digits: number) => Number(n.toFixed(digits));
const providerRatio = (r: BackendResult, name: string) =>
  r.providerReveals[name]!.opsPerSec / r.providerReveals.local!.opsPerSec;
/** `op`'s throughput over the baseline's, at the same concurrency in the same run. */
const ratio = (r: BackendResult, c: Concurrency, op: Operation = 'reveal') =>
  r.cells[op][c].opsPerSec / r.cells.baseline[c].opsPerSec;
const batchJson = (b: BatchSizes | null) =>
  b && {
    mean: b.mean === null ? null : round(b.mean, 2),
    p50: b.p50,
    p99: b.p99,
    max: b.max,
    batches: b.batches,
  };

export function toJson(results: BackendResult[], info: RunInfo): Record<string, unknown>[] {
  return results.map((r) => {
    const row: Record<string, unknown> = {
      backend: r.backend,
      pool_size: r.poolSize ?? null,
      seconds_per_cell: info.secondsPerCell,
    };
    for (const op of OPERATIONS) {
      for (const c of CONCURRENCIES) {
        const key = c === HEADLINE ? op : `${op}_c${c}`;
        const cell = r.cells[op][c];
        row[`${key}_ops_s`] = round(cell.opsPerSec, 1);
        row[`${key}_p50_ms`] = round(cell.p50Ms, 3);
        row[`${key}_p99_ms`] = round(cell.p99Ms, 3);
      }
    }
    row.ratio = round(ratio(r, HEADLINE), 3);
    row.ratio_c1 = round(ratio(r, 1), 3);
    row.ratio_c128 = round(ratio(r, 128), 3);
    row.http_ratio = round(ratio(r, HEADLINE, 'http_reveal'), 3);
    row.multi_tenant_ratio = round(ratio(r, HEADLINE, 'reveal_multi'), 3);
    row.reveal_batch_sizes = batchJson(r.batchSizes.reveal);
    row.reveal_multi_batch_sizes = batchJson(r.batchSizes.reveal_multi);
    row.root_key_calls_per_reveal = r.rootKeyCallsPerReveal;
    row.rewrap_keys_s = round(r.rewrapKeysPerSec, 1);
    for (const [name, cell] of Object.entries(r.providerReveals)) {
      const key = name.replace('-', '_');
      row[`reveal_${key}_ops_s`] = round(cell.opsPerSec, 1);
      row[`reveal_${key}_p99_ms`] = round(cell.p99Ms, 3);
      if (name !== 'local') row[`${key}_vs_local`] = round(providerRatio(r, name), 3);
    }
    const s = r.scheduler;
    row.scheduler_credentials = s.credentials;
    row.scheduler_due = s.due;
    row.scheduler_batch = s.batch;
    row.scheduler_idle_ticks_s = round(s.idleFull.opsPerSec, 1);
    row.scheduler_idle_tick_p50_ms = round(s.idleFull.p50Ms, 3);
    row.scheduler_idle_tick_p99_ms = round(s.idleFull.p99Ms, 3);
    // The same tick with only the due-to-be credentials queued (`scheduler_due` of them).
    row.scheduler_idle_small_ticks_s = round(s.idleSmall.opsPerSec, 1);
    row.scheduler_idle_small_p50_ms = round(s.idleSmall.p50Ms, 3);
    // Ticks/s with every credential queued over ticks/s with only the due ones: 1.0, no growth.
    row.scheduler_idle_ratio = round(s.idleFull.opsPerSec / s.idleSmall.opsPerSec, 3);
    row.scheduler_idle_p50_ratio = round(s.idleFull.p50Ms / s.idleSmall.p50Ms, 3);
    row.scheduler_due_rotation_ms = round(s.msPerDueRotation, 3);
    row.scheduler_due_rotations_s = round(s.dueRotationsPerSec, 1);
    row.webhook_events = r.webhooks.events;
    row.webhook_batch = r.webhooks.batch;
    row.webhook_drain_s = round(r.webhooks.seconds, 3);
    row.webhook_deliveries_s = round(r.webhooks.deliveriesPerSec, 1);
    if (info.cli) {
      row.cli_runs = info.cli.runs;
      row.cli_version_p50_ms = round(info.cli.version.p50Ms, 1);
      row.cli_version_max_ms = round(info.cli.version.maxMs, 1);
      row.cli_cred_get_p50_ms = round(info.cli.credGet.p50Ms, 1);
      row.cli_cred_get_max_ms = round(info.cli.credGet.maxMs, 1);
    }
    Object.assign(row, auditJson(r, info));
    return row;
  });
}

export function toTable(results: BackendResult[], info: RunInfo): string {
  const lines = [
    `credential-registry bench: closed loop, ${info.secondsPerCell} s per cell after a ${info.warmupSeconds} s warm-up, ` +
      `reveals pick one of ${info.credentials} api_key credentials at random; reveal_multi picks one of ` +
      `${info.tenants} tenants, then one of its ${info.credentialsPerTenant} credentials`,
    'http_reveal: the load comes from a separate client process, the server runs in the bench process',
    'baseline: primary-key select + audit-row insert in one transaction, raw SQL as the owner (no crypto, no RLS)',
  ];
  for (const r of results) {
    if (r.poolSize !== undefined) {
      lines.push(
        `${r.backend}: the registry's pool and the baseline's pg.Pool both have ${r.poolSize} connections`,
      );
    }
  }
  lines.push(...info.skipped, '');

  const columns = (...cells: (string | number)[]) =>
    cells.map((c, i) => (i < 2 ? String(c).padEnd(i === 1 ? 14 : 10) : String(c).padStart(10))).join('');
  const fixed = (n: number, digits: number) => n.toFixed(digits);
  lines.push(columns('backend', 'operation', 'conc', 'ops/s', 'p50 ms', 'p99 ms'));
  for (const r of results) {
    for (const op of OPERATIONS) {
      for (const c of CONCURRENCIES) {
        const cell = r.cells[op][c];
        lines.push(
          columns(r.backend, op, c, fixed(cell.opsPerSec, 1), fixed(cell.p50Ms, 2), fixed(cell.p99Ms, 2)),
        );
      }
    }
  }
  lines.push('');
  for (const r of results) {
    lines.push(
      `${r.backend}: reveal_c32 / baseline_c32 = ${fixed(ratio(r, HEADLINE), 3)} ` +
        `(c1: ${fixed(ratio(r, 1), 3)}, c128: ${fixed(ratio(r, 128), 3)}), http_reveal_c32 / baseline_c32 = ` +
        `${fixed(ratio(r, HEADLINE, 'http_reveal'), 3)}, reveal_multi_c32 / baseline_c32 = ` +
        `${fixed(ratio(r, HEADLINE, 'reveal_multi'), 3)}, ` +
        `root_key_calls_per_reveal = ${r.rootKeyCallsPerReveal}, rewrap = ${fixed(r.rewrapKeysPerSec, 1)} data keys/s`,
    );
    const batches = (op: keyof BackendResult['batchSizes']) => {
      const b = r.batchSizes[op];
      if (!b) return `${op} not measured`;
      if (b.mean === null) return `${op} no batches`;
      return `${op} mean ${fixed(b.mean, 2)}, p50 ${b.p50}, p99 ${b.p99}, max ${b.max} (${b.batches} batches)`;
    };
    lines.push(
      `${r.backend}: group-commit batch sizes in the c32 cells: ${batches('reveal')}; ${batches('reveal_multi')}`,
    );
    const others = Object.keys(r.providerReveals).filter((n) => n !== 'local');
    lines.push(
      `${r.backend}: warm reveal c32 by root key provider, / local: ` +
        others.map((n) => `${n} ${fixed(providerRatio(r, n), 3)}`).join(', ') +
        ` (local ${fixed(r.providerReveals.local!.opsPerSec, 1)} ops/s)`,
    );
  }
  lines.push(
    '',
    'scheduler: rotateDue ticks one after another (c1); idle_tick finds nothing due among `queued` scheduled ' +
      'credentials, due_rotate runs the 1% made due with the random rotator; ' +
      'webhook: deliverWebhooks ticks to a receiver on loopback until `queued` deliveries are done',
    '',
    columns('backend', 'cell', 'queued', 'ops/s', 'p50 ms', 'p99 ms'),
  );
  for (const r of results) {
    const s = r.scheduler;
    for (const [queued, cell] of [
      [s.due, s.idleSmall],
      [s.credentials, s.idleFull],
    ] as const) {
      lines.push(
        columns(
          r.backend,
          'idle_tick',
          queued,
          fixed(cell.opsPerSec, 1),
          fixed(cell.p50Ms, 2),
          fixed(cell.p99Ms, 2),
        ),
      );
    }
    lines.push(
      columns(r.backend, 'due_rotate', s.credentials, fixed(s.dueRotationsPerSec, 1), '', '') +
        `  ${fixed(s.msPerDueRotation, 2)} ms per due rotation, ${s.due} due, batches of ${s.batch}`,
    );
    const w = r.webhooks;
    lines.push(
      columns(r.backend, 'webhook', w.events, fixed(w.deliveriesPerSec, 1), '', '') +
        `  ${w.events} deliveries in ${fixed(w.seconds, 2)} s, batches of ${w.batch}, local receiver`,
    );
  }
  lines.push('');
  for (const r of results) {
    const s = r.scheduler;
    lines.push(
      `${r.backend}: idle tick with ${s.credentials} queued / with ${s.due} queued: ticks/s ` +
        `${fixed(s.idleFull.opsPerSec / s.idleSmall.opsPerSec, 3)}, p50 ${fixed(s.idleFull.p50Ms / s.idleSmall.p50Ms, 3)} ` +
        '(1.0: the tick does not grow with the queue)',
    );
  }
  lines.push(...auditTable(results, info));
  if (info.cli) {
    const { runs, version, credGet } = info.cli;
    lines.push(
      '',
      `cli: the built credreg (bin/credreg.js), a fresh process per call, ${runs} calls each; cred get against a local credreg serve (embedded store)`,
      '',
      columns('cli', 'command', '', 'p50 ms', 'min ms', 'max ms'),
      ...[
        ['--version', version],
        ['cred get', credGet],
      ].map(([name, t]) => {
        const w = t as typeof version;
        return columns('cli', name as string, '', fixed(w.p50Ms, 1), fixed(w.minMs, 1), fixed(w.maxMs, 1));
      }),
    );
  }
  return lines.join('\n');
}
