/**
 * The `latency` benchmark scenario: glass-to-glass latency measured side by side in one run
 * for each path a viewer can get its picture through, so the report shows what each hop adds.
 * It measures and reports; the runner's thresholds decide pass or fail.
 */
import { availableParallelism, loadavg } from 'node:os';
import type { BenchSize, Metric, Scenario, ScenarioResult, Table } from '../bench/types.ts';
import {
  LATENCY_PATHS,
  measureLatency,
  type LatencyMeasurement,
  type LatencyPath,
  type MeasureLatencyOptions,
} from './probe.ts';
import { histogram, summarize, type LatencySummary } from './stats.ts';

export type LatencySettings = Required<
  Pick<MeasureLatencyOptions, 'durationMs' | 'warmupMs' | 'width' | 'height' | 'fps'>
> & {
  /** Sessions per path, run round-robin over the paths; `durationMs` is per session. */
  sessions: number;
};

/** Per-size settings; every path of a run uses the same ones. */
export const LATENCY_SETTINGS: Record<BenchSize, LatencySettings> = {
  // Smoke only proves the chain (media flows, stamps decode, latency is not absurd), so its
  // warm-up is shorter than the time libwebrtc's playout delay needs to settle.
  smoke: { sessions: 1, durationMs: 3000, warmupMs: 1000, width: 640, height: 360, fps: 30 },
  // 4 sessions of 5 s: 20 s of frames per path.
  full: { sessions: 4, durationMs: 5000, warmupMs: 4000, width: 640, height: 360, fps: 30 },
};

/** Every session of one path, pooled. */
export interface LatencyPathResult {
  path: LatencyPath;
  sessions: LatencyMeasurement[];
  /** Errors of sessions that could not be measured. */
  failures: string[];
  /** Latencies of all sessions' frames, and their summary. */
  samples: number[];
  summary: LatencySummary;
  framesDecoded: number;
  framesSent: number;
  stampsRead: number;
  decodedRatio: number;
  windowMs: number;
}

function pool(
  path: LatencyPath,
  sessions: LatencyMeasurement[],
  failures: string[],
): LatencyPathResult {
  const samples = sessions.flatMap((m) => m.samples);
  const sum = (f: (m: LatencyMeasurement) => number): number =>
    sessions.reduce((total, m) => total + f(m), 0);
  const framesDecoded = sum((m) => m.framesDecoded);
  return {
    path,
    sessions,
    failures,
    samples,
    summary: summarize(samples),
    framesDecoded,
    framesSent: sum((m) => m.framesSent),
    stampsRead: samples.length,
    decodedRatio: framesDecoded === 0 ? Number.NaN : samples.length / framesDecoded,
    windowMs: sum((m) => m.windowMs),
  };
}

const PATH_LABELS: Record<LatencyPath, string> = {
  p2p: 'publisher -> viewer (direct, no server)',
  ingest: 'publisher -> ingest SFU -> viewer',
  edge: 'publisher -> ingest SFU -> edge SFU -> viewer',
};

/** The path whose median each path is compared with to get what its hop adds. */
const PREVIOUS: Partial<Record<LatencyPath, LatencyPath>> = { ingest: 'p2p', edge: 'ingest' };

function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function metricsOf(m: LatencyPathResult): Metric[] {
  const key = (name: string): string => `latency.${m.path}.${name}`;
  const label = (what: string): string => `${m.path}: ${what}`;
  return [
    {
      key: key('p50_ms'),
      label: label('glass-to-glass p50'),
      value: round(m.summary.p50),
      unit: 'ms',
    },
    {
      key: key('p95_ms'),
      label: label('glass-to-glass p95'),
      value: round(m.summary.p95),
      unit: 'ms',
    },
    {
      key: key('p99_ms'),
      label: label('glass-to-glass p99'),
      value: round(m.summary.p99),
      unit: 'ms',
    },
    {
      key: key('mean_ms'),
      label: label('glass-to-glass mean'),
      value: round(m.summary.mean),
      unit: 'ms',
    },
    {
      key: key('decoded_ratio'),
      label: label('share of decoded frames whose stamp was read'),
      value: round(m.decodedRatio, 4),
      unit: 'ratio',
    },
    { key: key('frames'), label: label('frames measured'), value: m.summary.count, unit: 'frames' },
  ];
}

