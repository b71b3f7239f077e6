/**
 * `npm run bench:webhooks`: what webhooks cost, on this machine, with the real platform in
 * this process and a real receiver on loopback that verifies every signature
 * (`standardwebhooks`).
 *
 * 1. Delivery latency, event to receiver (the event's `timestamp` to its arrival): key
 *    rotations through the API (paced, on several streams) and real publish/unpublish cycles
 *    (libwebrtc publisher) for stream.started/ended; with the embedded store and, when
 *    redis-server is installed, with Redis.
 * 2. Session setup rate with the integrations of issue 11 off and on, side by side in one
 *    run: three platforms started together — `off` (no webhooks, `RATE_LIMITS=off`),
 *    `limits` (rate limits only) and `on` (webhooks and rate limits) — each level measured
 *    off, limits, on, on, limits, off and averaged, so that the load of the other engineers
 *    on this machine hits all alike. HTTP-only WHIP setups (each one queues and delivers
 *    stream.started and stream.ended) and WHEP setups, reusing the signalling benchmark's
 *    load driver. The limits are on but far above the bench's own traffic (and loopback is
 *    not exempt): what is measured is the cost of checking them, not refusals.
 *
 * The receiver runs in its own process (bench/webhookReceiverProcess.ts), so verifying takes
 * nothing from the platform's CPU.
 *
 * Sends nothing but to 127.0.0.1; every loop is bounded. `--quick` for a smoke run.
 * Writes loadtest/reports/webhooks/latest.{json,md} and prints the Markdown.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WrtcPublisher } from '@wisp/loadtest';
import { startLocalPlatform, type LocalPlatform } from '../../../server/src/local.ts';
import { sdpFixture } from '../../../server/test/support/fixtures.ts';
import {
  startRedisServer,
  type RunningRedisServer,
} from '../../../core/test/support/redisServer.ts';
import { round, summarizeLatencies, type LatencySummary } from '../signalling/latencyStats.ts';
import { openHttpOnlySession, runWhepLoad, runWhipLoad } from '../signalling/sessionLoad.ts';
import {
  WHEP_OFFER_FIXTURE,
  WHEP_SOURCE_FIXTURE,
  WHIP_OFFER_FIXTURE,
} from '../signalling/runSignallingScenario.ts';

const { values } = parseArgs({ options: { quick: { type: 'boolean' } } });
const quick = values.quick ?? false;
const ROTATIONS = quick ? 20 : 200;
const PUBLISHES = quick ? 2 : 10;
const LEVEL = {
  maxTasks: 100_000,
  maxDurationMs: quick ? 1000 : 5000,
  taskTimeoutMs: 10_000,
  warmupTasks: quick ? 4 : 20,
};
const CONCURRENCY = [1, 4];
const SECRET = `whsec_${Buffer.from('wisp webhook bench secret 32 by').toString('base64')}`;
const REPORTS = fileURLToPath(new URL('../../reports/webhooks/', import.meta.url));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (line: string) => process.stderr.write(`${line}\n`);

/** The receiver process: its URL and the requests it reported. */
class Receiver {
  readonly arrivals: { id: string; type: string; timestamp: string; at: number }[] = [];
  readonly url: string;
  readonly #child: ChildProcess;

  private constructor(child: ChildProcess, url: string) {
    this.#child = child;
    this.url = url;
  }

  static async start(): Promise<Receiver> {
    const script = fileURLToPath(new URL('../bench/webhookReceiverProcess.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, SECRET], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout });
    let receiver: Receiver | undefined;
    return new Promise((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`receiver exited (${code})`)));
      lines.on('line', (line) => {
        const message = JSON.parse(line) as {
          url?: string;
          verified?: boolean;
        } & Receiver['arrivals'][number];
        if (message.url) {
          receiver = new Receiver(child, message.url);
          resolve(receiver);
        } else if (message.verified) receiver?.arrivals.push(message);
      });
    });
  }

  /** First arrival of each event id. */
  events(): Receiver['arrivals'] {
    const seen = new Set<string>();
    return this.arrivals.filter((a) => !seen.has(a.id) && seen.add(a.id));
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    this.#child.removeAllListeners('exit');
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.kill('SIGTERM');
    await exited;
  }
}

