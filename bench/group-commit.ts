/**
 * Group-commit batch sizes over one timed cell: the registry counts batches cumulatively since it
 * started, so a cell's distribution is the difference of two snapshots taken around it.
 */
import type { RegistryHandle } from '../src/main.js';

type GroupCommitStats = ReturnType<RegistryHandle['groupCommitStats']>;

/** A cell's batch sizes; the statistics are null when no batch ran in it (group commit off). */
export interface BatchSizes {
  batches: number;
  mean: number | null;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

/** A copy of the registry's counters: were it the live object, both ends of a difference would be one. */
export function groupCommitSnapshot(registry: RegistryHandle): GroupCommitStats {
  const stats = registry.groupCommitStats();
  return { batches: stats.batches, members: stats.members, sizes: { ...stats.sizes } };
}

/**
 * The distribution of the batches that ran between two snapshots, each batch counted once (so p50
 * is the median batch, not the batch the median caller was in).
 */
export function batchSizesBetween(before: GroupCommitStats, after: GroupCommitStats): BatchSizes {
  const counts = Object.keys(after.sizes)
    .map(Number)
    .sort((a, b) => a - b)
    .map((size) => ({ size, count: (after.sizes[size] ?? 0) - (before.sizes[size] ?? 0) }))
    .filter((s) => s.count > 0);
  const batches = after.batches - before.batches;
  if (batches <= 0) return { batches: 0, mean: null, p50: null, p99: null, max: null };
  const inHistogram = counts.reduce((n, s) => n + s.count, 0);
  /** Nearest rank over the histogram, as load.ts's percentile over sorted latencies. */
  const percentile = (p: number) => {
    const rank = Math.max(1, Math.ceil(p * inHistogram));
    let seen = 0;
    for (const s of counts) {
      seen += s.count;
      if (seen >= rank) return s.size;
    }
    return null;
  };
  return {
    batches,
    mean: (after.members - before.members) / batches,
    p50: percentile(0.5),
    p99: percentile(0.99),
    max: counts.at(-1)?.size ?? null,
  };
}
