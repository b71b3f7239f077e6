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
