/**
 * The statistics the load generator and the benchmarks report: percentiles, a distribution
 * summary and an ordinary least-squares line. Pure functions, no I/O.
 */

/**
 * The p-th percentile (0..100) by linear interpolation between closest ranks (the method of
 * numpy's default and of Excel's PERCENTILE.INC), so p50 of an even count is the mean of the
 * middle two. Undefined for an empty input; non-finite values are ignored.
 */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (!Number.isFinite(p) || p < 0 || p > 100) {
    throw new TypeError(`percentile must be within 0..100, got ${p}`);
  }
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  return interpolatedPercentile(sorted, p);
}

/**
 * The interpolation itself, for ascending, non-empty `sorted` values and p in 0..100 (the
 * callers validate): shared by `percentile` here and the latency probe's summary.
 */
export function interpolatedPercentile(sorted: readonly number[], p: number): number {
  const rank = (p / 100) * (sorted.length - 1);
  const lower = Math.floor(rank);
  const upper = Math.ceil(rank);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * (rank - lower);
}

export interface Distribution {
  count: number;
  min: number;
  p50: number;
  p95: number;
  max: number;
  mean: number;
}

/** Count, min, median, p95, max and mean of the finite values; undefined if there are none. */
export function distribution(values: readonly (number | undefined)[]): Distribution | undefined {
  const finite = values.filter(
    (value): value is number => value !== undefined && Number.isFinite(value),
  );
  if (finite.length === 0) return undefined;
  return {
    count: finite.length,
    min: Math.min(...finite),
    p50: percentile(finite, 50)!,
    p95: percentile(finite, 95)!,
    max: Math.max(...finite),
    mean: finite.reduce((sum, value) => sum + value, 0) / finite.length,
  };
}

export interface Point {
  x: number;
  y: number;
}

export interface LinearFit {
  slope: number;
  intercept: number;
  /** Coefficient of determination; 1 when every point is on the line (or y is constant). */
  r2: number;
  n: number;
}

/**
 * Ordinary least squares `y = slope * x + intercept`. Undefined with fewer than two points or
 * when every x is the same (the slope is not determined then).
 */
export function leastSquares(points: readonly Point[]): LinearFit | undefined {
  const n = points.length;
  if (n < 2) return undefined;
  const meanX = points.reduce((sum, point) => sum + point.x, 0) / n;
  const meanY = points.reduce((sum, point) => sum + point.y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const { x, y } of points) {
    sxx += (x - meanX) ** 2;
    sxy += (x - meanX) * (y - meanY);
    syy += (y - meanY) ** 2;
  }
  if (sxx === 0) return undefined;
  const slope = sxy / sxx;
  const intercept = meanY - slope * meanX;
  const residual = points.reduce((sum, { x, y }) => sum + (y - (slope * x + intercept)) ** 2, 0);
  return { slope, intercept, r2: syy === 0 ? 1 : 1 - residual / syy, n };
}

/** Rounds for reports: `digits` decimals, and undefined stays undefined. */
export function round(value: number | undefined, digits = 1): number | undefined {
  if (value === undefined || !Number.isFinite(value)) return value;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
