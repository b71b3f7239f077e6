/**
 * Prometheus metrics of one process (one Platform): every `wisp_*` metric is defined here,
 * with its type, labels and meaning (docs/operations.md#metrics lists the same).
 *
 * - One `Registry` per instance, never prom-client's global one: tests run several platforms
 *   in one Node process, and each must count only its own.
 * - Counters and histograms are fed by the components (injected: the HTTP middleware, the
 *   WHIP/WHEP session middleware, the recorder) through the methods below.
 * - Gauges of current state are read at scrape time from the components (`bind(sources)`):
 *   nothing is kept up to date on the hot path.
 * - Labels have bounded values (no stream, session or viewer ids). A gauge summed over its
 *   label sets is this node's total, and summed over nodes the cluster's: nothing is counted
 *   twice (a stream pulled onto an edge is `wisp_streams_carried` there, not `_live`).
 */
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type CounterConfiguration,
  type GaugeConfiguration,
} from 'prom-client';
import { UnauthorizedError } from './errors.ts';
import { parseBearer, safeEqual } from './keys.ts';
import { BUCKET_CLASSES, type BucketClass } from './ratelimit/RateLimiter.ts';

export type SessionKind = 'publish' | 'view';

export const SESSION_RESULTS = [
  'created',
  'unauthorized',
  'not_live',
  'bad_request',
  'unavailable',
  'error',
] as const;
export type SessionResult = (typeof SESSION_RESULTS)[number];

/**
 * What a WHIP/WHEP POST's status means for the session counters: 201 `created`; 401/403
 * `unauthorized`; 409 on a view `not_live`; 503 `unavailable`; other 4xx `bad_request`, other
 * 5xx `error`. Anything else (no session was asked for) is not counted.
 */
export function sessionResultOf(kind: SessionKind, status: number): SessionResult | undefined {
  if (status === 201) return 'created';
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 409 && kind === 'view') return 'not_live';
  if (status === 503) return 'unavailable';
  if (status >= 400 && status < 500) return 'bad_request';
  if (status >= 500) return 'error';
  return undefined;
}

/** What the front door's allocation did with a request: redirected, or refused with 503. */
export type AllocationResult = 'redirected' | 'full' | 'unavailable';

/** What the front door tells the metrics. */
export interface AllocationMetrics {
  allocation(kind: SessionKind, result: AllocationResult): void;
}

/** What the recorder tells the metrics. */
export interface RecorderMetrics {
  recordingFinished(status: 'ready' | 'failed'): void;
  /** A recording started a new ffmpeg for its current sources (it failed, layers changed). */
  ffmpegRestarted(): void;
}

/** Bits per second through this node's media transports, by where they lead. */
export interface MediaBitrates {
  /** WebRTC transports: publishers (ingress) and viewers (egress). */
  webrtc: { sendBps: number; recvBps: number };
  /** Network pipes to and from other nodes (in-process pipes between routers excluded). */
  pipe: { sendBps: number; recvBps: number };
}

/** What the gauges read at scrape time; a node without a component leaves it out. */
export interface MetricsSources {
  node: () => { id: string; roles: readonly string[]; region: string; state: string };
  /** Streams published on this node's ingest. */
  liveStreams?: () => number;
  /** Streams pulled onto this node from another one (a cluster edge, relay or recorder). */
  carriedStreams?: () => number;
  /** WHEP viewer sessions on this node's edge. */
  viewers?: () => number;
  /** Pipes out (this node feeds another) and in (pulled copies). */
  pipes?: () => { in: number; out: number };
  bitrates?: () => Promise<MediaBitrates>;
  /** Cumulative CPU milliseconds (user + system) of each mediasoup worker, by index. */
  workerCpuMs?: () => Promise<number[]>;
  /** Only with Redis: whether every connection answers (a PING with a short timeout). */
  redisUp?: () => Promise<boolean>;
  recordings?: () => { recording: number; finalizing: number; uploadQueue: number };
}

