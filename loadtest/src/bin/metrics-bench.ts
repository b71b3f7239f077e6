/**
 * `npm run bench:metrics [-- --rounds N --seconds S --concurrency C --scrape-ms MS]`: what
 * Prometheus metrics cost on the session setup rate, measured side by side in one run.
 *
 * Two platforms run at once, each its own `server/src/main.ts` process on loopback (one
 * with `METRICS=on`, one with `METRICS=off`: no /metrics route, no middleware, nothing
 * collected), so process-wide costs (prom-client's default collectors) land only on the one
 * that has them. Rounds alternate between them (on/off, then off/on, ...) so drift on this
 * machine (other work, thermal) falls on both alike. Each round runs the HTTP-only session
 * load of the signalling benchmark for S seconds at C concurrent clients: WHEP (POST a
 * recvonly offer -> 201, DELETE -> 200, on a live stream that already has a viewer) and
 * WHIP (POST an offer with a key -> 201, DELETE). While a metrics-on round runs, /metrics
 * is scraped every MS ms (default 5000, `0`: never), as a Prometheus server would.
 *
 * Prints each round, then the medians, their on/off ratio and the median of the per-round
 * ratios (each round's on and off runs are back to back, so drift cancels best there).
 * Writes nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort } from '@wisp/server';
import { sdpFixture } from '../../../server/test/support/fixtures.ts';
import { percentile } from '../signalling/latencyStats.ts';
import { formatCounts, type LoadResult } from '../signalling/loadDriver.ts';
import { openHttpOnlySession, runWhepLoad, runWhipLoad } from '../signalling/sessionLoad.ts';
import {
  WHEP_OFFER_FIXTURE,
  WHEP_SOURCE_FIXTURE,
  WHIP_OFFER_FIXTURE,
} from '../signalling/runSignallingScenario.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '6' },
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '4' },
    'scrape-ms': { type: 'string', default: '5000' },
    workers: { type: 'string', default: '1' },
  },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const scrapeMs = Number(values['scrape-ms']);
const workers = values.workers;
for (const [name, value] of Object.entries({ rounds, seconds, concurrency })) {
  if (!Number.isInteger(value) || value < 1) throw new TypeError(`--${name} must be >= 1`);
}

const MAIN = fileURLToPath(new URL('../../../server/src/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const ADMIN_TOKEN = 'metrics-bench-admin';
const limits = {
  maxTasks: 1_000_000,
  maxDurationMs: seconds * 1000,
  taskTimeoutMs: 10_000,
  warmupTasks: 20,
};

type Mode = 'on' | 'off';

interface BenchPlatform {
  mode: Mode;
  url: string;
  whepUrl: string;
  whipUrl: string;
  streamKey: string;
  whipKeys: string[];
  stop(): Promise<void>;
}

async function api(url: string, pathname: string, body: unknown): Promise<unknown> {
  const response = await fetch(`${url}${pathname}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (response.status !== 201) throw new Error(`${pathname}: ${response.status}`);
  return response.json();
}

/** One platform process on a free loopback port, with its streams; ready when it answers. */
async function startPlatform(mode: Mode): Promise<BenchPlatform> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dataDir = await mkdtemp(path.join(tmpdir(), `wisp-metrics-bench-${mode}-`));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: url,
      ADMIN_TOKEN,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      RTC_PORT: '0',
      RTC_LISTEN_IP: '127.0.0.1',
      MEDIASOUP_WORKERS: workers,
      RECORDINGS: 'off',
      METRICS: mode,
      // HTTP-only sessions never connect ICE: keep the publisher and anchor for the whole run.
      SESSION_CONNECT_TIMEOUT_MS: String(3_600_000),
    },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    await exited;
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 60_000;
    while ((await fetch(`${url}/healthz`).catch(() => undefined))?.status !== 200) {
      if (child.exitCode !== null) throw new Error(`platform (metrics ${mode}) exited`);
      if (Date.now() > deadline) throw new Error(`platform (metrics ${mode}) did not start`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const stream = (await api(url, '/api/streams', { name: 'whep bench' })) as {
      whipUrl: string;
      whepUrl: string;
      streamKey: string;
    };
    // The stream the WHEP sessions watch, live from the 201 on, and one viewer that stays,
    // so every measured session joins an already watched stream.
    await openHttpOnlySession(
      stream.whipUrl,
      sdpFixture(WHEP_SOURCE_FIXTURE),
      stream.streamKey,
      10_000,
      'WHIP publish',
    );
    await openHttpOnlySession(
      stream.whepUrl,
      sdpFixture(WHEP_OFFER_FIXTURE),
      undefined,
      10_000,
      'WHEP anchor',
    );
    // One stream per WHIP client, so concurrent sessions never take each other's stream over.
    const whipKeys: string[] = [];
    for (let i = 0; i < concurrency; i++) {
      const s = (await api(url, '/api/streams', { name: `whip bench ${i}` })) as {
        streamKey: string;
      };
      whipKeys.push(s.streamKey);
    }
    return { mode, url, ...stream, whipKeys, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Scrapes /metrics every `scrapeMs` while `run` runs (a Prometheus server's load). */
async function whileScraped<T>(platform: BenchPlatform, run: () => Promise<T>): Promise<T> {
  if (platform.mode === 'off' || scrapeMs <= 0) return run();
  let scrapes = 0;
  const timer = setInterval(() => {
    void fetch(`${platform.url}/metrics`)
      .then(async (response) => {
        if (response.status !== 200) throw new Error(`/metrics: ${response.status}`);
        await response.text();
        scrapes++;
      })
      .catch((error: unknown) => process.stderr.write(`scrape failed: ${String(error)}\n`));
  }, scrapeMs);
  try {
    return await run();
  } finally {
    clearInterval(timer);
    if (scrapes === 0 && seconds * 1000 >= scrapeMs) {
      process.stderr.write('warning: no /metrics scrape completed during the round\n');
    }
  }
}

type Kind = 'WHEP' | 'WHIP';

function runKind(kind: Kind, platform: BenchPlatform): Promise<LoadResult> {
  return whileScraped(platform, () =>
    kind === 'WHEP'
      ? runWhepLoad({
          whepUrl: platform.whepUrl,
          offerSdp: sdpFixture(WHEP_OFFER_FIXTURE),
          concurrency,
          limits,
        })
      : runWhipLoad({
          whipUrl: platform.whipUrl,
          streamKeys: platform.whipKeys,
          offerSdp: sdpFixture(WHIP_OFFER_FIXTURE),
          concurrency,
          limits,
        }),
  );
}

const median = (xs: number[]) => percentile(xs, 50);
const fmt = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');

const platforms: Record<Mode, BenchPlatform> = {
  on: await startPlatform('on'),
  off: await startPlatform('off'),
};
const results: Record<Kind, Record<Mode, LoadResult[]>> = {
  WHEP: { on: [], off: [] },
  WHIP: { on: [], off: [] },
};
process.stderr.write(
  `metrics overhead: ${rounds} rounds x ${seconds} s per kind and mode, concurrency ` +
    `${concurrency}, ${workers} mediasoup worker(s) per platform, ` +
    `scrape every ${scrapeMs > 0 ? `${scrapeMs} ms` : 'never'} while metrics are on\n`,
);
try {
  for (let round = 1; round <= rounds; round++) {
    const order: Mode[] = round % 2 === 1 ? ['on', 'off'] : ['off', 'on'];
    for (const kind of ['WHEP', 'WHIP'] as const) {
      for (const mode of order) {
        const result = await runKind(kind, platforms[mode]);
        results[kind][mode].push(result);
        process.stderr.write(
          `round ${round} ${kind} metrics ${mode.padEnd(3)}: ${result.succeeded} setups, ` +
            `${fmt(result.tasksPerS)}/s, setup p50 ${fmt(result.phases.setup?.p50 ?? NaN)} ms ` +
            `p95 ${fmt(result.phases.setup?.p95 ?? NaN)} ms, errors ${formatCounts(result.errors)}\n`,
        );
      }
    }
  }
} finally {
  await Promise.all(Object.values(platforms).map((p) => p.stop()));
}

const rows: string[] = [];
for (const kind of ['WHEP', 'WHIP'] as const) {
  const rate = (mode: Mode) => median(results[kind][mode].map((r) => r.tasksPerS));
  const p50 = (mode: Mode) => median(results[kind][mode].map((r) => r.phases.setup?.p50 ?? NaN));
  const p95 = (mode: Mode) => median(results[kind][mode].map((r) => r.phases.setup?.p95 ?? NaN));
  const spread = (mode: Mode) => {
    const rates = results[kind][mode].map((r) => r.tasksPerS);
    return `${fmt(Math.min(...rates))}-${fmt(Math.max(...rates))}`;
  };
  const errors = (mode: Mode) => results[kind][mode].reduce((n, r) => n + r.failed, 0);
  // Each round's on and off runs are back to back: their ratio is the least drift-prone.
  const paired = results[kind].on.map((on, i) => on.tasksPerS / results[kind].off[i].tasksPerS);
  rows.push(
    `| ${kind} setups/s, per-round on/off | | | ${fmt(median(paired), 3)} ` +
      `(${fmt(Math.min(...paired), 2)}-${fmt(Math.max(...paired), 2)}) |`,
    `| ${kind} setups/s | ${fmt(rate('on'))} (${spread('on')}) | ` +
      `${fmt(rate('off'))} (${spread('off')}) | ${fmt(rate('on') / rate('off'), 3)} |`,
    `| ${kind} setup p50 ms | ${fmt(p50('on'), 2)} | ${fmt(p50('off'), 2)} | ` +
      `${fmt(p50('on') / p50('off'), 3)} |`,
    `| ${kind} setup p95 ms | ${fmt(p95('on'), 2)} | ${fmt(p95('off'), 2)} | ` +
      `${fmt(p95('on') / p95('off'), 3)} |`,
    `| ${kind} failed sessions | ${errors('on')} | ${errors('off')} | |`,
  );
}
process.stdout.write(
  [
    `session setup with metrics on vs off: medians of ${rounds} alternating rounds of ` +
      `${seconds} s, concurrency ${concurrency}, loopback (min-max over rounds in brackets)`,
    '',
    '| | METRICS=on | METRICS=off | on/off |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n'),
);
