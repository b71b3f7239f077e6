/**
 * The time-to-first-frame benchmark in its smoke size against a real platform: every metric
 * present and finite, timings positive. Nothing about how fast.
 */
import { describe, expect, it } from 'vitest';
import { runTtffScenario } from '../../src/swarm/index.ts';

describe('runTtffScenario (smoke)', () => {
  it('times WHEP joins to the first decoded frame and to the first packet', async () => {
    const result = await runTtffScenario({ size: 'smoke', progress: () => {} });
    const metrics = new Map(result.metrics.map((m) => [m.key, m.value]));
    for (const key of [
      'ttff.p50_ms',
      'ttff.p95_ms',
      'ttff.min_ms',
      'ttff.max_ms',
      'ttff.first_packet_p50_ms',
    ]) {
      expect(metrics.get(key), key).toBeGreaterThan(0);
    }
    for (const metric of result.metrics) {
      expect(Number.isFinite(metric.value), `${metric.key} = ${metric.value}`).toBe(true);
    }
    expect(metrics.get('ttff.min_ms')).toBeLessThanOrEqual(metrics.get('ttff.p50_ms')!);
    expect(metrics.get('ttff.p50_ms')).toBeLessThanOrEqual(metrics.get('ttff.max_ms')!);
    // Five decoded-frame joins and five packet joins.
    expect(result.tables[0].rows).toHaveLength(10);
  }, 120_000);
});
