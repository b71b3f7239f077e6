/**
 * The fan-out capacity benchmark in its smoke size, against a real platform: it must produce
 * every metric as a finite number. Nothing here judges speed; thresholds do that elsewhere.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { runCapacityScenario } from '../../src/capacity/index.ts';

function ffmpegChildren(): string {
  try {
    return execFileSync('pgrep', ['-P', String(process.pid), 'ffmpeg'], { encoding: 'utf8' });
  } catch {
    // pgrep exits 1 when nothing matches.
    return '';
  }
}

describe('runCapacityScenario (smoke)', () => {
  it('reports CPU per viewer, viewers per core, the stable maximum and the ingress', async () => {
    const lines: string[] = [];
    const result = await runCapacityScenario({
      size: 'smoke',
      progress: (line) => lines.push(line),
    });
    const metrics = new Map(result.metrics.map((m) => [m.key, m.value]));
    for (const key of [
      'capacity.cpu_per_viewer_pct',
      'capacity.viewers_per_core',
      'capacity.max_stable_viewers',
      'capacity.ingress_kbps',
    ]) {
      expect(Number.isFinite(metrics.get(key)), `${key} = ${metrics.get(key)}`).toBe(true);
    }
    for (const metric of result.metrics) {
      expect(Number.isFinite(metric.value), `${metric.key} = ${metric.value}`).toBe(true);
    }
    expect(metrics.get('capacity.cpu_per_viewer_pct')).toBeGreaterThan(0);
    expect(metrics.get('capacity.viewers_per_core')).toBeGreaterThan(0);
    expect(metrics.get('capacity.ingress_kbps')).toBeGreaterThan(0);
    expect(metrics.get('capacity.max_stable_viewers')).toBeGreaterThanOrEqual(0);

    const [table] = result.tables;
    expect(table.rows.map((row) => row[0])).toEqual([0, 5, 10].slice(0, table.rows.length));
    expect(table.rows.length).toBeGreaterThanOrEqual(2);
    expect(result.notes.length).toBeGreaterThan(0);
    expect(lines.length).toBeGreaterThan(0);
    expect(ffmpegChildren()).toBe('');
  }, 120_000);
});
