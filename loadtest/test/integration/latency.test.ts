/**
 * The latency scenario end to end at smoke size: the direct path, and a real in-process
 * platform (real mediasoup workers on 127.0.0.1) served from the ingest router and through a
 * fan-out router. Only gross breakage fails it; the numbers themselves are the benchmark's.
 */
import { describe, expect, it } from 'vitest';
import { LATENCY_PATHS, runLatencyScenario } from '../../src/latency/index.ts';

describe('latency scenario (smoke)', () => {
  it('measures every path side by side and reports stable metric keys', async () => {
    const progress: string[] = [];
    const result = await runLatencyScenario({
      size: 'smoke',
      progress: (message) => progress.push(message),
    });
    expect(result.scenario).toBe('latency');
    const metrics = new Map(result.metrics.map((m) => [m.key, m.value]));
    const keys = [
      ...LATENCY_PATHS.flatMap((path) =>
        ['p50_ms', 'p95_ms', 'p99_ms', 'mean_ms', 'decoded_ratio', 'frames'].map(
          (name) => `latency.${path}.${name}`,
        ),
      ),
      'latency.ingest.added_p50_ms',
      'latency.edge.added_p50_ms',
    ];
    for (const key of keys) {
      expect(metrics.has(key), `${key} is reported`).toBe(true);
      expect(Number.isFinite(metrics.get(key)), `${key} is finite`).toBe(true);
    }
    for (const path of LATENCY_PATHS) {
      expect(metrics.get(`latency.${path}.decoded_ratio`)).toBeGreaterThan(0.5);
      expect(metrics.get(`latency.${path}.p50_ms`)).toBeGreaterThan(0);
      expect(metrics.get(`latency.${path}.p50_ms`)).toBeLessThan(1000);
    }
    // One summary table and one distribution per path; notes say how it was measured.
    expect(result.tables.map((t) => t.title)).toHaveLength(1 + LATENCY_PATHS.length);
    expect(result.tables[0].rows.map((row) => row[0])).toEqual([...LATENCY_PATHS]);
    expect(result.notes.join(' ')).toMatch(/same process/);
    expect(result.notes.join(' ')).toMatch(/relay tier .* not built yet/);
    // The server paths really had one and two routers (not just the same path twice).
    expect(result.notes.find((n) => n.startsWith('ingest:'))).toMatch(/^ingest: 1 router\(s\)/);
    expect(result.notes.find((n) => n.startsWith('edge:'))).toMatch(/^edge: 2 router\(s\) on 2/);
    expect(progress.length).toBeGreaterThan(0);
  }, 150_000);
});
