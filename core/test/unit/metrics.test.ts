/**
 * The Metrics module on a real Hono app wired like the Platform's (onError, the HTTP
 * middleware outermost, routes mounted from sub-apps that have their own onError), read
 * back through a Prometheus text parser.
 */
import { Hono } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeConfig, loadConfig, ConfigError } from '../../src/config.ts';
import {
  ConflictError,
  NotFoundError,
  ServiceUnavailableError,
  UnauthorizedError,
} from '../../src/errors.ts';
import { onError, requestLogging } from '../../src/http.ts';
import { configureLogging } from '../../src/logger.ts';
import { Metrics, sessionResultOf, type MetricsSources } from '../../src/metrics.ts';
import { Scrape } from './prometheus.ts';

beforeAll(() => {
  // The 500 path logs the error on purpose; keep the output clean.
  configureLogging('silent');
});

/** Throws what `?fail=` names, else answers 201 like a created session. */
function sessionRoute(metrics: Metrics, kind: 'publish' | 'view', path: string): Hono {
  const sub = new Hono();
  sub.onError(onError);
  sub.post(path, metrics.sessionMiddleware(kind));
  sub.post(path, (c) => {
    switch (c.req.query('fail')) {
      case 'key':
        throw new UnauthorizedError('invalid stream key', true);
      case 'live':
        throw new ConflictError('the stream is not live');
      case 'missing':
        throw new NotFoundError('no such stream');
      case 'draining':
        throw new ServiceUnavailableError('draining', 2);
      case 'bug':
        throw new Error('boom');
      default:
        return c.body('v=0\r\n', 201);
    }
  });
  sub.all(path, (c) => c.body(null, 405));
  return sub;
}

function platformLikeApp(metrics: Metrics, token?: string): Hono {
  const app = new Hono();
  app.onError(onError);
  app.use('*', metrics.httpMiddleware());
  app.use('*', requestLogging());
  app.get('/metrics', metrics.handler(token));
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.route('/', sessionRoute(metrics, 'publish', '/whip'));
  app.route('/', sessionRoute(metrics, 'view', '/whep/:streamId'));
  const api = new Hono();
  api.get('/streams/:id', (c) => c.json({ id: c.req.param('id') }));
  app.route('/api', api);
  app.notFound((c) => c.json({ status: 404 }, 404));
  return app;
}

async function read(metrics: Metrics): Promise<Scrape> {
  return Scrape.parse((await metrics.text()).body);
}

const post = (app: Hono, path: string) => app.request(path, { method: 'POST', body: 'v=0' });

describe('session results', () => {
  it('maps a WHIP/WHEP POST status to its result', () => {
    expect(sessionResultOf('publish', 201)).toBe('created');
    expect(sessionResultOf('view', 401)).toBe('unauthorized');
    expect(sessionResultOf('publish', 403)).toBe('unauthorized');
    expect(sessionResultOf('view', 409)).toBe('not_live');
    expect(sessionResultOf('publish', 409)).toBe('bad_request');
    expect(sessionResultOf('view', 404)).toBe('bad_request');
    expect(sessionResultOf('view', 415)).toBe('bad_request');
    expect(sessionResultOf('view', 503)).toBe('unavailable');
    expect(sessionResultOf('view', 500)).toBe('error');
    expect(sessionResultOf('view', 200)).toBeUndefined();
    expect(sessionResultOf('view', 307)).toBeUndefined();
  });

  it('counts each result where the session is created, timing only created ones', async () => {
    const metrics = new Metrics();
    const app = platformLikeApp(metrics);
    for (const path of [
      '/whip',
      '/whip',
      '/whip?fail=key',
      '/whip?fail=live',
      '/whip?fail=draining',
      '/whip?fail=bug',
      '/whep/s1',
      '/whep/s1?fail=live',
      '/whep/s1?fail=live',
      '/whep/s1?fail=missing',
      '/whep/s1?fail=key',
    ]) {
      await post(app, path);
    }
    // Not a session POST: not counted.
    await app.request('/whip', { method: 'PUT' });
    const scrape = await read(metrics);
    const publish = (result: string) => scrape.value('wisp_publish_sessions_total', { result });
    const view = (result: string) => scrape.value('wisp_view_sessions_total', { result });
    expect(publish('created')).toBe(2);
    expect(publish('unauthorized')).toBe(1);
    expect(publish('bad_request')).toBe(1);
    expect(publish('unavailable')).toBe(1);
    expect(publish('error')).toBe(1);
    expect(publish('not_live')).toBeUndefined();
    expect(view('created')).toBe(1);
    expect(view('not_live')).toBe(2);
    expect(view('bad_request')).toBe(1);
    expect(view('unauthorized')).toBe(1);
    expect(view('unavailable')).toBe(0);
    expect(scrape.type('wisp_session_setup_seconds')).toBe('histogram');
    expect(scrape.histogram('wisp_session_setup_seconds', { kind: 'publish' })?.count).toBe(2);
    expect(scrape.histogram('wisp_session_setup_seconds', { kind: 'view' })?.count).toBe(1);
  });
});

