import { describe, expect, it } from 'vitest';
import { histogram, percentile, summarize } from '../../src/latency/stats.ts';

describe('latency statistics', () => {
  it('interpolates percentiles between ranks', () => {
    const sorted = [10, 20, 30, 40, 50];
    expect(percentile(sorted, 0)).toBe(10);
    expect(percentile(sorted, 50)).toBe(30);
    expect(percentile(sorted, 100)).toBe(50);
    expect(percentile(sorted, 95)).toBeCloseTo(48, 10);
    expect(percentile([1, 2], 50)).toBe(1.5);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile(sorted, 101)).toThrow(RangeError);
  });

  it('summarises an unsorted sample and an empty one', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(summarize(values)).toMatchObject({
      count: 100,
      min: 1,
      max: 100,
      p50: 50.5,
      mean: 50.5,
    });
    expect(summarize(values).p99).toBeCloseTo(99.01, 10);
    expect(summarize([3, 3, 3]).stddev).toBe(0);
    const empty = summarize([]);
    expect(empty.count).toBe(0);
    expect(empty.p50).toBeNaN();
    expect(empty.mean).toBeNaN();
  });

  it('buckets a sample with round widths and keeps empty buckets', () => {
    expect(histogram([])).toEqual([]);
    expect(histogram([30.2, 31, 38.9, 45])).toEqual([
      { from: 30, to: 32, count: 2 },
      { from: 32, to: 34, count: 0 },
      { from: 34, to: 36, count: 0 },
      { from: 36, to: 38, count: 0 },
      { from: 38, to: 40, count: 1 },
      { from: 40, to: 42, count: 0 },
      { from: 42, to: 44, count: 0 },
      { from: 44, to: 46, count: 1 },
    ]);
    const wide = histogram([1, 250, 990]);
    expect(wide.length).toBeLessThanOrEqual(12);
    expect(wide.reduce((sum, b) => sum + b.count, 0)).toBe(3);
  });
});
