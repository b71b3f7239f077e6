/**
 * The `signalling` benchmark scenario: how many WHIP and WHEP sessions the platform sets up
 * per second and how long a setup takes, at 1, 4 and 16 concurrent clients; the stream-key
 * API's throughput; and full ICE+DTLS WHEP setups with real viewers. It starts its own
 * platform on 127.0.0.1 and sends nothing anywhere else. `loadtest/k6/` holds the same load
 * as k6 scripts for a real deployment.
 */
import { sdpFixture } from '../../../server/test/support/fixtures.ts';
import {
  startLocalPlatform as startPlatform,
  type LocalPlatform as TestPlatform,
} from '@wisp/server';
import { waitUntil } from '../peers/timing.ts';
import type { BenchContext, Metric, Scenario, ScenarioResult, Table } from '../bench/types.ts';
import { API_OPERATIONS, runApiLoad } from './apiLoad.ts';
import type { NdcViewer } from '../peers/NdcViewer.ts';
import { runIceSetups, startAnchorViewer, startIcePublisher } from './iceSetups.ts';
import { round, type LatencySummary } from './latencyStats.ts';
import { formatCounts, type LoadResult } from './loadDriver.ts';
import { signallingPlan, type SignallingPlan } from './plan.ts';
import { openHttpOnlySession, runWhepLoad, runWhipLoad } from './sessionLoad.ts';

/** The OBS-like offer (Opus + H.264, no candidates) every WHIP session of the run sends. */
export const WHIP_OFFER_FIXTURE = 'f7-obs';
/** The browser offer (Opus + VP8) that publishes the stream the WHEP sessions watch. */
export const WHEP_SOURCE_FIXTURE = 'f2-browser';
/** The browser's recvonly offer every HTTP-only WHEP session sends. */
export const WHEP_OFFER_FIXTURE = 'w1-whep-browser';

const SETUP_TIMEOUT_MS = 10_000;

/** Collects metrics, tables and notes; every part adds to it independently. */
class Report {
  readonly metrics: Metric[] = [];
  readonly tables: Table[] = [];
  readonly notes: string[] = [];

  metric(key: string, label: string, value: number, unit: string): void {
    this.metrics.push({ key: `signalling.${key}`, label, value: round(value), unit });
  }

  latency(key: string, label: string, summary: LatencySummary): void {
    this.metric(`${key}.p50_ms`, `${label} p50`, summary.p50, 'ms');
    this.metric(`${key}.p95_ms`, `${label} p95`, summary.p95, 'ms');
  }
}

type Part = (report: Report) => Promise<void>;

function ms(summary: LatencySummary | undefined, field: keyof LatencySummary): number {
  return summary ? round(summary[field]) : Number.NaN;
}

function progressLine(name: string, result: LoadResult, unit: string, phase: string): string {
  const latency = result.phases[phase] ?? result.latency;
  return (
    `${name} c=${result.concurrency}: ${result.succeeded} ${unit} in ` +
    `${(result.elapsedMs / 1000).toFixed(1)} s = ${round(result.tasksPerS)}/s, ` +
    `${phase} p50 ${round(latency.p50)} ms p95 ${round(latency.p95)} ms, ` +
    `errors ${formatCounts(result.errors)}`
  );
}

function noteErrors(report: Report, name: string, results: LoadResult[]): void {
  for (const result of results) {
    if (result.failed > 0) {
      const first = Object.entries(result.errorMessages)
        .map(([status, message]) => `${status}: ${message.slice(0, 300)}`)
        .join('; ');
      report.notes.push(
        `${name} at concurrency ${result.concurrency} had ${result.failed} failed tasks ` +
          `(${formatCounts(result.errors)}); first of each: ${first}`,
      );
    }
  }
}