function addedMetric(path: LatencyPath, results: Map<LatencyPath, LatencyPathResult>): Metric[] {
  const previous = PREVIOUS[path];
  const current = results.get(path);
  const base = previous && results.get(previous);
  if (!previous || !current || !base) return [];
  return [
    {
      key: `latency.${path}.added_p50_ms`,
      label: `${path}: p50 added over ${previous}`,
      value: round(current.summary.p50 - base.summary.p50),
      unit: 'ms',
    },
  ];
}

/** Counts per key summed over sessions, e.g. decoded sizes, as `key (count)` pairs. */
function tally(records: Record<string, number>[]): string {
  const total = new Map<string, number>();
  for (const record of records) {
    for (const [key, count] of Object.entries(record)) {
      total.set(key, (total.get(key) ?? 0) + count);
    }
  }
  return [...total].map(([key, count]) => `${key} (${count})`).join(', ');
}

function summaryTable(results: Map<LatencyPath, LatencyPathResult>): Table {
  const rows: (string | number)[][] = [];
  for (const [path, m] of results) {
    const previous = PREVIOUS[path];
    const base = previous && results.get(previous);
    rows.push([
      path,
      PATH_LABELS[path],
      m.sessions.length,
      m.summary.count,
      round(m.decodedRatio, 3),
      round(m.summary.min, 1),
      round(m.summary.p50, 1),
      round(m.summary.p95, 1),
      round(m.summary.p99, 1),
      round(m.summary.max, 1),
      round(m.summary.mean, 1),
      m.sessions.map((session) => session.summary.p50.toFixed(1)).join(', '),
      base ? round(m.summary.p50 - base.summary.p50, 1) : '',
      round((m.framesDecoded / m.windowMs) * 1000, 1),
      tally(m.sessions.map((session) => session.sizes)),
    ]);
  }
  return {
    title: 'Glass-to-glass latency by path (ms)',
    columns: [
      'path',
      'through',
      'sessions',
      'frames',
      'share of stamps read',
      'min',
      'p50',
      'p95',
      'p99',
      'max',
      'mean',
      'p50 of each session',
      'p50 added by the hop',
      'decoded fps',
      'decoded size (frames)',
    ],
    rows,
  };
}

function distributionTable(m: LatencyPathResult): Table {
  let cumulative = 0;
  const total = m.samples.length;
  return {
    title: `Latency distribution: ${m.path} (${PATH_LABELS[m.path]})`,
    columns: ['latency (ms)', 'frames', 'share', 'cumulative'],
    rows: histogram(m.samples).map((bucket) => {
      cumulative += bucket.count;
      return [
        `${bucket.from}-${bucket.to}`,
        bucket.count,
        `${((bucket.count / total) * 100).toFixed(1)}%`,
        `${((cumulative / total) * 100).toFixed(1)}%`,
      ];
    }),
  };
}

