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
 * First, the metrics code alone: CPU per request of a Hono app wired like the Platform's
 * (onError, request ids, CORS, a session route), with and without the Metrics middleware,
 * in this process, alternating rounds. That is the overhead per session POST with nothing
 * else around it, the number the platform rounds below are too noisy to resolve on a
 * shared machine.
 *
 * Besides the rates (wall-clock: they move with whatever else the machine runs), each round
 * reads the CPU time the platform spent (/proc: its Node process, where the metrics code
 * runs, and its mediasoup workers) per session set up, which other load disturbs far less.
 * `--aa` runs the same with both platforms at METRICS=off: how far two identical platforms
 * come apart here, the noise floor of the comparison.
 * Prints each round, then the medians, their on/off ratio and the median of the per-round
 * ratios (each round's on and off runs are back to back, so drift cancels best there).
 * Writes nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Hono } from 'hono';
import { Metrics, cors, onError, requestLogging } from '@wisp/core';
import { freePort } from '@wisp/server';
import { sdpFixture } from '../../../server/test/support/fixtures.ts';
import { readProcessCpuMs } from '../capacity/procStat.ts';
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
    // A/A control: both platforms with METRICS=off, to see how far apart two identical
    // platforms come out on this machine (the noise floor of the comparison).
    aa: { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const scrapeMs = Number(values['scrape-ms']);
const workers = values.workers;
const aa = values.aa;
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
  /** The platform's Node process and its mediasoup workers. */
  pids: { node: number; workers: number[] };
  stop(): Promise<void>;
}