interface LatencyRow {
  store: string;
  type: string;
  summary: LatencySummary;
}

/** `off`: no integrations; `limits`: rate limits only; `on`: webhooks and rate limits. */
type Mode = 'off' | 'limits' | 'on';
const MODES: readonly Mode[] = ['off', 'limits', 'on'];

interface RateRow {
  store: string;
  mode: Mode;
  protocol: 'WHIP' | 'WHEP';
  concurrency: number;
  setupsPerS: number;
  p50: number;
  p95: number;
  errors: number;
  /** Webhook deliveries still pending when the level ended. */
  backlog?: number;
}

/** Rate limits on for every class, far above what the bench sends (nobody exempt). */
const HIGH_LIMITS: Record<string, string> = Object.fromEntries([
  ['RATE_LIMITS', 'on'],
  ['RATE_LIMIT_EXEMPT', ''],
  ...['WHIP', 'WHEP', 'SESSION', 'API', 'ADMIN', 'ADMIN_AUTH'].flatMap((c) => [
    [`RATE_LIMIT_${c}_RATE`, '1000000'],
    [`RATE_LIMIT_${c}_BURST`, '1000000'],
  ]),
]);

function platformEnv(store: Record<string, string>, receiver?: Receiver, limits = false) {
  return {
    MEDIASOUP_WORKERS: '1',
    ...store,
    ...(limits ? HIGH_LIMITS : { RATE_LIMITS: 'off' }),
    ...(receiver ? { WEBHOOK_URLS: receiver.url, WEBHOOK_SECRET: SECRET } : {}),
  };
}

async function latency(storeName: string, store: Record<string, string>): Promise<LatencyRow[]> {
  const receiver = await Receiver.start();
  const t = await startLocalPlatform(platformEnv(store, receiver));
  try {
    const streams = [];
    for (let i = 0; i < 10; i++) streams.push(await t.createStream(`latency ${i}`));
    for (let i = 0; i < ROTATIONS; i++) {
      const stream = streams[i % streams.length];
      await t.api(`/api/streams/${stream.id}/key`, { method: 'POST' });
      await sleep(100);
    }
    for (let i = 0; i < PUBLISHES; i++) {
      const stream = await t.createStream(`publish ${i}`);
      const publisher = await WrtcPublisher.start({
        whipUrl: stream.whipUrl,
        streamKey: stream.streamKey,
      });
      try {
        await publisher.waitConnected(10_000);
        await sleep(500);
      } finally {
        await publisher.close();
      }
      await sleep(300);
    }
    const expected = ROTATIONS + PUBLISHES * 2;
    const deadline = Date.now() + 30_000;
    while (receiver.events().length < expected) {
      if (Date.now() > deadline) throw new Error('not every event arrived within 30 s');
      await sleep(50);
    }
    const byType = new Map<string, number[]>();
    for (const event of receiver.events()) {
      const samples = byType.get(event.type) ?? [];
      samples.push(event.at - Date.parse(event.timestamp));
      byType.set(event.type, samples);
    }
    const all = [...byType.values()].flat();
    return [
      ...[...byType].map(([type, samples]) => ({
        store: storeName,
        type,
        summary: summarizeLatencies(samples),
      })),
      { store: storeName, type: 'all', summary: summarizeLatencies(all) },
    ];
  } finally {
    await t.stop();
    await receiver.stop();
  }
}

/** Waits until the platform's outbox is empty (the deliveries of a level are done). */
async function drain(t: LocalPlatform): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await t.platform.store.webhookOutboxStats()).pending > 0) {
    if (Date.now() > deadline) throw new Error('webhook backlog did not drain in 60 s');
    await sleep(100);
  }
}

type Result = Awaited<ReturnType<typeof runWhipLoad>>;

