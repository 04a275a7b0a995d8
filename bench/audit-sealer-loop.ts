/**
 * The headline reveal cell once more with the audit sealer running beside it, in the same process,
 * as `credreg serve` runs it: a tick every `intervalMs` that seals pass after pass while passes come
 * back full (src/cli/server-commands.ts's batch loop, which is not exported). The sealer must not
 * cost the reveal path more than 5% of its ratio to the floor (issue 14).
 *
 * Seal lag: the time from a row's commit to the end of the pass that made it a leaf. With one
 * access-log row per reveal, all in the one tenant, the k-th reveal to return (its COMMIT answered)
 * is matched with the k-th leaf sealed: the sealer appends in commit order but for transactions
 * still open, so this pairs each row with its own leaf or one of its group's neighbours. Rows
 * left when the cell ends are sealed by the same loop, and their lag counts in full.
 */
import type { RegistryHandle } from '../src/main.js';
import { SEAL_BATCH, sealEverything, sealPass } from './audit-seal-workload.js';
import { type CellResult, drive } from './load.js';

/** A tick's passes at most, as `credreg serve` drains. */
const ROUNDS_PER_TICK = 50;
/** How long the loop may take to seal the cell's last rows before the bench gives up. */
const TAIL_TIMEOUT_MS = 120_000;

export interface SealerCellResult {
  concurrency: number;
  reveal: CellResult;
  intervalMs: number;
  /** Sealer passes during the cell, its warm-up and its tail. */
  passes: number;
  lag: { rows: number; p50Ms: number; maxMs: number };
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
      if (report.sealed < SEAL_BATCH) return;
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

export async function revealWithSealer(
  registry: RegistryHandle,
  reveal: () => Promise<unknown>,
  options: {
    concurrency: number;
    intervalMs: number;
    warmupMs: number;
    durationMs: number;
    signal: AbortSignal;
  },
  progress: (message: string) => void,
): Promise<SealerCellResult> {
  const { signal } = options;
  // The reveal cells before this one left rows to seal: sealed first, so the loop starts level.
  const t0 = performance.now();
  const backlog = await sealEverything(registry, signal);
  progress(
    `sealer cell: sealed the ${backlog.sealed} rows logged so far in ${((performance.now() - t0) / 1000).toFixed(1)} s (setup)`,
  );

  const commits: number[] = [];
  const seals: { total: number; at: number }[] = [];
  let total = 0;
  let passes = 0;
  const op = async () => {
    await reveal();
    commits.push(performance.now());
  };
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
  const lags = pairLags(commits, seals);
  const lag = { rows: lags.length, p50Ms: percentile(lags, 0.5), maxMs: lags.at(-1) ?? Number.NaN };
  return { concurrency: options.concurrency, reveal: cell, intervalMs: options.intervalMs, passes, lag };
}

/** The k-th commit's lag to the end of the first pass whose running total reaches k; ascending. */
function pairLags(commits: readonly number[], seals: readonly { total: number; at: number }[]): number[] {
  const lags: number[] = [];
  let s = 0;
  for (let k = 0; k < commits.length; k++) {
    while (seals[s]!.total < k + 1) s++;
    lags.push(Math.max(0, seals[s]!.at - commits[k]!));
  }
  return lags.sort((a, b) => a - b);
}

/** Nearest rank, as load.ts's. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}
