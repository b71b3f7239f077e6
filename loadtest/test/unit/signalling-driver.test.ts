/**
 * The signalling benchmark's load driver and latency statistics, without any server: tasks
 * are timers, so the bounds (concurrency, count, time, task timeout) can be checked exactly.
 */
import { describe, expect, it } from 'vitest';
import { sleep } from '../../src/peers/timing.ts';
import {
  LoadTaskError,
  assertLoopback,
  formatCounts,
  percentile,
  runLoad,
  summarizeLatencies,
  type LoadTask,
} from '../../src/signalling/index.ts';

/** 1..n in a shuffled order, so sorting is part of what is tested. */
function shuffled(n: number): number[] {
  const values = Array.from({ length: n }, (_, i) => i + 1);
  for (let i = values.length - 1; i > 0; i--) {
    const j = (i * 7919) % (i + 1);
    [values[i], values[j]] = [values[j], values[i]];
  }
  return values;
}

describe('latency statistics', () => {
  it('nearest-rank percentiles of 1..100 are the ranks themselves', () => {
    const samples = shuffled(100);
    expect(percentile(samples, 50)).toBe(50);
    expect(percentile(samples, 95)).toBe(95);
    expect(percentile(samples, 99)).toBe(99);
    expect(percentile(samples, 100)).toBe(100);
    expect(percentile(samples, 0)).toBe(1);
    expect(summarizeLatencies(samples)).toEqual({
      count: 100,
      min: 1,
      mean: 50.5,
      p50: 50,
      p95: 95,
      p99: 99,
      max: 100,
    });
  });

  it('picks a sample that happened on small and uneven sets', () => {
    expect(percentile([10, 20, 30, 40], 50)).toBe(20);
    expect(percentile([10, 20, 30, 40], 95)).toBe(40);
    expect(percentile([3, 1, 2], 50)).toBe(2);
    expect(percentile([7], 99)).toBe(7);
    // 1000 samples: p99 is the 990th smallest, p95 the 950th.
    const big = shuffled(1000);
    expect(percentile(big, 99)).toBe(990);
    expect(percentile(big, 95)).toBe(950);
    expect(percentile(big, 50)).toBe(500);
  });

  it('an empty set has NaN percentiles, never a fast-looking zero', () => {
    const summary = summarizeLatencies([]);
    expect(summary.count).toBe(0);
    expect(summary.p50).toBeNaN();
    expect(summary.max).toBeNaN();
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });
});