/**
 * One WHEP run on a stream published for it by an HTTP-only session (it never connects ICE,
 * so the server would close it after SESSION_CONNECT_TIMEOUT_MS: a fresh one per run).
 */
async function whepRun(
  t: LocalPlatform,
  source: { streamKey: string; whepUrl: string },
  concurrency: number,
): Promise<Result> {
  const unpublish = await openHttpOnlySession(
    `${t.baseUrl}/whip`,
    sdpFixture(WHEP_SOURCE_FIXTURE),
    source.streamKey,
    10_000,
    'WHIP publish',
  );
  try {
    return await runWhepLoad({
      whepUrl: source.whepUrl,
      offerSdp: sdpFixture(WHEP_OFFER_FIXTURE),
      concurrency,
      limits: LEVEL,
    });
  } finally {
    await unpublish();
  }
}

/** Each level off, limits, on, on, limits, off: the two results of each averaged. */
async function rates(storeName: string, store: Record<string, string>): Promise<RateRow[]> {
  const receiver = await Receiver.start();
  const platforms: Record<Mode, LocalPlatform> = {
    off: await startLocalPlatform(platformEnv(store)),
    limits: await startLocalPlatform(platformEnv(store, undefined, true)),
    on: await startLocalPlatform(platformEnv(store, receiver, true)),
  };
  const rows: RateRow[] = [];
  try {
    const setups: Record<Mode, { keys: string[]; source: { streamKey: string; whepUrl: string } }> =
      {} as never;
    for (const webhooks of MODES) {
      const t = platforms[webhooks];
      const keys = [];
      for (let i = 0; i < Math.max(...CONCURRENCY); i++) {
        keys.push((await t.createStream(`rate ${i}`)).streamKey);
      }
      setups[webhooks] = { keys, source: await t.createStream('whep source') };
    }
    for (const protocol of ['WHIP', 'WHEP'] as const) {
      for (const concurrency of CONCURRENCY) {
        const results: Record<Mode, Result[]> = { off: [], limits: [], on: [] };
        const backlogs: number[] = [];
        for (const webhooks of [...MODES, ...[...MODES].reverse()]) {
          const t = platforms[webhooks];
          const setup = setups[webhooks];
          const result =
            protocol === 'WHIP'
              ? await runWhipLoad({
                  whipUrl: `${t.baseUrl}/whip`,
                  streamKeys: setup.keys,
                  offerSdp: sdpFixture(WHIP_OFFER_FIXTURE),
                  concurrency,
                  limits: LEVEL,
                })
              : await whepRun(t, setup.source, concurrency);
          results[webhooks].push(result);
          if (webhooks === 'on' && protocol === 'WHIP') {
            backlogs.push((await t.platform.store.webhookOutboxStats()).pending);
            await drain(t);
          }
        }
        for (const mode of MODES) {
          const r = row(storeName, mode, protocol, concurrency, results[mode]);
          if (mode === 'on' && backlogs.length > 0) r.backlog = Math.max(...backlogs);
          rows.push(r);
          log(`${storeName} ${protocol} c=${concurrency} ${mode}: ${r.setupsPerS}/s`);
        }
      }
    }
  } finally {
    for (const mode of MODES) await platforms[mode].stop();
    await receiver.stop();
  }
  return rows;
}

function row(
  store: string,
  mode: Mode,
  protocol: 'WHIP' | 'WHEP',
  concurrency: number,
  results: Result[],
): RateRow {
  const mean = (f: (r: Result) => number) =>
    round(results.reduce((sum, r) => sum + f(r), 0) / results.length);
  return {
    store,
    mode,
    protocol,
    concurrency,
    setupsPerS: mean((r) => r.tasksPerS),
    p50: mean((r) => (r.phases.setup ?? r.latency).p50),
    p95: mean((r) => (r.phases.setup ?? r.latency).p95),
    errors: results.reduce((sum, r) => sum + r.failed, 0),
  };
}

