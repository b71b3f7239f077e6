import type { types as ms } from 'mediasoup';
/**
 * Edge fan-out with real media: viewers spread over fan-out routers on every worker
 * (VIEWERS_PER_ROUTER), and viewers served straight from the ingest router
 * (EDGE_SERVE_FROM_SOURCE) when their payload types match the publisher's.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WrtcPublisher, WrtcViewer } from '@wisp/loadtest';
import { startPlatform, type TestPlatform } from '../support/platform.ts';

let t: TestPlatform | undefined;
const closers: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  while (closers.length) await closers.pop()!().catch(() => undefined);
  await t?.stop();
  t = undefined;
});

async function routerCount(platform: TestPlatform): Promise<number[]> {
  return (await platform.platform.pool.dump()).map((w) => w.routerIds.length);
}

describe('edge fan-out', () => {
  it('spreads viewers over fan-out routers on every worker, then frees them', async () => {
    t = await startPlatform({ VIEWERS_PER_ROUTER: '2', MEDIASOUP_WORKERS: '2' });
    const stream = await t.createStream();
    const publisher = await WrtcPublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
    });
    closers.push(() => publisher.close());
    await publisher.waitConnected(10_000);
    const viewers: WrtcViewer[] = [];
    for (let i = 0; i < 5; i++) {
      const viewer = await WrtcViewer.start({ whepUrl: stream.whepUrl });
      closers.push(() => viewer.close());
      viewers.push(viewer);
    }
    await Promise.all(viewers.map((v) => v.waitForFrames(5, 10_000)));
    // 1 ingest router + ceil(5 / 2) = 3 fan-out routers, on both workers.
    const routers = await routerCount(t);
    expect(routers.reduce((a, b) => a + b, 0)).toBe(4);
    expect(routers.every((n) => n > 0)).toBe(true);
    for (const viewer of viewers) await viewer.close();
    await expect.poll(() => routerCount(t!)).toEqual(expect.arrayContaining([0]));
    expect((await routerCount(t)).reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('serves matching viewers from the ingest router when EDGE_SERVE_FROM_SOURCE is on', async () => {
    t = await startPlatform({ EDGE_SERVE_FROM_SOURCE: 'true' });
    const stream = await t.createStream();
    const publisher = await WrtcPublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
    });
    closers.push(() => publisher.close());
    await publisher.waitConnected(10_000);
    const viewer = await WrtcViewer.start({ whepUrl: stream.whepUrl });
    closers.push(() => viewer.close());
    await viewer.waitForFrames(5, 10_000);
    expect((await routerCount(t)).reduce((a, b) => a + b, 0)).toBe(1);
    await viewer.close();
    // The viewer leaving must not close the publisher's router.
    await new Promise((r) => setTimeout(r, 200));
    expect(t.platform.ingest.isLive(stream.id)).toBe(true);
    const again = await WrtcViewer.start({ whepUrl: stream.whepUrl });
    closers.push(() => again.close());
    await again.waitForFrames(5, 10_000);
  });
});

describe('edge join/leave races', () => {
  // Regression: the last viewer leaving while another viewer's session was being set up
  // closed the fan-out router (and the edge stream) under the join, which then failed with
  // 422/500. A join now holds a reservation that counts as a viewer until attach or release.
  it('a reservation keeps the router and the stream open while the last viewer leaves', async () => {
    const { publishFixture } = await import('../support/http.ts');
    const { sdpFixture } = await import('../support/fixtures.ts');
    const { EdgeStream, WhepSession, planView } = await import('@wisp/edge');
    t = await startPlatform({ SESSION_CONNECT_TIMEOUT_MS: '60000' });
    const { platform, config } = { platform: t.platform, config: t.platform.config };
    const stream = await t.createStream();
    await publishFixture(t.baseUrl, stream.streamKey, 'f2-browser');
    const lease = (await platform.ingest.acquire(stream.id))!;
    const edge = new EdgeStream({ lease, pool: platform.pool, viewersPerRouter: 250 });
    const plan = planView(sdpFixture('w1-whep-browser'), edge.tracks);
    const create = (reservation: { router: ms.Router; producerIds: ReadonlyMap<string, string> }) =>
      WhepSession.create({
        id: crypto.randomUUID(),
        streamId: stream.id,
        router: reservation.router,
        producerIds: reservation.producerIds,
        plan,
        media: config.media,
        session: config.session,
      });

    const first = await edge.reserve(plan);
    const firstSession = await create(first);
    first.attach(firstSession);
    const second = await edge.reserve(plan);
    expect(second.router).toBe(first.router);

    firstSession.close('deleted'); // The only attached viewer leaves mid-join.
    expect(second.router.closed).toBe(false);
    expect(edge.closed).toBe(false);
    const secondSession = await create(second);
    second.attach(secondSession);
    expect(edge.viewerCount).toBe(1);

    // A failed setup gives its place back; the last one out closes everything it opened.
    const third = await edge.reserve(plan);
    third.release();
    third.release();
    expect(edge.closed).toBe(false);
    secondSession.close('deleted');
    expect(edge.closed).toBe(true);
    expect(second.router.closed).toBe(true);
  });
});