describe('runLoad', () => {
  it('never has more than `concurrency` tasks in flight, and reaches it', async () => {
    let inFlight = 0;
    let observedMax = 0;
    const workersSeen = new Set<number>();
    const task: LoadTask = async ({ worker }) => {
      inFlight++;
      observedMax = Math.max(observedMax, inFlight);
      workersSeen.add(worker);
      await sleep(5);
      inFlight--;
      return { ok: true, status: 201 };
    };
    const result = await runLoad({
      concurrency: 4,
      maxTasks: 40,
      maxDurationMs: 10_000,
      taskTimeoutMs: 1000,
      task,
    });
    expect(observedMax).toBe(4);
    expect(result.maxInFlight).toBe(4);
    expect([...workersSeen].sort()).toEqual([0, 1, 2, 3]);
    expect(result.started).toBe(40);
    expect(result.succeeded).toBe(40);
    expect(result.statuses).toEqual({ '201': 40 });
    expect(result.stoppedBy).toBe('count');
  });

  it('stops at the count bound exactly', async () => {
    const indexes: number[] = [];
    const result = await runLoad({
      concurrency: 3,
      maxTasks: 10,
      maxDurationMs: 10_000,
      taskTimeoutMs: 1000,
      task: async ({ index }) => {
        indexes.push(index);
        await sleep(1);
        return { ok: true, status: 200, requests: 2, phases: { setup: index } };
      },
    });
    expect(indexes.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(result.started).toBe(10);
    expect(result.requests).toBe(20);
    expect(result.phases.setup?.count).toBe(10);
    expect(result.phases.setup?.max).toBe(9);
    expect(result.tasksPerS).toBeGreaterThan(0);
    expect(result.requestsPerS).toBeCloseTo(result.tasksPerS * 2, 6);
  });

  it('stops starting tasks at the time bound', async () => {
    const began = performance.now();
    const result = await runLoad({
      concurrency: 2,
      maxTasks: 1_000_000,
      maxDurationMs: 200,
      taskTimeoutMs: 1000,
      task: async () => {
        await sleep(20);
        return { ok: true, status: 200 };
      },
    });
    const elapsed = performance.now() - began;
    expect(result.stoppedBy).toBe('time');
    // Two workers, 20 ms tasks, 200 ms: about 20 tasks, far below the count bound.
    expect(result.started).toBeGreaterThan(5);
    expect(result.started).toBeLessThan(40);
    // The last tasks started before the deadline and finish within one task time of it.
    expect(elapsed).toBeLessThan(200 + 20 + 150);
  });

  it('uses the injected clock for the time bound', async () => {
    let clock = 0;
    const result = await runLoad({
      concurrency: 1,
      maxTasks: 100,
      maxDurationMs: 50,
      taskTimeoutMs: 1000,
      now: () => clock,
      task: () => {
        clock += 10;
        return Promise.resolve({ ok: true, status: 200 });
      },
    });
    expect(result.started).toBe(5);
    expect(result.elapsedMs).toBe(50);
    expect(result.tasksPerS).toBe(100);
    expect(result.latency.p50).toBe(10);
  });

  it('abandons a task that outlives its timeout and counts it, and counts errors by status', async () => {
    let aborted = 0;
    const began = performance.now();
    const result = await runLoad({
      concurrency: 2,
      maxTasks: 6,
      maxDurationMs: 10_000,
      taskTimeoutMs: 100,
      task: async ({ index, signal }) => {
        signal.addEventListener('abort', () => aborted++);
        if (index === 0) {
          // Ignores its signal and would hang for a long time.
          await sleep(2000);
          return { ok: true, status: 201 };
        }
        if (index === 1) throw new LoadTaskError(409, 'not live');
        if (index === 2) throw new Error('boom');
        if (index === 3) return { ok: false, status: 'no-location' };
        return { ok: true, status: 201 };
      },
    });
    expect(performance.now() - began).toBeLessThan(1000);
    expect(aborted).toBe(1);
    expect(result.succeeded).toBe(2);
    expect(result.failed).toBe(4);
    expect(result.errors).toEqual({ timeout: 1, '409': 1, exception: 1, 'no-location': 1 });
    expect(result.statuses['201']).toBe(2);
    expect(result.errorMessages['409']).toBe('not live');
    expect(result.errorMessages.exception).toBe('boom');
    expect(result.errorMessages.timeout).toContain('100 ms');
    expect(result.latency.count).toBe(2);
    expect(formatCounts(result.errors)).toContain('409 x1');
    expect(formatCounts({})).toBe('none');
  });

  it('refuses unbounded or nonsensical options', async () => {
    const task: LoadTask = () => Promise.resolve({ ok: true, status: 200 });
    const base = { concurrency: 1, maxTasks: 1, maxDurationMs: 100, taskTimeoutMs: 100, task };
    await expect(runLoad({ ...base, concurrency: 0 })).rejects.toThrow(TypeError);
    await expect(runLoad({ ...base, maxTasks: Infinity })).rejects.toThrow(TypeError);
    await expect(runLoad({ ...base, maxDurationMs: Infinity })).rejects.toThrow(TypeError);
    await expect(runLoad({ ...base, taskTimeoutMs: 0 })).rejects.toThrow(TypeError);
  });
});

describe('assertLoopback', () => {
  it('accepts loopback URLs only', () => {
    expect(assertLoopback('http://127.0.0.1:8080/whip').port).toBe('8080');
    expect(() => assertLoopback('http://localhost/whip')).not.toThrow();
    expect(() => assertLoopback('https://example.com/whip')).toThrow(TypeError);
    expect(() => assertLoopback('http://10.0.0.1/whip')).toThrow(TypeError);
  });
});
