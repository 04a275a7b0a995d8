/**
 * The headline reveal cell with the audit sealer running beside it, in the same process, as
 * `credreg serve` runs it: a tick every `intervalMs` that seals pass after pass while a pass leaves
 * rows behind (src/cli/server-commands.ts's batch loop, which is not exported). The sealer must not
 * cost the reveal path more than 5% of its ratio to the floor (issue 14).
 *
 * Measured in rounds, each a cell without the sealer and one with it, on the same workload, in
 * turn one first and the other: two cells a minute apart on a shared machine differ by more than
 * 5% on their own, so each sealing cell is set against the plain cell beside it, and the round of
 * the median change is the one reported.
 *
 * Seal lag: the time from a row's commit to the end of the pass that made it a leaf. With one
 * access-log row per reveal, all in the one tenant, the k-th reveal to return (its COMMIT answered)
 * is matched with the k-th leaf sealed: the sealer appends in commit order but for transactions
 * still open, so this pairs each row with its own leaf or one of its group's neighbours. Rows
 * left when the cell ends are sealed by the same loop, and their lag counts in full.
 */
import { readFileSync } from 'node:fs';
import type { RegistryHandle } from '../src/main.js';
import { sealEverything, sealPass } from './audit-seal-workload.js';
import { type CellResult, drive } from './load.js';

/** A tick's passes at most, as `credreg serve` drains. */
const ROUNDS_PER_TICK = 50;
/** How long the loop may take to seal the cell's last rows before the bench gives up. */
const TAIL_TIMEOUT_MS = 120_000;

export interface SealerRound {
  plain: CellResult;
  sealing: CellResult;
  /** sealing / plain − 1. */
  change: number;
  /** What the reveals of the plain cell used, and those of the sealing cell with their sealing. */
  plainUse: CellUse;
  sealingUse: CellUse;
}

/**
 * Resources a cell used, to set the sealer's cost against a reveal's in amounts of work rather
 * than in throughput, which on a shared machine moves by more than the sealer's cost: this
 * process's CPU time (on PGlite the database's too; CPU, not event-loop time, which counts the
 * time the loop waits for a core), the whole machine's (so PostgreSQL's too) and the WAL the
 * database wrote.
 */
export interface CellUse {
  /** Reveals the figures cover. */
  reveals: number;
  cpuMs: number;
  /** Every core's busy time, whoever used it (Linux's /proc/stat); absent where it cannot be read. */
  machineCpuMs?: number;
  walBytes: number;
}

/** The sealer's cost over a reveal's, each summed over every round: 0.05 is 5% more a reveal. */
export interface SealerShare {
  cpu: number;
  /** Absent where the machine's CPU time cannot be read. */
  machineCpu?: number;
  wal: number;
}

/** The kernel's unit for /proc/stat's times, fixed at 100 a second for user space on Linux. */
const USER_HZ = 100;

/**
 * The machine's busy CPU time so far, in ms over every core: user, nice, system, irq and softirq,
 * not idle, iowait or the time a hypervisor stole. Undefined where /proc/stat cannot be read.
 */
