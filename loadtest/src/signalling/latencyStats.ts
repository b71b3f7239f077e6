/**
 * Latency summaries for the signalling benchmarks: pure functions over millisecond samples.
 * Percentiles use the nearest-rank method (the smallest sample with at least p% of the samples
 * at or below it), so every reported percentile is a latency that really happened.
 */

export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * The nearest-rank percentile of samples that are already sorted ascending. Returns NaN for no
 * samples, so an empty measurement can never pass for a fast one.
 */
export function percentileOfSorted(sorted: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be in 0..100, got ${p}`);
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

/** The nearest-rank percentile of unsorted samples (the input is not modified). */
export function percentile(samples: readonly number[], p: number): number {
  return percentileOfSorted(
    [...samples].sort((a, b) => a - b),
    p,
  );
}

/** Count, min, mean, p50/p95/p99 and max; every field but `count` is NaN without samples. */
export function summarizeLatencies(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const count = sorted.length;
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    count,
    min: count > 0 ? sorted[0] : Number.NaN,
    mean: count > 0 ? sum / count : Number.NaN,
    p50: percentileOfSorted(sorted, 50),
    p95: percentileOfSorted(sorted, 95),
    p99: percentileOfSorted(sorted, 99),
    max: count > 0 ? sorted[count - 1] : Number.NaN,
  };
}

/** Rounds for reports: two decimals below 10, one below 1000, none above. */
export function round(value: number): number {
  if (!Number.isFinite(value)) return value;
  const abs = Math.abs(value);
  const digits = abs < 10 ? 100 : abs < 1000 ? 10 : 1;
  return Math.round(value * digits) / digits;
}