interface Round {
  load: LoadResult;
  /** CPU ms per session set up: the platform's Node process, its workers. */
  nodeCpuMs: number;
  workerCpuMs: number;
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
      METRICS: aa ? 'off' : mode,
      // The bench's own sessions, all from loopback, are not what it measures.
      RATE_LIMIT_EXEMPT: 'loopback',
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
    const health = (await (await fetch(`${url}/healthz`)).json()) as {
      workers: { pid: number }[];
    };
    const pids = { node: child.pid!, workers: health.workers.map((w) => w.pid) };
    return { mode, url, ...stream, whipKeys, pids, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Scrapes /metrics every `scrapeMs` while `run` runs (a Prometheus server's load). */
async function whileScraped<T>(platform: BenchPlatform, run: () => Promise<T>): Promise<T> {
  if (platform.mode === 'off' || aa || scrapeMs <= 0) return run();
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

async function cpuMs(pids: number[]): Promise<number> {
  const values = await Promise.all(pids.map((pid) => readProcessCpuMs(pid)));
  return values.reduce<number>((sum, v) => sum + (v ?? Number.NaN), 0);
}

async function runKind(kind: Kind, platform: BenchPlatform): Promise<Round> {
  const { node, workers: workerPids } = platform.pids;
  const before = { node: await cpuMs([node]), workers: await cpuMs(workerPids) };
  const load = await runLoad(kind, platform);
  const after = { node: await cpuMs([node]), workers: await cpuMs(workerPids) };
  const sessions = Math.max(1, load.succeeded);
  return {
    load,
    nodeCpuMs: (after.node - before.node) / sessions,
    workerCpuMs: (after.workers - before.workers) / sessions,
  };
}

function runLoad(kind: Kind, platform: BenchPlatform): Promise<LoadResult> {
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

/** The Platform's HTTP wiring around a trivial session route, with or without metrics. */
function wiredApp(metrics: Metrics | undefined): Hono {
  const app = new Hono();
  app.onError(onError);
  if (metrics) app.use('*', metrics.httpMiddleware());
  app.use('*', requestLogging());
  app.use('*', cors('*'));
  const whep = new Hono();
  whep.onError(onError);
  if (metrics) whep.post('/whep/:streamId', metrics.sessionMiddleware('view'));
  whep.post('/whep/:streamId', (c) => c.body('v=0\r\n', 201));
  app.route('/', whep);
  return app;
}

/** CPU microseconds per POST through `app` (in-process, no network), over `n` requests. */
async function cpuPerRequestUs(app: Hono, n: number): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const response = await app.request(`/whep/s${i % 100}`, { method: 'POST', body: 'v=0' });
    if (response.status !== 201) throw new Error(`status ${response.status}`);
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

const CODE_ROUNDS = 10;
const CODE_REQUESTS = 5000;
const codeApps: Record<Mode, Hono> = { on: wiredApp(new Metrics()), off: wiredApp(undefined) };
for (const app of Object.values(codeApps)) await cpuPerRequestUs(app, CODE_REQUESTS); // warm-up
const codeCost: Record<Mode, number[]> = { on: [], off: [] };
for (let round = 1; round <= CODE_ROUNDS; round++) {
  const order: Mode[] = round % 2 === 1 ? ['on', 'off'] : ['off', 'on'];
  for (const mode of order)
    codeCost[mode].push(await cpuPerRequestUs(codeApps[mode], CODE_REQUESTS));
}

const platforms: Record<Mode, BenchPlatform> = {
  on: await startPlatform('on'),
  off: await startPlatform('off'),
};
const results: Record<Kind, Record<Mode, Round[]>> = {
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
        const round_ = await runKind(kind, platforms[mode]);
        results[kind][mode].push(round_);
        const result = round_.load;
        process.stderr.write(
          `round ${round} ${kind} metrics ${mode.padEnd(3)}: ${result.succeeded} setups, ` +
            `${fmt(result.tasksPerS)}/s, setup p50 ${fmt(result.phases.setup?.p50 ?? NaN)} ms ` +
            `p95 ${fmt(result.phases.setup?.p95 ?? NaN)} ms, CPU/setup node ` +
            `${fmt(round_.nodeCpuMs, 2)} ms worker ${fmt(round_.workerCpuMs, 2)} ms, ` +
            `errors ${formatCounts(result.errors)}\n`,
        );
      }
    }
  }
} finally {
  await Promise.all(Object.values(platforms).map((p) => p.stop()));
}

const rows: string[] = [];
for (const kind of ['WHEP', 'WHIP'] as const) {
  const of = (mode: Mode, pick: (r: Round) => number) => results[kind][mode].map(pick);
  const rate = (r: Round) => r.load.tasksPerS;
  const p50 = (r: Round) => r.load.phases.setup?.p50 ?? Number.NaN;
  const p95 = (r: Round) => r.load.phases.setup?.p95 ?? Number.NaN;
  const nodeCpu = (r: Round) => r.nodeCpuMs;
  const workerCpu = (r: Round) => r.workerCpuMs;
  const range = (xs: number[], digits: number) =>
    `${fmt(Math.min(...xs), digits)}-${fmt(Math.max(...xs), digits)}`;
  /** Medians on and off, their ratio, and the median of the per-round ratios. */
  const row = (label: string, pick: (r: Round) => number, digits: number) => {
    const on = of('on', pick);
    const off = of('off', pick);
    const paired = on.map((x, i) => x / off[i]);
    return (
      `| ${kind} ${label} | ${fmt(median(on), digits)} (${range(on, digits)}) | ` +
      `${fmt(median(off), digits)} (${range(off, digits)}) | ` +
      `${fmt(median(on) / median(off), 3)} | ${fmt(median(paired), 3)} (${range(paired, 2)}) |`
    );
  };
  const failed = (mode: Mode) => results[kind][mode].reduce((n, r) => n + r.load.failed, 0);
  rows.push(
    row('setups/s', rate, 1),
    row('setup p50 ms', p50, 1),
    row('setup p95 ms', p95, 1),
    row('Node CPU ms/setup', nodeCpu, 3),
    row('worker CPU ms/setup', workerCpu, 3),
    `| ${kind} failed sessions | ${failed('on')} | ${failed('off')} | | |`,
  );
}
const codeOn = percentile(codeCost.on, 50);
const codeOff = percentile(codeCost.off, 50);
process.stdout.write(
  [
    `metrics code alone: CPU per session POST through the Platform's HTTP wiring, in process ` +
      `(median of ${CODE_ROUNDS} alternating rounds of ${CODE_REQUESTS} requests)`,
    '',
    '| METRICS=on | METRICS=off | added by metrics |',
    '|---|---|---|',
    `| ${fmt(codeOn, 1)} µs | ${fmt(codeOff, 1)} µs | ${fmt(codeOn - codeOff, 1)} µs |`,
    '',
    `session setup with metrics on vs off${aa ? ' (A/A CONTROL: both are METRICS=off)' : ''}: medians of ${rounds} alternating rounds of ` +
      `${seconds} s, concurrency ${concurrency}, loopback (min-max over rounds in brackets); ` +
      `load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    '',
    '| | METRICS=on | METRICS=off | on/off (medians) | on/off (median per round) |',
    '|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n'),
);