function notesFor(
  settings: LatencySettings,
  results: Map<LatencyPath, LatencyPathResult>,
  loads: number[],
): string[] {
  const notes = [
    'Method: a libwebrtc publisher draws its capture time (performance.now(), 40 bits of ' +
      'microseconds plus a CRC-16) into the top of every raw frame as 16x4 large black and ' +
      'white cells; a libwebrtc viewer reads the stamp back from every decoded frame. Publisher ' +
      'and viewer run in the same process, so both ends read the same clock and no clock ' +
      'synchronisation error enters the numbers.',
    'Glass-to-glass here is: raw frame handed to the encoder -> VP8 encode and packetisation ' +
      '-> pacing and the network (loopback) with any SFU hops -> receive jitter buffer and ' +
      'playout timing -> VP8 decode -> decoded-frame callback on the JavaScript thread. It ' +
      'excludes camera capture and display (the frames are synthetic and are never shown), ' +
      'so a real camera-to-screen latency is this plus capture and render times.',
    `Every path used the same settings on the same machine in this run: ` +
      `${settings.width}x${settings.height} at ${settings.fps} fps, VP8, video only (no audio, ` +
      `so no lip-sync delay). Each path was measured in ${settings.sessions} session(s), run ` +
      `round-robin over the paths (p2p, ingest, edge, p2p, ...); each session has fresh peers ` +
      `(and a fresh in-process platform with 2 mediasoup workers for the server paths), skips ` +
      `a ${settings.warmupMs / 1000} s warm-up after its first decoded frame and then measures ` +
      `${settings.durationMs / 1000} s. Percentiles pool every frame of a path's sessions.`,
    'Why sessions: the playout delay libwebrtc settles on differs by a few ms from one ' +
      'connection to the next (see "p50 of each session"), which is more than an SFU hop adds ' +
      'on loopback; a single session per path would mostly measure that. Read an added p50 ' +
      'smaller than the spread of the session p50s (or a negative one) as "within noise", not ' +
      'as free.',
    'Paths: p2p connects the publisher straight to the viewer (the floor: everything but the ' +
      'server); ingest serves the viewer from the ingest router (EDGE_SERVE_FROM_SOURCE=true, ' +
      'one SFU hop); edge pipes the stream to a fan-out router on another mediasoup worker, as ' +
      'an edge does (two SFU hops). The edge hop is a pipe transport over loopback inside one ' +
      'machine, not a network link to another host.',
    'The relay tier (edges feeding edges) is not built yet (cascade issue), so there is no ' +
      'ingest + edge + relay path to measure; it will be a fourth row once relays exist.',
    'The publisher, the viewer and the SFU workers share the CPUs, so CPU contention is part ' +
      'of every number, and so is the JavaScript event loop that delivers decoded frames. ' +
      `Load average (1 min) before each round: ${loads.map((l) => l.toFixed(2)).join(', ')} ` +
      `on ${availableParallelism()} CPUs; other processes on the machine slow all paths of a ` +
      'round alike but make rounds differ.',
  ];
  for (const m of results.values()) {
    const topologies = [...new Set(m.sessions.map((session) => session.topology))].join(' / ');
    const unreadable = tally(m.sessions.map((session) => session.unreadable));
    const margin = Math.min(...m.sessions.map((session) => session.minMargin));
    const parts = [
      `${m.path}: ${topologies || 'no session measured'}`,
      `${m.framesSent} frames sent and ${m.framesDecoded} decoded in the measured windows`,
      unreadable ? `unreadable stamps: ${unreadable}` : 'every stamp was read',
    ];
    if (m.sessions.length > 0) {
      parts.push(`smallest stamp read margin ${round(margin, 2)} (0.5 is a clean picture)`);
    }
    for (const failure of m.failures) parts.push(`a session failed: ${failure}`);
    notes.push(`${parts.join('; ')}.`);
  }
  return notes;
}

/**
 * Runs the three paths round-robin, `sessions` times each, and reports them side by side. A
 * session that fails is noted and the run goes on: a path without any measured session has
 * no metrics, which the runner's required-metric check reports.
 */
export const runLatencyScenario: Scenario = async (context) => {
  const settings = LATENCY_SETTINGS[context.size];
  const { sessions, ...measureSettings } = settings;
  const measured = new Map<LatencyPath, LatencyMeasurement[]>(LATENCY_PATHS.map((p) => [p, []]));
  const failures = new Map<LatencyPath, string[]>(LATENCY_PATHS.map((p) => [p, []]));
  const loads: number[] = [];
  for (let session = 1; session <= sessions; session++) {
    loads.push(loadavg()[0]);
    for (const path of LATENCY_PATHS) {
      const progress = (message: string): void =>
        context.progress(sessions > 1 ? `session ${session}/${sessions}: ${message}` : message);
      try {
        measured.get(path)!.push(await measureLatency({ ...measureSettings, path, progress }));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        failures.get(path)!.push(message);
        progress(`${path}: failed: ${message}`);
      }
    }
  }
  const all = LATENCY_PATHS.map((path) => pool(path, measured.get(path)!, failures.get(path)!));
  const results = new Map(all.filter((r) => r.sessions.length > 0).map((r) => [r.path, r]));
  if (results.size === 0) {
    const errors = all.flatMap((r) => r.failures.map((f) => `${r.path}: ${f}`));
    throw new Error(`No latency path could be measured: ${errors.join('; ')}`);
  }
  const result: ScenarioResult = {
    scenario: 'latency',
    metrics: [...results.values()].flatMap((m) => [
      ...metricsOf(m),
      ...addedMetric(m.path, results),
    ]),
    tables: [summaryTable(results), ...[...results.values()].map(distributionTable)],
    notes: notesFor(settings, new Map(all.map((r) => [r.path, r])), loads),
  };
  return result;
};