/** One table and the metrics of an HTTP-only session run (WHIP or WHEP). */
function reportSessions(report: Report, key: 'whip' | 'whep', results: LoadResult[]): void {
  const name = key.toUpperCase();
  report.tables.push({
    title: `${name} session setup + teardown, HTTP only (POST offer -> 201, DELETE -> 200)`,
    columns: [
      'concurrency',
      'sessions',
      'setups/s',
      'setup p50 ms',
      'setup p95 ms',
      'setup p99 ms',
      'setup max ms',
      'teardown p50 ms',
      'teardown p95 ms',
      'errors',
    ],
    rows: results.map((r) => [
      r.concurrency,
      r.succeeded,
      round(r.tasksPerS),
      ms(r.phases.setup, 'p50'),
      ms(r.phases.setup, 'p95'),
      ms(r.phases.setup, 'p99'),
      ms(r.phases.setup, 'max'),
      ms(r.phases.teardown, 'p50'),
      ms(r.phases.teardown, 'p95'),
      formatCounts(r.errors),
    ]),
  });
  for (const r of results) {
    report.metric(
      `${key}.c${r.concurrency}.setups_per_s`,
      `${name} setups/s at concurrency ${r.concurrency}`,
      r.tasksPerS,
      'setups/s',
    );
    report.latency(
      `${key}.c${r.concurrency}`,
      `${name} setup (POST -> 201) at concurrency ${r.concurrency}`,
      r.phases.setup ?? r.latency,
    );
  }
  const best = Math.max(...results.map((r) => r.tasksPerS));
  report.metric(`${key}.setups_per_s`, `${name} setups/s (best level)`, best, 'setups/s');
  const single = results.find((r) => r.concurrency === 1) ?? results[0];
  if (single) {
    report.latency(
      key,
      `${name} setup (POST -> 201) at concurrency 1`,
      single.phases.setup ?? single.latency,
    );
  }
  noteErrors(report, name, results);
}

function whipPart(platform: TestPlatform, plan: SignallingPlan, context: BenchContext): Part {
  return async (report) => {
    const offerSdp = sdpFixture(WHIP_OFFER_FIXTURE);
    const workers = Math.max(...plan.sessionLevels);
    // One stream per worker, so concurrent sessions never take over each other's stream.
    const streams = [];
    for (let i = 0; i < workers; i++) streams.push(await platform.createStream(`whip bench ${i}`));
    const streamKeys = streams.map((s) => s.streamKey);
    const whipUrl = streams[0].whipUrl;
    const results: LoadResult[] = [];
    for (const concurrency of plan.sessionLevels) {
      const result = await runWhipLoad({
        whipUrl,
        streamKeys,
        offerSdp,
        concurrency,
        limits: plan.session,
      });
      context.progress(progressLine('WHIP', result, 'sessions', 'setup'));
      results.push(result);
    }
    reportSessions(report, 'whip', results);
  };
}

function whepPart(platform: TestPlatform, plan: SignallingPlan, context: BenchContext): Part {
  return async (report) => {
    const sourceSdp = sdpFixture(WHEP_SOURCE_FIXTURE);
    const offerSdp = sdpFixture(WHEP_OFFER_FIXTURE);
    const stream = await platform.createStream('whep bench');
    const results: LoadResult[] = [];
    for (const concurrency of plan.sessionLevels) {
      // A fresh HTTP-only publisher per level: it never connects ICE, so the server closes
      // it after SESSION_CONNECT_TIMEOUT_MS (30 s by default), longer than any level.
      const unpublish = await openHttpOnlySession(
        stream.whipUrl,
        sourceSdp,
        stream.streamKey,
        SETUP_TIMEOUT_MS,
        'WHIP publish',
      );
      // One viewer stays for the whole level, so the edge keeps its pipe from the ingest and
      // every measured session is a join to an already watched stream, not the first viewer.
      let anchor: (() => Promise<void>) | undefined;
      try {
        anchor = await openHttpOnlySession(
          stream.whepUrl,
          offerSdp,
          undefined,
          SETUP_TIMEOUT_MS,
          'WHEP anchor',
        );
        const result = await runWhepLoad({
          whepUrl: stream.whepUrl,
          offerSdp,
          concurrency,
          limits: plan.session,
        });
        context.progress(progressLine('WHEP', result, 'sessions', 'setup'));
        results.push(result);
      } finally {
        await anchor?.();
        await unpublish();
      }
    }
    reportSessions(report, 'whep', results);
  };
}

