/**
 * /metrics and /readyz on a single-process platform with real media: a libwebrtc publisher
 * and viewers, real mediasoup workers; the exposition is read with a Prometheus text
 * parser (prom2javascript), and every value is compared with what the test did.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WrtcPublisher, WrtcViewer } from '@wisp/loadtest';
import { scrape, type Scrape } from '../../../core/test/unit/prometheus.ts';
import { sdpFixture } from '../support/fixtures.ts';
import { whepPost, whipPost } from '../support/http.ts';
import { startPlatform, type TestPlatform } from '../support/platform.ts';

let t: TestPlatform | undefined;
const closers: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  while (closers.length) await closers.pop()!().catch(() => undefined);
  await t?.stop();
  t = undefined;
});

const VIEWERS = 3;

function count(s: Scrape, name: string, labels: Record<string, string>): number {
  return s.value(name, labels) ?? 0;
}

describe('metrics on one process', () => {
  it('counts real publishers and viewers, refusals by result, and HTTP by route', async () => {
    t = await startPlatform({ MEDIASOUP_WORKERS: '1' });
    const stream = await t.createStream('metrics');
    const before = await scrape(t.baseUrl);
    expect(before.value('wisp_viewers')).toBe(0);
    expect(before.value('wisp_streams_live')).toBe(0);

    // A wrong key: 401, counted as unauthorized. Watching before it is live: 409, not_live.
    expect((await whipPost(t.baseUrl, 'not-a-key', sdpFixture('f2-browser'))).status).toBe(401);
    expect((await whepPost(t.baseUrl, stream.id, sdpFixture('w1-whep-browser'))).status).toBe(409);

    const publisher = await WrtcPublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
    });
    closers.push(() => publisher.close());
    await publisher.waitConnected(10_000);
    const viewers: WrtcViewer[] = [];
    for (let i = 0; i < VIEWERS; i++) {
      const viewer = await WrtcViewer.start({ whepUrl: stream.whepUrl });
      closers.push(() => viewer.close());
      viewers.push(viewer);
    }
    await Promise.all(viewers.map((v) => v.waitForFrames(10, 15_000)));

    const during = await scrape(t.baseUrl);
    const delta = (name: string, labels: Record<string, string>) =>
      count(during, name, labels) - count(before, name, labels);
    expect(during.value('wisp_viewers')).toBe(VIEWERS);
    expect(during.value('wisp_streams_live')).toBe(1);
    // One process: the edge takes the stream from the local ingest, no pulled copy, no pipe.
    expect(during.value('wisp_streams_carried')).toBe(0);
    expect(during.sum('wisp_pipes')).toBe(0);
    expect(delta('wisp_view_sessions_total', { result: 'created' })).toBe(VIEWERS);
    expect(delta('wisp_view_sessions_total', { result: 'not_live' })).toBe(1);
    expect(delta('wisp_publish_sessions_total', { result: 'created' })).toBe(1);
    expect(delta('wisp_publish_sessions_total', { result: 'unauthorized' })).toBe(1);
    for (const result of ['bad_request', 'unavailable', 'error']) {
      expect(delta('wisp_view_sessions_total', { result })).toBe(0);
      expect(delta('wisp_publish_sessions_total', { result })).toBe(0);
    }
    const viewSetup = during.histogram('wisp_session_setup_seconds', { kind: 'view' })!;
    const publishSetup = during.histogram('wisp_session_setup_seconds', { kind: 'publish' })!;
    expect(viewSetup.count).toBe(VIEWERS);
    expect(publishSetup.count).toBe(1);
    expect(viewSetup.buckets['+Inf']).toBe(VIEWERS);
    expect(viewSetup.sum).toBeGreaterThan(0);
    expect(viewSetup.sum).toBeLessThan(VIEWERS * 10);

    // HTTP counters carry route patterns, never stream or session ids.
    const http = (method: string, route: string, status: string) =>
      count(during, 'wisp_http_requests_total', { method, route, status });
    expect(http('POST', '/whep/:streamId', '201')).toBe(VIEWERS);
    expect(http('POST', '/whep/:streamId', '409')).toBe(1);
    expect(http('POST', '/whip', '201')).toBe(1);
    expect(http('POST', '/whip', '401')).toBe(1);
    expect(http('POST', '/api/streams', '201')).toBe(1);
    const routes = during.samples('wisp_http_requests_total').map((s) => s.labels.route);
    expect(routes.filter((r) => r.includes(stream.id))).toEqual([]);
    expect(routes).not.toContain('/metrics');
    expect(
      during.histogram('wisp_http_request_duration_seconds', {
        method: 'POST',
        route: '/whep/:streamId',
      })?.count,
    ).toBe(VIEWERS + 1);

    // Media flows: mediasoup's transport bitrates, the worker's CPU.
    await expect
      .poll(
        async () =>
          (await scrape(t!.baseUrl)).value('wisp_egress_bits_per_second', { via: 'webrtc' }),
        {
          timeout: 5000,
        },
      )
      .toBeGreaterThan(10_000);
    const flowing = await scrape(t.baseUrl);
    expect(flowing.value('wisp_ingress_bits_per_second', { via: 'webrtc' })).toBeGreaterThan(
      10_000,
    );
    expect(flowing.value('wisp_egress_bits_per_second', { via: 'pipe' })).toBe(0);
    const cpu = flowing.samples('wisp_worker_cpu_ratio');
    expect(cpu.map((s) => s.labels.worker)).toEqual(['0']);
    expect(cpu[0].value).toBeGreaterThanOrEqual(0);
    expect(cpu[0].value).toBeLessThanOrEqual(1);
    expect(flowing.samples('wisp_node_info')).toEqual([
      {
        labels: {
          node: t.platform.config.cluster.nodeId,
          roles: 'control,ingest,edge,egress,recorder',
          region: 'default',
        },
        value: 1,
      },
    ]);
    expect(flowing.has('wisp_redis_up')).toBe(false);

    for (const viewer of viewers) await viewer.close();
    await expect.poll(async () => (await scrape(t!.baseUrl)).value('wisp_viewers')).toBe(0);
    await publisher.close();
    await expect.poll(async () => (await scrape(t!.baseUrl)).value('wisp_streams_live')).toBe(0);
  });

  it('enforces METRICS_TOKEN and turns /readyz to 503 while draining', async () => {
    t = await startPlatform({ MEDIASOUP_WORKERS: '1', METRICS_TOKEN: 'scrape-secret' });
    const open = await fetch(`${t.baseUrl}/metrics`);
    expect(open.status).toBe(401);
    expect(open.headers.get('content-type')).toBe('application/problem+json');
    const wrong = await fetch(`${t.baseUrl}/metrics`, {
      headers: { Authorization: 'Bearer nope' },
    });
    expect(wrong.status).toBe(401);
    // The admin token is not the metrics token.
    const admin = await fetch(`${t.baseUrl}/metrics`, {
      headers: { Authorization: `Bearer ${t.adminToken}` },
    });
    expect(admin.status).toBe(401);
    expect((await scrape(t.baseUrl, 'scrape-secret')).value('wisp_node_draining')).toBe(0);

    const ready = await fetch(`${t.baseUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      ready: true,
      checks: {
        workers: { ok: true, up: 1, total: 1 },
        store: { ok: true, kind: 'embedded' },
        node: { ok: true, state: 'serving' },
      },
    });

    await t.platform.node.drain();
    const draining = await fetch(`${t.baseUrl}/readyz`);
    expect(draining.status).toBe(503);
    const body = (await draining.json()) as {
      ready: boolean;
      checks: Record<string, { ok: boolean; state?: string }>;
    };
    expect(body.ready).toBe(false);
    expect(body.checks.node).toEqual({ ok: false, state: 'draining' });
    expect(body.checks.workers.ok).toBe(true);
    // Liveness is unchanged: the process runs.
    const health = await fetch(`${t.baseUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as { status: string }).status).toBe('ok');
    expect((await scrape(t.baseUrl, 'scrape-secret')).value('wisp_node_draining')).toBe(1);
  });

  it('shows the recorder at work: running, then finished ready (real ffmpeg)', async () => {
    t = await startPlatform({ MEDIASOUP_WORKERS: '1', RECORDINGS: 'on' });
    const stream = await t.createStream('recorded');
    const publisher = await WrtcPublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
    });
    closers.push(() => publisher.close());
    await publisher.waitConnected(10_000);
    await expect
      .poll(
        async () => (await scrape(t!.baseUrl)).value('wisp_recordings', { status: 'recording' }),
        {
          timeout: 10_000,
        },
      )
      .toBe(1);
    // Long enough for a segment (RECORDING_SEGMENT_SECONDS 4) to reach the storage.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    await publisher.close();
    await expect
      .poll(
        async () =>
          (await scrape(t!.baseUrl)).value('wisp_recordings_finished_total', { status: 'ready' }),
        { timeout: 30_000 },
      )
      .toBe(1);
    const done = await scrape(t.baseUrl);
    expect(done.value('wisp_recordings_finished_total', { status: 'failed' })).toBe(0);
    expect(done.sum('wisp_recordings')).toBe(0);
    expect(done.value('wisp_recording_upload_queue')).toBe(0);
    expect(done.value('wisp_ffmpeg_restarts_total')).toBe(0);
  });

  it('serves no /metrics with METRICS=off, and /readyz still', async () => {
    t = await startPlatform({ MEDIASOUP_WORKERS: '1', METRICS: 'off' });
    expect(t.platform.metrics).toBeUndefined();
    expect((await fetch(`${t.baseUrl}/metrics`)).status).toBe(404);
    expect((await fetch(`${t.baseUrl}/readyz`)).status).toBe(200);
    // Sessions still work without the middleware.
    const stream = await t.createStream();
    expect((await whipPost(t.baseUrl, stream.streamKey, sdpFixture('f2-browser'))).status).toBe(
      201,
    );
  });
});