const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export class Metrics implements RecorderMetrics, AllocationMetrics {
  readonly registry = new Registry();
  #sources: MetricsSources | undefined;
  /** The previous worker CPU sample: ratios are over the time since (the last scrape). */
  #lastCpu: { at: number; cpuMs: number[] } | undefined;

  readonly #publishSessions = this.#counter({
    name: 'wisp_publish_sessions_total',
    help: 'WHIP session requests on this node (ingest), by result.',
    labelNames: ['result'],
  });

  readonly #viewSessions = this.#counter({
    name: 'wisp_view_sessions_total',
    help: 'WHEP session requests on this node (edge), by result.',
    labelNames: ['result'],
  });

  readonly #setupSeconds = new Histogram({
    name: 'wisp_session_setup_seconds',
    help: 'Created sessions: from the POST received to the SDP answer sent.',
    labelNames: ['kind'],
    buckets: SECONDS_BUCKETS,
    registers: [this.registry],
  });

  readonly #httpRequests = this.#counter({
    name: 'wisp_http_requests_total',
    help: 'HTTP requests by method, matched route pattern and status (/metrics not counted).',
    labelNames: ['method', 'route', 'status'],
  });

  readonly #httpSeconds = new Histogram({
    name: 'wisp_http_request_duration_seconds',
    help: 'HTTP request handling time (until the response starts), by method and route pattern.',
    labelNames: ['method', 'route'],
    buckets: SECONDS_BUCKETS,
    registers: [this.registry],
  });

  readonly #allocations = this.#counter({
    name: 'wisp_allocations_total',
    help:
      "The front door's placements by kind (publish, view) and result: redirected to a node, " +
      'full (every candidate past its levels) or unavailable (no candidate, registry down).',
    labelNames: ['kind', 'result'],
  });

  readonly #recordingsFinished = this.#counter({
    name: 'wisp_recordings_finished_total',
    help: 'Recordings this node finished, by final status.',
    labelNames: ['status'],
  });

  readonly #ffmpegRestarts = this.#counter({
    name: 'wisp_ffmpeg_restarts_total',
    help: 'New ffmpeg processes started for a running recording (ffmpeg failed, layers changed).',
  });

  readonly #rateLimited = this.#counter({
    name: 'wisp_rate_limited_total',
    help:
      'Requests refused with 429 by a per-client rate limit, by bucket (whip, whep, session, ' +
      'api, admin, adminAuth: wrong admin tokens).',
    labelNames: ['bucket'],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    for (const result of SESSION_RESULTS) {
      if (result !== 'not_live') this.#publishSessions.inc({ result }, 0);
      this.#viewSessions.inc({ result }, 0);
    }
    for (const kind of ['publish', 'view']) this.#setupSeconds.zero({ kind });
    for (const status of ['ready', 'failed']) this.#recordingsFinished.inc({ status }, 0);
    for (const kind of ['publish', 'view']) {
      for (const result of ['redirected', 'full', 'unavailable']) {
        this.#allocations.inc({ kind, result }, 0);
      }
    }
    for (const bucket of BUCKET_CLASSES) this.#rateLimited.inc({ bucket }, 0);
    this.#defineGauges();
  }

  /** Where the gauges read the node's state from (once the components exist). */
  bind(sources: MetricsSources): void {
    if (this.#sources) throw new Error('Metrics.bind: already bound');
    this.#sources = sources;
    if (sources.redisUp) this.#defineRedisGauge(sources.redisUp);
    const workers = sources.workerCpuMs;
    if (workers) {
      void workers()
        .then((cpuMs) => (this.#lastCpu ??= { at: performance.now(), cpuMs }))
        .catch(() => undefined);
    }
  }

  /** The Prometheus text exposition of every metric. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Counts a WHIP (`publish`) or WHEP (`view`) POST; times it when a session was created. */
  session(kind: SessionKind, status: number, seconds: number): void {
    const result = sessionResultOf(kind, status);
    if (!result) return;
    (kind === 'publish' ? this.#publishSessions : this.#viewSessions).inc({ result });
    if (result === 'created') this.#setupSeconds.observe({ kind }, seconds);
  }

  allocation(kind: SessionKind, result: AllocationResult): void {
    this.#allocations.inc({ kind, result });
  }

  recordingFinished(status: 'ready' | 'failed'): void {
    this.#recordingsFinished.inc({ status });
  }

  rateLimited(bucket: BucketClass): void {
    this.#rateLimited.inc({ bucket });
  }

  ffmpegRestarted(): void {
    this.#ffmpegRestarts.inc();
  }

  /**
   * Hono middleware for the POST that creates a session (registered on the same method and
   * path before the handler): counts its result and times it.
   */
  sessionMiddleware(kind: SessionKind): MiddlewareHandler {
    return async (c, next) => {
      const start = performance.now();
      await next();
      this.session(kind, c.res.status, (performance.now() - start) / 1000);
    };
  }

  /**
   * Hono middleware counting every request by method, route pattern and status. `route` is
   * the pattern of the route that answered (`/whep/:streamId`), `unmatched` when none did
   * (only `*` middleware ran: the 404 handler answered). The scrape itself (`metricsPath`)
   * is not counted.
   */
  httpMiddleware(metricsPath = '/metrics'): MiddlewareHandler {
    return async (c, next) => {
      if (c.req.path === metricsPath) return next();
      const start = performance.now();
      await next();
      const pattern = routePath(c);
      const route = pattern === '*' || pattern === '/*' ? 'unmatched' : pattern;
      const method = METHODS.has(c.req.method) ? c.req.method : 'OTHER';
      this.#httpRequests.inc({ method, route, status: String(c.res.status) });
      this.#httpSeconds.observe({ method, route }, (performance.now() - start) / 1000);
    };
  }

  /**
   * `GET /metrics`: open, or with `token` only for `Authorization: Bearer <token>` (401
   * problem+json otherwise, through the app's onError).
   */
  handler(token: string | undefined): MiddlewareHandler {
    return async (c) => {
      if (token !== undefined) {
        const given = parseBearer(c.req.header('authorization'));
        if (given === undefined) throw new UnauthorizedError('a metrics bearer token is required');
        if (!safeEqual(given, token)) {
          throw new UnauthorizedError('the metrics bearer token is not valid', true);
        }
      }
      const { contentType, body } = await this.text();
      return c.body(body, 200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
    };
  }

  #counter<T extends string>(config: CounterConfiguration<T>): Counter<T> {
    return new Counter({ ...config, registers: [this.registry] });
  }

  #gauge<T extends string>(config: GaugeConfiguration<T>): Gauge<T> {
    return new Gauge({ ...config, registers: [this.registry] });
  }

  #defineGauges(): void {
    const sources = () => this.#sources;
    const simple = (name: string, help: string, read: (s: MetricsSources) => number) =>
      this.#gauge({
        name,
        help,
        collect() {
          const s = sources();
          this.set(s ? read(s) : 0);
        },
      });
    simple(
      'wisp_streams_live',
      "Streams published on this node's ingest (summed over nodes: the cluster's live streams).",
      (s) => s.liveStreams?.() ?? 0,
    );
    simple(
      'wisp_streams_carried',
      'Streams pulled onto this node from another node (copies, not counted in wisp_streams_live).',
      (s) => s.carriedStreams?.() ?? 0,
    );
    simple('wisp_viewers', "WHEP viewer sessions on this node's edge.", (s) => s.viewers?.() ?? 0);
    this.#gauge({
      name: 'wisp_pipes',
      help: 'Network pipes: out (this node feeds another node) and in (pulled from another node).',
      labelNames: ['direction'],
      collect() {
        const pipes = sources()?.pipes?.() ?? { in: 0, out: 0 };
        this.set({ direction: 'in' }, pipes.in);
        this.set({ direction: 'out' }, pipes.out);
      },
    });
    const bitrates = async (): Promise<MediaBitrates> => {
      const zero = { sendBps: 0, recvBps: 0 };
      return (
        (await sources()
          ?.bitrates?.()
          .catch(() => undefined)) ?? { webrtc: zero, pipe: zero }
      );
    };
    this.#gauge({
      name: 'wisp_egress_bits_per_second',
      help: 'Media sent, bits/s (mediasoup transport stats): via webrtc (to viewers) or pipe (to nodes).',
      labelNames: ['via'],
      async collect() {
        const b = await bitrates();
        this.set({ via: 'webrtc' }, b.webrtc.sendBps);
        this.set({ via: 'pipe' }, b.pipe.sendBps);
      },
    });
    this.#gauge({
      name: 'wisp_ingress_bits_per_second',
      help: 'Media received, bits/s: via webrtc (from publishers) or pipe (from nodes).',
      labelNames: ['via'],
      async collect() {
        const b = await bitrates();
        this.set({ via: 'webrtc' }, b.webrtc.recvBps);
        this.set({ via: 'pipe' }, b.pipe.recvBps);
      },
    });
    /** Swaps in a new worker CPU sample and returns the previous one. */
    const swapCpu = (next: { at: number; cpuMs: number[] }) => {
      const previous = this.#lastCpu;
      this.#lastCpu = next;
      return previous;
    };
    this.#gauge({
      name: 'wisp_worker_cpu_ratio',
      help: 'CPU use of each mediasoup worker since the previous scrape, as a share of one core.',
      labelNames: ['worker'],
      async collect() {
        const read = sources()?.workerCpuMs;
        if (!read) return;
        const cpuMs = await read().catch(() => undefined);
        if (!cpuMs) return;
        const now = performance.now();
        const previous = swapCpu({ at: now, cpuMs });
        this.reset();
        cpuMs.forEach((ms, index) => {
          const before = previous?.cpuMs[index];
          const elapsed = previous ? now - previous.at : 0;
          const ratio = before !== undefined && elapsed > 0 ? (ms - before) / elapsed : 0;
          this.set({ worker: String(index) }, Math.min(1, Math.max(0, ratio)));
        });
      },
    });
    this.#gauge({
      name: 'wisp_recordings',
      help: 'Recordings this node is running, by status (recording, finalizing).',
      labelNames: ['status'],
      collect() {
        const r = sources()?.recordings?.();
        this.set({ status: 'recording' }, r?.recording ?? 0);
        this.set({ status: 'finalizing' }, r?.finalizing ?? 0);
      },
    });
    simple(
      'wisp_recording_upload_queue',
      "Recording files waiting to be stored (this node's uploads, pending or retrying).",
      (s) => s.recordings?.().uploadQueue ?? 0,
    );
    this.#gauge({
      name: 'wisp_node_info',
      help: 'This node: its id, roles (comma-separated) and region. Always 1.',
      labelNames: ['node', 'roles', 'region'],
      collect() {
        const node = sources()?.node();
        this.reset();
        if (node) {
          this.set({ node: node.id, roles: node.roles.join(','), region: node.region }, 1);
        }
      },
    });
    simple(
      'wisp_node_draining',
      'Whether this node is draining (1: takes no new sessions) or serving (0).',
      (s) => (s.node().state === 'draining' ? 1 : 0),
    );
  }

  /** `wisp_redis_up`: only on a node with Redis (absent with the embedded store). */
  #defineRedisGauge(redisUp: () => Promise<boolean>): void {
    this.#gauge({
      name: 'wisp_redis_up',
      help: 'Whether every Redis connection of this node answers a PING (1) or not (0).',
      async collect() {
        this.set((await redisUp().catch(() => false)) ? 1 : 0);
      },
    });
  }
}