let redis: RunningRedisServer | undefined;
const stores: [string, () => Promise<Record<string, string>>][] = [
  ['embedded', () => Promise.resolve({})],
  [
    'redis',
    async () => {
      redis ??= await startRedisServer();
      return { REDIS_URL: redis.url, REDIS_PREFIX: `bench:${Date.now()}:` };
    },
  ],
];

const latencyRows: LatencyRow[] = [];
const rateRows: RateRow[] = [];
const notes: string[] = [];
try {
  for (const [name, open] of stores) {
    let store: Record<string, string>;
    try {
      store = await open();
    } catch (error) {
      notes.push(`${name}: skipped (${(error as Error).message})`);
      continue;
    }
    log(`latency with the ${name} store`);
    latencyRows.push(...(await latency(name, store)));
    log(`session setup rates with the ${name} store`);
    rateRows.push(...(await rates(name, await open())));
  }
} finally {
  await redis?.stop();
}

const md = [
  `# Webhooks and rate limits benchmark (${new Date().toISOString()}${quick ? ', quick' : ''})`,
  '',
  `Delivery latency, event timestamp to arrival at a loopback receiver: ${ROTATIONS} key`,
  `rotations (10 per second over 10 streams) and ${PUBLISHES} publish/unpublish cycles.`,
  '',
  '| store | event | count | p50 ms | p95 ms | max ms |',
  '|---|---|---|---|---|---|',
  ...latencyRows.map(
    (r) =>
      `| ${r.store} | ${r.type} | ${r.summary.count} | ${round(r.summary.p50)} | ` +
      `${round(r.summary.p95)} | ${round(r.summary.max)} |`,
  ),
  '',
  `Session setup (HTTP only: POST offer -> 201, DELETE -> 200), ${LEVEL.maxDurationMs / 1000} s`,
  'per run; three platforms: `off` (no webhooks, RATE_LIMITS=off), `limits` (rate limits',
  'only) and `on` (webhooks and rate limits); each level run off, limits, on, on, limits,',
  'off and the two runs of each averaged (p50/p95: the mean of the two). The limits are on',
  "for every class but set to 1,000,000/s so that none of the bench's requests is refused:",
  'this is the cost of checking them. With webhooks on, every WHIP session queues and',
  'delivers stream.started and stream.ended; backlog = the most deliveries still pending',
  'when a run ended (drained before the next).',
  '',
  '| store | protocol | concurrency | off: setups/s | limits: setups/s | on: setups/s | off p50/p95 ms | limits p50/p95 ms | on p50/p95 ms | on: backlog | errors off/limits/on |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
  ...rateRows
    .filter((r) => r.mode === 'off')
    .map((off) => {
      const find = (mode: Mode) =>
        rateRows.find(
          (r) =>
            r.mode === mode &&
            r.store === off.store &&
            r.protocol === off.protocol &&
            r.concurrency === off.concurrency,
        );
      const limits = find('limits');
      const on = find('on');
      const latency = (r: RateRow | undefined) => (r ? `${r.p50} / ${r.p95}` : '-');
      return (
        `| ${off.store} | ${off.protocol} | ${off.concurrency} | ${off.setupsPerS} | ` +
        `${limits?.setupsPerS ?? '-'} | ${on?.setupsPerS ?? '-'} | ${latency(off)} | ` +
        `${latency(limits)} | ${latency(on)} | ${on?.backlog ?? '-'} | ` +
        `${off.errors} / ${limits?.errors ?? '-'} / ${on?.errors ?? '-'} |`
      );
    }),
  ...(notes.length > 0 ? ['', ...notes.map((n) => `- ${n}`)] : []),
  '',
].join('\n');

await mkdir(REPORTS, { recursive: true });
await writeFile(
  path.join(REPORTS, 'latest.json'),
  `${JSON.stringify({ quick, latency: latencyRows, rates: rateRows, notes }, null, 2)}\n`,
);
await writeFile(path.join(REPORTS, 'latest.md'), md);
process.stdout.write(md);
// @roamhq/wrtc crashes when a process exits normally with its objects alive (loadtest README).
process.exit(0);