describe('HTTP metrics', () => {
  it('labels requests with the matched route pattern, never the raw path', async () => {
    const metrics = new Metrics();
    const app = platformLikeApp(metrics);
    await app.request('/healthz');
    await app.request('/healthz');
    await app.request('/api/streams/abc');
    await app.request('/api/streams/def');
    await post(app, '/whep/one?fail=live');
    await post(app, '/whep/two');
    await app.request('/no/such/page');
    await app.request('/metrics');
    await app.request('/whip', { method: 'PURGE' });
    const scrape = await read(metrics);
    const count = (labels: Record<string, string>) =>
      scrape.value('wisp_http_requests_total', labels);
    expect(count({ method: 'GET', route: '/healthz', status: '200' })).toBe(2);
    expect(count({ method: 'GET', route: '/api/streams/:id', status: '200' })).toBe(2);
    expect(count({ method: 'POST', route: '/whep/:streamId', status: '409' })).toBe(1);
    expect(count({ method: 'POST', route: '/whep/:streamId', status: '201' })).toBe(1);
    expect(count({ method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    expect(count({ method: 'OTHER', route: '/whip', status: '405' })).toBe(1);
    // The scrape itself is not counted.
    expect(scrape.samples('wisp_http_requests_total', { route: '/metrics' })).toEqual([]);
    const routes = scrape.samples('wisp_http_requests_total').map((s) => s.labels.route);
    expect(routes.some((r) => /abc|def|one|two|such/.test(r))).toBe(false);
    // One duration observation per counted request.
    const durations = scrape.metrics.wisp_http_request_duration_seconds.data as { count: number }[];
    expect(durations.reduce((n, d) => n + d.count, 0)).toBe(scrape.sum('wisp_http_requests_total'));
    expect(
      scrape.histogram('wisp_http_request_duration_seconds', { route: '/healthz' })?.count,
    ).toBe(2);
  });

  it('gives every response a request id, keeping a sane one the client sent', async () => {
    const app = platformLikeApp(new Metrics());
    const fresh = await app.request('/healthz');
    expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const kept = await app.request('/healthz', { headers: { 'X-Request-Id': 'abc-123' } });
    expect(kept.headers.get('x-request-id')).toBe('abc-123');
    const replaced = await app.request('/healthz', { headers: { 'X-Request-Id': 'a b"c' } });
    expect(replaced.headers.get('x-request-id')).not.toBe('a b"c');
    // Errors keep it too (onError copies the headers set before the throw).
    const failed = await post(app, '/whip?fail=key');
    expect(failed.status).toBe(401);
    expect(failed.headers.get('x-request-id')).toBeTruthy();
  });
});

describe('GET /metrics', () => {
  it('is open without a token, in the Prometheus text format', async () => {
    const response = await platformLikeApp(new Metrics()).request('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const scrape = await Scrape.parse(await response.text());
    // collectDefaultMetrics on this registry.
    expect(scrape.has('process_cpu_seconds_total')).toBe(true);
    expect(scrape.has('nodejs_eventloop_lag_seconds')).toBe(true);
  });

  it('requires the bearer token when one is configured', async () => {
    const app = platformLikeApp(new Metrics(), 'scrape-secret');
    const none = await app.request('/metrics');
    expect(none.status).toBe(401);
    expect(none.headers.get('content-type')).toBe('application/problem+json');
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="wisp"');
    expect(((await none.json()) as { status: number }).status).toBe(401);
    const wrong = await app.request('/metrics', {
      headers: { Authorization: 'Bearer not-it' },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toContain('invalid_token');
    const right = await app.request('/metrics', {
      headers: { Authorization: 'Bearer scrape-secret' },
    });
    expect(right.status).toBe(200);
    expect((await Scrape.parse(await right.text())).has('wisp_viewers')).toBe(true);
  });
});

describe('gauges', () => {
  function sources(overrides: Partial<MetricsSources> = {}): MetricsSources {
    return {
      node: () => ({ id: 'edge-1', roles: ['edge'], region: 'eu', state: 'serving' }),
      ...overrides,
    };
  }

  it('read the components at scrape time, one registry per instance', async () => {
    let viewers = 3;
    let state = 'serving';
    const a = new Metrics();
    a.bind(
      sources({
        node: () => ({ id: 'edge-1', roles: ['ingest', 'edge'], region: 'eu', state }),
        liveStreams: () => 1,
        carriedStreams: () => 2,
        viewers: () => viewers,
        pipes: () => ({ in: 2, out: 5 }),
        bitrates: () =>
          Promise.resolve({
            webrtc: { sendBps: 1_200_000, recvBps: 900_000 },
            pipe: { sendBps: 4_000_000, recvBps: 800_000 },
          }),
        recordings: () => ({ recording: 2, finalizing: 1, uploadQueue: 7 }),
      }),
    );
    const b = new Metrics();
    b.bind(sources());
    let scrape = await read(a);
    expect(scrape.value('wisp_viewers')).toBe(3);
    expect(scrape.value('wisp_streams_live')).toBe(1);
    expect(scrape.value('wisp_streams_carried')).toBe(2);
    expect(scrape.value('wisp_pipes', { direction: 'in' })).toBe(2);
    expect(scrape.value('wisp_pipes', { direction: 'out' })).toBe(5);
    expect(scrape.value('wisp_egress_bits_per_second', { via: 'webrtc' })).toBe(1_200_000);
    expect(scrape.sum('wisp_egress_bits_per_second')).toBe(5_200_000);
    expect(scrape.sum('wisp_ingress_bits_per_second')).toBe(1_700_000);
    expect(scrape.value('wisp_recordings', { status: 'recording' })).toBe(2);
    expect(scrape.value('wisp_recordings', { status: 'finalizing' })).toBe(1);
    expect(scrape.value('wisp_recording_upload_queue')).toBe(7);
    expect(scrape.samples('wisp_node_info')).toEqual([
      { labels: { node: 'edge-1', roles: 'ingest,edge', region: 'eu' }, value: 1 },
    ]);
    expect(scrape.value('wisp_node_draining')).toBe(0);
    viewers = 5;
    state = 'draining';
    scrape = await read(a);
    expect(scrape.value('wisp_viewers')).toBe(5);
    expect(scrape.value('wisp_node_draining')).toBe(1);
    // The other instance counts nothing of the first's.
    const other = await read(b);
    expect(other.value('wisp_viewers')).toBe(0);
    expect(other.value('wisp_streams_live')).toBe(0);
    expect(other.samples('wisp_worker_cpu_ratio')).toEqual([]);
  });

  it('has wisp_redis_up only with Redis, reflecting each check', async () => {
    const embedded = new Metrics();
    embedded.bind(sources());
    expect((await read(embedded)).has('wisp_redis_up')).toBe(false);
    let up = true;
    const redis = new Metrics();
    redis.bind(sources({ redisUp: () => Promise.resolve(up) }));
    expect((await read(redis)).value('wisp_redis_up')).toBe(1);
    up = false;
    expect((await read(redis)).value('wisp_redis_up')).toBe(0);
    const broken = new Metrics();
    broken.bind(sources({ redisUp: () => Promise.reject(new Error('connection lost')) }));
    expect((await read(broken)).value('wisp_redis_up')).toBe(0);
  });

  it('gives each worker its CPU share since the previous scrape', async () => {
    let cpuMs = [1000, 5000];
    const metrics = new Metrics();
    metrics.bind(sources({ workerCpuMs: () => Promise.resolve(cpuMs) }));
    await new Promise((resolve) => setTimeout(resolve, 10));
    // Worker 0 idle, worker 1 far busier than the elapsed time allows: clamped to one core.
    cpuMs = [1000, 50_000];
    const scrape = await read(metrics);
    expect(scrape.value('wisp_worker_cpu_ratio', { worker: '0' })).toBe(0);
    expect(scrape.value('wisp_worker_cpu_ratio', { worker: '1' })).toBe(1);
    expect(scrape.samples('wisp_worker_cpu_ratio')).toHaveLength(2);
  });

  it('counts what the recorder reports', async () => {
    const metrics = new Metrics();
    metrics.recordingFinished('ready');
    metrics.recordingFinished('ready');
    metrics.recordingFinished('failed');
    metrics.ffmpegRestarted();
    const scrape = await read(metrics);
    expect(scrape.value('wisp_recordings_finished_total', { status: 'ready' })).toBe(2);
    expect(scrape.value('wisp_recordings_finished_total', { status: 'failed' })).toBe(1);
    expect(scrape.value('wisp_ffmpeg_restarts_total')).toBe(1);
  });
});

describe('config: METRICS and METRICS_TOKEN', () => {
  it('is on and open by default', () => {
    expect(loadConfig({}).metrics).toEqual({ enabled: true, token: undefined });
  });

  it('turns off, takes a token and masks it in the start-up line', () => {
    expect(loadConfig({ METRICS: 'off' }).metrics.enabled).toBe(false);
    const config = loadConfig({ METRICS_TOKEN: 'scrape-secret' });
    expect(config.metrics).toEqual({ enabled: true, token: 'scrape-secret' });
    expect(JSON.stringify(describeConfig(config))).not.toContain('scrape-secret');
    expect(() => loadConfig({ METRICS: 'sometimes' })).toThrow(ConfigError);
  });
});
