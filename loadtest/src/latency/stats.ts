/**
 * Summary statistics of a latency sample: percentiles, mean, and a histogram for the report.
 */
import { interpolatedPercentile } from '../swarm/stats.ts';

export interface LatencySummary {
  count: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
  stddev: number;
}

/**
 * The `p`-th percentile (0..100) of ascending `sorted` values, interpolated linearly between
 * the two nearest ranks (the method of numpy's default and Excel's PERCENTILE.INC). NaN for an
 * empty sample.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  if (p < 0 || p > 100) throw new RangeError(`A percentile must be in [0, 100], got ${p}`);
  return interpolatedPercentile(sorted, p);
}

/** Percentiles, extremes, mean and (population) standard deviation; NaNs when empty. */
export function summarize(values: readonly number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  const count = sorted.length;
  const mean = count === 0 ? Number.NaN : sorted.reduce((sum, v) => sum + v, 0) / count;
  const variance =
    count === 0 ? Number.NaN : sorted.reduce((sum, v) => sum + (v - mean) ** 2, 0) / count;
  return {
    count,
    min: count === 0 ? Number.NaN : sorted[0],
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: count === 0 ? Number.NaN : sorted[count - 1],
    mean,
    stddev: Math.sqrt(variance),
  };
}

export interface HistogramBucket {
  /** Inclusive lower and exclusive upper bound. */
  from: number;
  to: number;
  count: number;
}

/** Bucket widths a histogram may use: the smallest that gives at most `maxBuckets`. */
const WIDTHS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

/**
 * Buckets of one round width covering the sample from its minimum to its maximum, at most
 * `maxBuckets` of them (empty buckets in between are kept, so the shape reads right).
 */
export function histogram(values: readonly number[], maxBuckets = 12): HistogramBucket[] {
  if (values.length === 0) return [];
  const min = Math.min(...values);
  const max = Math.max(...values);
  const width =
    WIDTHS.find((w) => Math.floor(max / w) - Math.floor(min / w) + 1 <= maxBuckets) ??
    Math.ceil((max - min + 1) / maxBuckets);
  const first = Math.floor(min / width) * width;
  const buckets: HistogramBucket[] = [];
  for (let from = first; from <= max; from += width) {
    buckets.push({ from, to: from + width, count: 0 });
  }
  for (const value of values) buckets[Math.floor((value - first) / width)].count++;
  return buckets;
}
