import { describe, expect, it } from 'vitest';
import { distribution, leastSquares, percentile, round } from '../../src/swarm/stats.ts';

describe('percentile', () => {
  it('interpolates between closest ranks', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([1, 2, 3, 4, 5], 50)).toBe(3);
    expect(percentile([10, 20], 95)).toBeCloseTo(19.5);
    // numpy.percentile(range(1, 21), 95) == 19.05
    expect(
      percentile(
        Array.from({ length: 20 }, (_, i) => i + 1),
        95,
      ),
    ).toBeCloseTo(19.05);
  });

  it('does not depend on input order and ignores non-finite values', () => {
    expect(percentile([5, 1, 4, Number.NaN, 2, 3], 50)).toBe(3);
    expect(percentile([3, 1, 2], 0)).toBe(1);
    expect(percentile([3, 1, 2], 100)).toBe(3);
  });

  it('is undefined for no values and rejects a percentile outside 0..100', () => {
    expect(percentile([], 50)).toBeUndefined();
    expect(() => percentile([1], 101)).toThrow(TypeError);
    expect(() => percentile([1], -1)).toThrow(TypeError);
  });
});

describe('distribution', () => {
  it('summarizes the finite values and skips undefined ones', () => {
    const d = distribution([4, undefined, 1, 3, 2])!;
    expect({ ...d, p95: undefined }).toEqual({
      count: 4,
      min: 1,
      p50: 2.5,
      p95: undefined,
      max: 4,
      mean: 2.5,
    });
    expect(d.p95).toBeCloseTo(3.85, 12);
  });

  it('is undefined when nothing is known', () => {
    expect(distribution([undefined, Number.NaN])).toBeUndefined();
  });
});

describe('leastSquares', () => {
  it('recovers an exact line', () => {
    const fit = leastSquares([0, 10, 25, 50].map((x) => ({ x, y: 0.5 + 0.2 * x })))!;
    expect(fit.slope).toBeCloseTo(0.2, 12);
    expect(fit.intercept).toBeCloseTo(0.5, 12);
    expect(fit.r2).toBeCloseTo(1, 12);
    expect(fit.n).toBe(4);
  });

  it('fits noisy points like the textbook formula', () => {
    // x = 1..5, y = 2, 4, 5, 4, 5: slope 0.6, intercept 2.2, R² 0.6.
    const fit = leastSquares([2, 4, 5, 4, 5].map((y, i) => ({ x: i + 1, y })))!;
    expect(fit.slope).toBeCloseTo(0.6, 12);
    expect(fit.intercept).toBeCloseTo(2.2, 12);
    expect(fit.r2).toBeCloseTo(0.6, 12);
  });

  it('is undefined with fewer than two points or a single x', () => {
    expect(leastSquares([{ x: 1, y: 1 }])).toBeUndefined();
    expect(
      leastSquares([
        { x: 2, y: 1 },
        { x: 2, y: 3 },
      ]),
    ).toBeUndefined();
  });
});

describe('round', () => {
  it('rounds to the given decimals and keeps undefined', () => {
    expect(round(1.2345, 2)).toBe(1.23);
    expect(round(undefined)).toBeUndefined();
  });
});