function machineCpuMs(): number | undefined {
  try {
    const [user, nice, system, , , irq, softirq] = readFileSync('/proc/stat', 'utf8')
      .split('\n', 1)[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const busy = [user, nice, system, irq, softirq].reduce<number>((a, t) => a + (t ?? Number.NaN), 0);
    return Number.isFinite(busy) ? (busy * 1000) / USER_HZ : undefined;
  } catch {
    return undefined;
  }
}

export interface SealerCellResult {
  concurrency: number;
  intervalMs: number;
  rounds: SealerRound[];
  /** The round of the median change (of an even number, the upper of the middle two). */
  median: SealerRound;
  /** Sealer passes during the sealing cells, their warm-ups and their tails. */
  passes: number;
  /** Over every sealing cell's rows. */
  lag: { rows: number; p50Ms: number; maxMs: number };
  share: SealerShare;
}

/** The database's WAL insert position, in bytes from 0/0. */
export type WalPosition = () => Promise<bigint>;

/** Measures what `run` uses; `reveals` is what it says it covered. */
async function using<T>(
  wal: WalPosition,
  run: () => Promise<T & { reveals: number }>,
): Promise<{ result: T & { reveals: number }; use: CellUse }> {
  const walBefore = await wal();
  const cpuBefore = process.cpuUsage();
  const machineBefore = machineCpuMs();
  const result = await run();
  const cpu = process.cpuUsage(cpuBefore);
  const machineAfter = machineCpuMs();
  const walBytes = Number((await wal()) - walBefore);
  const machine =
    machineBefore === undefined || machineAfter === undefined
      ? {}
      : { machineCpuMs: machineAfter - machineBefore };
  return {
    result,
    use: { reveals: result.reveals, cpuMs: (cpu.user + cpu.system) / 1000, ...machine, walBytes },
  };
}

/** Σ sealing per reveal over Σ plain per reveal, less one; NaN when a cell lacks the figure. */
function shareOf(rounds: readonly SealerRound[], key: 'cpuMs' | 'machineCpuMs' | 'walBytes'): number {
  const per = (uses: CellUse[]) =>
    uses.reduce((a, u) => a + (u[key] ?? Number.NaN), 0) / uses.reduce((a, u) => a + u.reveals, 0);
  return per(rounds.map((r) => r.sealingUse)) / per(rounds.map((r) => r.plainUse)) - 1;
}

/** The serve loop: `onPass(sealed)` after every pass; `stop()` waits for the tick in flight. */
function startSealerLoop(registry: RegistryHandle, intervalMs: number, onPass: (sealed: number) => void) {
  let running: Promise<void> | undefined;
  let stopping = false;
  let failure: { error: unknown } | undefined;
  const drain = async () => {
    for (let rounds = 0; rounds < ROUNDS_PER_TICK && !stopping; rounds++) {
      const report = await sealPass(registry);
      onPass(report.sealed);
      if (!report.more) return;
    }
  };
  const timer = setInterval(() => {
    if (running || stopping) return;
    running = drain()
      .catch((error: unknown) => {
        failure ??= { error };
      })
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  return {
    failed: () => failure,
    async stop() {
      stopping = true;
      clearInterval(timer);
      await running;
      if (failure) throw failure.error;
    },
  };
}

/** One sealing cell's load and the sealer's tick. */
interface SealingCellOptions {
  concurrency: number;
  intervalMs: number;
  warmupMs: number;
  durationMs: number;
  signal: AbortSignal;
}

export async function revealWithSealer(
  registry: RegistryHandle,
  reveal: () => Promise<unknown>,
  options: SealingCellOptions & { rounds: number; wal: WalPosition },
  progress: (message: string) => void,
): Promise<SealerCellResult> {
  const { concurrency, warmupMs, durationMs, signal } = options;
  const rounds: SealerRound[] = [];
  const lags: number[] = [];
  let passes = 0;
  for (let r = 0; r < options.rounds; r++) {
    // The cells before left rows to seal: sealed first, so each round starts level.
    const t0 = performance.now();
    const backlog = await sealEverything(registry, signal);
    progress(
      `sealer round ${r + 1}: sealed the ${backlog.sealed} rows logged so far in ${((performance.now() - t0) / 1000).toFixed(1)} s (setup)`,
    );
    // The same reveal, its commit noted, as the sealing cell's: the two differ by the sealer alone.
    const plainOp = stamped(reveal, []);
    const runPlain = async () => {
      await drive(plainOp, concurrency, warmupMs, signal);
      return using(options.wal, async () => {
        const cell = await drive(plainOp, concurrency, durationMs, signal);
        return { ...cell, reveals: cell.ops };
      });
    };
    // Its warm-up's reveals and its tail's sealing included: every row it wrote, and its leaf. The
    // sealing cell leaves nothing to seal, so a plain cell after it starts as level as one before.
    const runSealing = () => using(options.wal, () => sealingCell(registry, reveal, options));
    // Every other round runs the sealing cell first, so a drift over the run (the tables growing, a
    // checkpoint of the database's) weighs on both cells alike rather than on the second.
    const sealingFirst = r % 2 === 1;
    const first = sealingFirst ? await runSealing() : undefined;
    const { result: plain, use: plainUse } = await runPlain();
    // The plain cell's rows too: the sealing cell's lag pairs its own rows with its own leaves.
    if (!sealingFirst) await sealEverything(registry, signal);
    const { result: sealing, use: sealingUse } = first ?? (await runSealing());
    passes += sealing.passes;
    for (const l of sealing.lags) lags.push(l);
    const change = sealing.cell.opsPerSec / plain.opsPerSec - 1;
    rounds.push({ plain, sealing: sealing.cell, change, plainUse, sealingUse });
    const perReveal = (u: CellUse) =>
      `${((u.cpuMs * 1000) / u.reveals).toFixed(1)} µs of CPU here` +
      (u.machineCpuMs === undefined
        ? ''
        : ` (${((u.machineCpuMs * 1000) / u.reveals).toFixed(1)} µs machine-wide)`) +
      `, ${(u.walBytes / u.reveals).toFixed(0)} B of WAL`;
    progress(
      `sealer round ${r + 1}: ${plain.opsPerSec.toFixed(1)} reveals/s without, ${sealing.cell.opsPerSec.toFixed(1)} with ` +
        `(${(change * 100).toFixed(1)}%); a reveal used ${perReveal(plainUse)} without, ${perReveal(sealingUse)} with`,
    );
  }
  const median = [...rounds].sort((a, b) => a.change - b.change)[Math.floor(rounds.length / 2)]!;
  lags.sort((a, b) => a - b);
  const lag = { rows: lags.length, p50Ms: percentile(lags, 0.5), maxMs: lags.at(-1) ?? Number.NaN };
  const machineCpu = shareOf(rounds, 'machineCpuMs');
  const share = {
    cpu: shareOf(rounds, 'cpuMs'),
    ...(Number.isNaN(machineCpu) ? {} : { machineCpu }),
    wal: shareOf(rounds, 'walBytes'),
  };
  return { concurrency, intervalMs: options.intervalMs, rounds, median, passes, lag, share };
}

/** `reveal`, each return's time pushed to `commits`. */
const stamped = (reveal: () => Promise<unknown>, commits: number[]) => async () => {
  await reveal();
  commits.push(performance.now());
};

/** One cell with the sealer loop running, and the seal lag of each of its rows. */
async function sealingCell(
  registry: RegistryHandle,
  reveal: () => Promise<unknown>,
  options: SealingCellOptions,
): Promise<{ cell: CellResult; passes: number; lags: number[]; reveals: number }> {
  const { signal } = options;
  const commits: number[] = [];
  const seals: { total: number; at: number }[] = [];
  let total = 0;
  let passes = 0;
  const op = stamped(reveal, commits);
  const loop = startSealerLoop(registry, options.intervalMs, (sealed) => {
    passes++;
    if (sealed === 0) return;
    total += sealed;
    seals.push({ total, at: performance.now() });
  });
  let cell: CellResult;
  try {
    await drive(op, options.concurrency, options.warmupMs, signal);
    cell = await drive(op, options.concurrency, options.durationMs, signal);
    const deadline = performance.now() + TAIL_TIMEOUT_MS;
    while (total < commits.length && !loop.failed()) {
      signal.throwIfAborted();
      if (performance.now() > deadline) {
        throw new Error(`the sealer loop sealed ${total} of ${commits.length} rows in its tail's time`);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    await loop.stop();
  }
  if (total !== commits.length) {
    throw new Error(
      `the sealer sealed ${total} rows for ${commits.length} reveals: the lag pairs one row with one reveal`,
    );
  }
  return { cell, passes, lags: pairLags(commits, seals), reveals: commits.length };
}

/** The k-th commit's lag to the end of the first pass whose running total reaches k. */
function pairLags(commits: readonly number[], seals: readonly { total: number; at: number }[]): number[] {
  const lags: number[] = [];
  let s = 0;
  for (let k = 0; k < commits.length; k++) {
    while (seals[s]!.total < k + 1) s++;
    lags.push(Math.max(0, seals[s]!.at - commits[k]!));
  }
  return lags;
}

/** Nearest rank, as load.ts's. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}
