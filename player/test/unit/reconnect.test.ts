import { describe, expect, it } from 'vitest';
import {
  BackoffReconnectPolicy,
  DEFAULT_TIMINGS,
  jittered,
  retryAfterDelayMs,
} from '../../src/web/core/reconnect.ts';
import { DEFAULT_RECONNECT_POLICY } from '../../src/web/core/Player.ts';

const context = (retryCount: number, elapsedMs = 0) => ({ retryCount, elapsedMs });

describe('BackoffReconnectPolicy (LiveKit ReconnectPolicy shape)', () => {
  it('doubles from the initial delay up to the cap (jitter at its midpoint)', () => {
    const policy = new BackoffReconnectPolicy({ random: () => 0.5 });
    expect([0, 1, 2, 3, 4, 5, 10].map((n) => policy.nextRetryDelayInMs(context(n)))).toEqual([
      500, 1000, 2000, 4000, 8000, 10_000, 10_000,
    ]);
  });

  it('spreads each delay over ±jitter, so players that failed together retry apart', () => {
    const low = new BackoffReconnectPolicy({ random: () => 0 });
    const high = new BackoffReconnectPolicy({ random: () => 1 });
    expect(low.nextRetryDelayInMs(context(0))).toBe(250);
    expect(high.nextRetryDelayInMs(context(0))).toBe(750);
    // A thousand players with Math.random: the first retries spread over the whole window.
    const delays = Array.from({ length: 1000 }, () =>
      DEFAULT_RECONNECT_POLICY.nextRetryDelayInMs(context(0)),
    ) as number[];
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(250);
    expect(Math.max(...delays)).toBeLessThanOrEqual(750);
    const perBucket = new Map<number, number>();
    for (const d of delays)
      perBucket.set(Math.floor(d / 100), (perBucket.get(Math.floor(d / 100)) ?? 0) + 1);
    // No 100 ms slot takes more than a third of them (a burst would put all in one).
    expect(Math.max(...perBucket.values())).toBeLessThan(350);
  });

  it('stops (null) after maxRetries or maxElapsedMs; by default never', () => {
    const policy = new BackoffReconnectPolicy({ maxRetries: 3, maxElapsedMs: 60_000 });
    expect(policy.nextRetryDelayInMs(context(2))).not.toBeNull();
    expect(policy.nextRetryDelayInMs(context(3))).toBeNull();
    expect(policy.nextRetryDelayInMs(context(0, 60_000))).toBeNull();
    expect(DEFAULT_RECONNECT_POLICY.nextRetryDelayInMs(context(10_000, 86_400_000))).not.toBeNull();
  });

  it('refuses nonsense', () => {
    expect(() => new BackoffReconnectPolicy({ initialDelayMs: 100, maxDelayMs: 50 })).toThrow(
      TypeError,
    );
    expect(() => new BackoffReconnectPolicy({ factor: 0.5 })).toThrow(TypeError);
  });

  it('jittered stays within its bounds', () => {
    expect(jittered(1000, 0.2, () => 0)).toBe(800);
    expect(jittered(1000, 0.2, () => 1)).toBeCloseTo(1200);
    expect(jittered(1000, 0, () => 0.9)).toBe(1000);
  });
});

describe('retryAfterDelayMs', () => {
  it('never earlier than the server asked, clamped, with a default, spread upwards', () => {
    const zero = () => 0;
    expect(retryAfterDelayMs(3, DEFAULT_TIMINGS, 0.2, zero)).toBe(3000);
    expect(retryAfterDelayMs(3, DEFAULT_TIMINGS, 0.2, () => 1)).toBe(3600);
    expect(retryAfterDelayMs(0, DEFAULT_TIMINGS, 0.2, zero)).toBe(1000);
    expect(retryAfterDelayMs(3600, DEFAULT_TIMINGS, 0.2, zero)).toBe(60_000);
    expect(retryAfterDelayMs(undefined, DEFAULT_TIMINGS, 0.2, zero)).toBe(2000);
  });
});
