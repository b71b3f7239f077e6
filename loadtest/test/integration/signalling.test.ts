/**
 * The signalling benchmark end to end at smoke size: it starts its own platform (real
 * mediasoup workers on 127.0.0.1), drives WHIP, WHEP and API load, connects real NdcViewers,
 * and must come back with every metric present, finite and positive, and no failed session.
 * The numbers themselves are not judged here: that is loadtest/thresholds.json's job.
 */
import { describe, expect, it } from 'vitest';
import { runSignallingScenario } from '../../src/signalling/index.ts';

const EXPECTED_KEYS = [
  'signalling.whip.setups_per_s',
  'signalling.whip.p50_ms',
  'signalling.whip.p95_ms',
  'signalling.whip.c1.setups_per_s',
  'signalling.whip.c4.setups_per_s',
  'signalling.whip.c16.setups_per_s',
  'signalling.whip.c16.p95_ms',
  'signalling.whep.setups_per_s',
  'signalling.whep.p50_ms',
  'signalling.whep.p95_ms',
  'signalling.whep.c16.setups_per_s',
  'signalling.whep.c16.p95_ms',
  'signalling.api.req_per_s',
  'signalling.api.c16.req_per_s',
  'signalling.api.lifecycle.p50_ms',
  'signalling.api.create.p50_ms',
  'signalling.api.rotate.p95_ms',
  'signalling.whep_ice.post_p50_ms',
  'signalling.whep_ice.connect_p50_ms',
  'signalling.whep_ice.connect_p95_ms',
  'signalling.whep_ice.first_rtp_p50_ms',
  'signalling.whep_ice.setups_per_s',
  'signalling.whep_ice.c4.connect_p50_ms',
  'signalling.whep_ice.c4.setups_per_s',
];

describe('runSignallingScenario (smoke)', () => {
  it('returns every metric, finite and positive, with no failed session', async () => {
    const progress: string[] = [];
    const began = Date.now();
    const result = await runSignallingScenario({
      size: 'smoke',
      progress: (message) => progress.push(message),
    });
    const elapsed = Date.now() - began;

    expect(result.scenario).toBe('signalling');
    // A part that could not run says so in a note; show it in the failure message.
    const failures = result.notes.filter((note) => note.includes('could not run'));
    expect(failures).toEqual([]);

    const keys = result.metrics.map((m) => m.key);
    expect(new Set(keys).size).toBe(keys.length);
    for (const key of EXPECTED_KEYS) expect(keys, key).toContain(key);
    for (const metric of result.metrics) {
      expect(Number.isFinite(metric.value), metric.key).toBe(true);
      expect(metric.value, metric.key).toBeGreaterThan(0);
      expect(metric.unit, metric.key).not.toBe('');
      expect(metric.label, metric.key).not.toBe('');
    }

    // Every level of every part is in a table, and none had errors.
    expect(result.tables.length).toBe(5);
    for (const table of result.tables) {
      expect(table.rows.length, table.title).toBeGreaterThan(0);
      const errorColumn = table.columns.indexOf('errors');
      if (errorColumn < 0) continue;
      for (const row of table.rows) expect(row[errorColumn], table.title).toBe('none');
    }
    const concurrencies = (title: string) =>
      result.tables.find((t) => t.title.startsWith(title))?.rows.map((row) => row[0]);
    expect(concurrencies('WHIP')).toEqual([1, 4, 16]);
    expect(concurrencies('WHEP session')).toEqual([1, 4, 16]);
    expect(concurrencies('WHEP with ICE')).toEqual([1, 4]);

    expect(result.notes.some((note) => note.includes('HTTP-only'))).toBe(true);
    expect(progress.length).toBeGreaterThan(0);
    // Smoke size is a few seconds of load plus start-up and shutdown.
    expect(elapsed).toBeLessThan(45_000);
  });
});
