/**
 * A closed-loop load generator: `concurrency` workers each run one operation after another until
 * the time is up, so throughput and latency are what a fixed number of busy callers would see.
 */

export interface CellResult {
  ops: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * Runs `op` from `concurrency` workers for `durationMs`. The first failure stops every worker and is
 * rethrown once all of them have settled, so nothing is still in flight when the caller closes the
 * database. An aborted `signal` (Ctrl-C) stops the run the same way.
 */
export async function drive(
  op: () => Promise<unknown>,
  concurrency: number,
  durationMs: number,
  signal: AbortSignal,
): Promise<CellResult> {
  const latencies: number[] = [];
  const start = performance.now();
  const deadline = start + durationMs;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && !signal.aborted && performance.now() < deadline) {
      const t0 = performance.now();
      try {
        await op();
      } catch (error) {
        failure ??= { error };
        return;
      }
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  // Elapsed until the last in-flight operation finished, not the nominal duration: the tail counts.
  const seconds = (performance.now() - start) / 1000;
  if (failure) throw failure.error;
  signal.throwIfAborted();
  latencies.sort((a, b) => a - b);
  return {
    ops: latencies.length,
    opsPerSec: latencies.length / seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  };
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}