function apiPart(platform: TestPlatform, plan: SignallingPlan, context: BenchContext): Part {
  return async (report) => {
    const results: LoadResult[] = [];
    for (const concurrency of plan.apiLevels) {
      const result = await runApiLoad({
        baseUrl: platform.baseUrl,
        adminToken: platform.adminToken,
        concurrency,
        limits: plan.api,
      });
      context.progress(progressLine('API', result, 'stream lifecycles', 'create'));
      results.push(result);
    }
    report.tables.push({
      title: 'Stream-key API: create -> get -> list -> rotate -> delete per task',
      columns: [
        'concurrency',
        'lifecycles',
        'requests/s',
        'lifecycles/s',
        'lifecycle p50 ms',
        'lifecycle p95 ms',
        'errors',
      ],
      rows: results.map((r) => [
        r.concurrency,
        r.succeeded,
        round(r.requestsPerS),
        round(r.tasksPerS),
        ms(r.latency, 'p50'),
        ms(r.latency, 'p95'),
        formatCounts(r.errors),
      ]),
    });
    report.tables.push({
      title: 'Stream-key API latency per operation',
      columns: ['concurrency', 'operation', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'],
      rows: results.flatMap((r) =>
        API_OPERATIONS.map((op) => [
          r.concurrency,
          op,
          ms(r.phases[op], 'p50'),
          ms(r.phases[op], 'p95'),
          ms(r.phases[op], 'p99'),
          ms(r.phases[op], 'max'),
        ]),
      ),
    });
    for (const r of results) {
      report.metric(
        `api.c${r.concurrency}.req_per_s`,
        `API requests/s at concurrency ${r.concurrency}`,
        r.requestsPerS,
        'req/s',
      );
    }
    report.metric(
      'api.req_per_s',
      'API requests/s (best level)',
      Math.max(...results.map((r) => r.requestsPerS)),
      'req/s',
    );
    const single = results.find((r) => r.concurrency === 1) ?? results[0];
    if (single) {
      report.latency(
        'api.lifecycle',
        'API stream lifecycle (5 requests) at concurrency 1',
        single.latency,
      );
      for (const op of API_OPERATIONS) {
        const summary = single.phases[op];
        if (summary) report.latency(`api.${op}`, `API ${op} at concurrency 1`, summary);
      }
    }
    noteErrors(report, 'API', results);
  };
}

function icePart(platform: TestPlatform, plan: SignallingPlan, context: BenchContext): Part {
  return async (report) => {
    const stream = await platform.createStream('whep ice bench');
    const publisher = await startIcePublisher(stream.whipUrl, stream.streamKey, SETUP_TIMEOUT_MS);
    const results: LoadResult[] = [];
    let anchor: NdcViewer | undefined;
    try {
      // Viewers should find media flowing, as they would on a real stream.
      await waitUntil(() => publisher.packetsSent.video > 0, SETUP_TIMEOUT_MS, 'publisher video');
      anchor = await startAnchorViewer(stream.whepUrl, SETUP_TIMEOUT_MS);
      for (const level of plan.iceLevels) {
        const result = await runIceSetups({
          whepUrl: stream.whepUrl,
          concurrency: level.concurrency,
          maxSessions: level.sessions,
          maxDurationMs: plan.iceMaxDurationMs,
          sessionTimeoutMs: plan.iceSessionTimeoutMs,
        });
        context.progress(progressLine('WHEP+ICE', result, 'viewers', 'connect'));
        results.push(result);
      }
    } finally {
      await anchor?.close();
      await publisher.close();
    }
    report.tables.push({
      title: 'WHEP with ICE + DTLS (NdcViewer): times from the start of the setup',
      columns: [
        'concurrency',
        'viewers',
        'setups/s',
        'POST p50 ms',
        'POST p95 ms',
        'connected p50 ms',
        'connected p95 ms',
        'connected max ms',
        'first RTP p50 ms',
        'first RTP p95 ms',
        'errors',
      ],
      rows: results.map((r) => [
        r.concurrency,
        r.succeeded,
        round(r.tasksPerS),
        ms(r.phases.post, 'p50'),
        ms(r.phases.post, 'p95'),
        ms(r.phases.connect, 'p50'),
        ms(r.phases.connect, 'p95'),
        ms(r.phases.connect, 'max'),
        ms(r.phases.first_rtp, 'p50'),
        ms(r.phases.first_rtp, 'p95'),
        formatCounts(r.errors),
      ]),
    });
    const at = (c: number) => `(concurrency ${c})`;
    for (const r of results) {
      const c = r.concurrency;
      report.metric(
        `whep_ice.c${c}.setups_per_s`,
        `WHEP+ICE setups/s ${at(c)}`,
        r.tasksPerS,
        'setups/s',
      );
      const connect = r.phases.connect;
      if (!connect) continue;
      report.metric(
        `whep_ice.c${c}.connect_p50_ms`,
        `WHEP+ICE connected p50 ${at(c)}`,
        connect.p50,
        'ms',
      );
      report.metric(
        `whep_ice.c${c}.connect_p95_ms`,
        `WHEP+ICE connected p95 ${at(c)}`,
        connect.p95,
        'ms',
      );
    }
    const best = Math.max(...results.map((r) => r.tasksPerS));
    report.metric('whep_ice.setups_per_s', 'WHEP+ICE setups/s (best level)', best, 'setups/s');
    // Headline latencies: one viewer at a time, what a lone viewer experiences.
    const single = results.find((r) => r.concurrency === 1) ?? results[0];
    const headline: [string, string, string][] = [
      ['post', 'post_p50_ms', 'offer + POST + answer applied p50'],
      ['connect', 'connect_p50_ms', 'start -> connected (ICE + DTLS) p50'],
      ['connect', 'connect_p95_ms', 'start -> connected (ICE + DTLS) p95'],
      ['first_rtp', 'first_rtp_p50_ms', 'start -> first RTP packet p50'],
    ];
    for (const [phase, key, label] of headline) {
      const summary = single?.phases[phase];
      if (!summary) continue;
      const value = key.includes('p95') ? summary.p95 : summary.p50;
      report.metric(`whep_ice.${key}`, `WHEP+ICE ${label} ${at(single.concurrency)}`, value, 'ms');
    }
    noteErrors(report, 'WHEP+ICE', results);
  };
}

const NOTES = [
  'WHIP and WHEP rows are HTTP-only sessions: POST a canned offer, get 201 with an answer, then DELETE the session; no ICE or DTLS ever runs. They measure the signalling plane alone (key check, SDP parsing and answer, the mediasoup transport, producers or consumers created and closed per session), so setups/s here is the ceiling of the signalling plane, above what clients that also run ICE and DTLS get.',
  `WHIP sessions send ${WHIP_OFFER_FIXTURE}.sdp (OBS-like, Opus + H.264), one stream key per worker so concurrent sessions never trigger a publisher takeover. WHEP sessions send ${WHEP_OFFER_FIXTURE}.sdp to a stream published over HTTP only with ${WHEP_SOURCE_FIXTURE}.sdp (Opus + VP8); one extra HTTP-only viewer session stays open during each level, so every measured WHEP session joins an already watched stream (the edge's pipe from the ingest is up).`,
  'Each level is a closed loop: N clients each repeat setup + teardown back to back, bounded by a task count and a duration, after a short unmeasured warm-up. setups/s counts completed setup + teardown pairs; setup latency is POST -> 201 with the body read. Headline latency keys (`signalling.whip.p50_ms`, ...) are at concurrency 1, headline throughput keys the best level; per-level keys carry `.c1`, `.c4`, `.c16`. Percentiles are nearest-rank over the successful sessions.',
  'The API rows run one stream life per task (create, get, list, rotate the key, delete: five requests) against the embedded store, the mix of loadtest/k6/api.ts; requests/s counts all five.',
  'WHEP+ICE rows are what a real viewer experiences: a libdatachannel viewer (NdcViewer) makes its offer, POSTs it, applies the answer, runs ICE + DTLS against the SFU on 127.0.0.1 and waits for the first RTP packet (audio) of a live OBS-like publisher (ffmpeg H.264 320x180 + Opus); post, connected and first RTP all count from the start of the setup, then the session is DELETEd. One more viewer stays connected throughout, so every measured viewer joins a watched stream. The first video packet waits for the next keyframe of the publisher (OBS ignores PLIs), which the ttff scenario measures. On loopback network delay is nil: a real viewer adds its round trips.',
  "The platform runs inside the benchmark process (server/src/local.ts): the load generator shares its Node event loop and the machine's cores with the server (the mediasoup workers are separate processes), so HTTP figures are a lower bound for a dedicated server and comparable between runs on one machine, not between machines. Run loadtest/k6 against a deployment for numbers from outside.",
];

export const runSignallingScenario: Scenario = async (context): Promise<ScenarioResult> => {
  const plan = signallingPlan(context.size);
  const report = new Report();
  context.progress('starting a platform on 127.0.0.1');
  const platform = await startPlatform();
  try {
    const parts: [string, Part][] = [
      ['WHIP', whipPart(platform, plan, context)],
      ['WHEP', whepPart(platform, plan, context)],
      ['API', apiPart(platform, plan, context)],
      ['WHEP+ICE', icePart(platform, plan, context)],
    ];
    for (const [name, part] of parts) {
      try {
        await part(report);
      } catch (error) {
        // A part that cannot run leaves its metrics out (the runner reports them missing)
        // instead of discarding the other parts' numbers.
        const message = error instanceof Error ? error.message : String(error);
        report.notes.push(`The ${name} part could not run: ${message}`);
        context.progress(`${name} FAILED: ${message}`);
      }
    }
  } finally {
    await platform.stop();
  }
  return {
    scenario: 'signalling',
    metrics: report.metrics,
    tables: report.tables,
    notes: [...NOTES, ...report.notes],
  };
};
