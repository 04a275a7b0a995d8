/**
 * The chaos run's output: one table for all scenarios, then what each failing or noteworthy
 * scenario left as evidence. The run fails when any must-be-zero column is not zero.
 */
import { CATEGORIES, type Category } from './ledger.js';

export interface ScenarioResult {
  name: string;
  backend: string;
  requests: number;
  counts: Record<Category, number>;
  /** Reveals answered 200 without a `granted` row; undefined when it could not be checked. */
  withoutRow: number | undefined;
  /** Reveals answered 200 with a value never written to that credential. */
  wrongValues: number;
  /** Acknowledged writes missing afterwards; undefined when it could not be checked. */
  lost: number | undefined;
  /** Seconds to recover after the fault; undefined: no fault to recover from; null: never. */
  recoverS: number | undefined | null;
  rssStartMb: number | undefined;
  rssEndMb: number | undefined;
  /** Service processes that exited when nobody asked them to. */
  died: number;
  /** Latency of the requests the fault was aimed at, while it lasted (provider scenarios). */
  latency: { p50Ms: number; maxMs: number } | undefined;
  /** Why the scenario failed, beyond the must-be-zero columns (which `judge` adds). */
  failures: string[];
  notes: string[];
  evidence: string[];
}

/** The columns that must be zero in every scenario, and what a non-zero one means. */
const MUST_BE_ZERO: [string, (r: ScenarioResult) => number | undefined][] = [
  ['answers 500', (r) => r.counts['500']],
  ['answers 5xx other than 500 and 503', (r) => r.counts['5xx']],
  ['requests no answer came for within 30 s', (r) => r.counts.timeout],
  ['values returned without a granted row', (r) => r.withoutRow],
  ['values returned that were never written to that credential', (r) => r.wrongValues],
  ['acknowledged writes lost', (r) => r.lost],
];

/** The scenario's failures: its own, plus every must-be-zero column that is not zero. */
export function judge(r: ScenarioResult): string[] {
  const out = [...r.failures];
  for (const [what, get] of MUST_BE_ZERO) {
    const n = get(r);
    if (n) out.push(`${n} ${what}`);
  }
  return out;
}

const mb = (n: number | undefined) => (n === undefined ? '-' : n.toFixed(0));
const ms = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(0));
const opt = (n: number | undefined) => (n === undefined ? '?' : String(n));

/** The ledger's categories as columns, in its order; `other` (a connection failure of no known kind) is not one. */
const SHOWN = CATEGORIES.filter((c) => c !== 'other');

export function toTable(
  results: ScenarioResult[],
  info: { soakSeconds: number; clients: number; interrupted: boolean },
): string {
  const header = [
    'scenario',
    'backend',
    'requests',
    ...SHOWN,
    'no-row',
    'wrong',
    'lost',
    'recover s',
    'rss MB',
    'died',
    'p50 ms',
    'max ms',
    'verdict',
  ];
  const rows = results.map((r) => {
    const failed = judge(r).length > 0;
    return [
      r.name,
      r.backend,
      String(r.requests),
      ...SHOWN.map((c) => String(r.counts[c])),
      opt(r.withoutRow),
      String(r.wrongValues),
      opt(r.lost),
      r.recoverS === undefined ? '-' : r.recoverS === null ? 'never' : r.recoverS.toFixed(2),
      `${mb(r.rssStartMb)}→${mb(r.rssEndMb)}`,
      String(r.died),
      ms(r.latency?.p50Ms),
      ms(r.latency?.maxMs),
      failed ? 'FAIL' : 'ok',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i < 2 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const lines = [
    `credential-registry chaos: ${info.clients} keep-alive clients on loopback per scenario, soak ${info.soakSeconds} s`,
    'must be zero: 500, 5xx, timeout, no-row (200 reveals without a granted access-log row), wrong (values never written), lost (acknowledged writes missing), died',
    'recover s: from the end of the fault to the first of 20 consecutive successes; rss MB: VmRSS of the service at start→end; p50/max: requests the fault aimed at, during it',
    ...(info.interrupted ? ['INTERRUPTED: the results are partial, and unverified where they show "?"'] : []),
    '',
    line(header),
    `|${widths.map((w, i) => (i < 2 || i === widths.length - 1 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...rows.map(line),
  ];
  for (const r of results) {
    const failures = judge(r);
    if (!failures.length && !r.notes.length && !r.evidence.length) continue;
    lines.push('', `${r.name}: ${failures.length ? `FAIL: ${failures.join('; ')}` : 'ok'}`);
    for (const n of r.notes) lines.push(`  note: ${n}`);
    if (failures.length || r.evidence.length)
      for (const e of r.evidence.slice(0, 20)) lines.push(`  evidence: ${e}`);
  }
  return lines.join('\n');
}
