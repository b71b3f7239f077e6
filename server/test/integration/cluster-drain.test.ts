/**
 * Draining an edge with viewers in a real cluster (LocalCluster: redis-server, a front door,
 * one ingest and three edges, each its own process; libwebrtc viewers that decode). Over the
 * admin API and with SIGTERM: the edge goes `draining` at once, the front door sends nobody
 * there any more, its viewers end up on the other edges and keep decoding (those following
 * the WHEP `reconnect` event make-before-break, the others closed and back through the front
 * door), and the node exits 0. The gap each viewer saw is measured and printed.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WrtcViewer, type FollowOptions } from '@wisp/loadtest';
import { LocalCluster } from '../../src/cluster/LocalCluster.ts';
import {
  closeAll,
  closers,
  createStream,
  getStream,
  publish,
  type CreatedStream,
} from '../support/cluster.ts';

afterEach(closeAll);

const ENV = {
  DRAIN_SPREAD_MS: '3000',
  DRAIN_GRACE_MS: '3000',
  DRAIN_TIMEOUT_MS: '30000',
};

/** A viewer that starts on `node` (POSTed there directly) and follows drains. */
async function viewerOn(
  cluster: LocalCluster,
  stream: CreatedStream,
  node: string,
  follow: FollowOptions = {},
): Promise<WrtcViewer> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const viewer = await WrtcViewer.start({
        whepUrl: stream.whepUrl,
        startUrl: `${cluster.node(node).url}/whep/${stream.id}`,
        follow,
      });
      closers.push(() => viewer.close());
      return viewer;
    } catch (error) {
      // The stream turns live in the registry a moment after the publisher connects.
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

function nodeOf(cluster: LocalCluster, viewer: WrtcViewer): string | undefined {
  return [...cluster.nodes.values()].find((n) => viewer.location?.startsWith(`${n.url}/`))?.spec.id;
}

/** Where the front door sends new viewers, sampled every 100 ms until stopped. */
function watchRedirects(cluster: LocalCluster, streamId: string): () => Promise<string[]> {
  const targets: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const response = await fetch(`${cluster.frontDoor}/whep/${streamId}`, {
        method: 'POST',
        redirect: 'manual',
      }).catch(() => undefined);
      const location = response?.headers.get('location');
      if (location) {
        const origin = new URL(location).origin;
        targets.push([...cluster.nodes.values()].find((n) => n.url === origin)?.spec.id ?? origin);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return async () => {
    running = false;
    await loop;
    return targets;
  };
}

function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  return `median ${median.toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms (${sorted
    .map((v) => v.toFixed(0))
    .join(', ')})`;
}

/** Every viewer off `drained`, decoding again, and its move recorded. */
async function expectMovedOff(
  cluster: LocalCluster,
  viewers: WrtcViewer[],
  drained: string,
  timeoutMs: number,
): Promise<void> {
  await expect
    .poll(() => viewers.filter((v) => v.moves.length > 0).length, {
      timeout: timeoutMs,
      interval: 200,
    })
    .toBe(viewers.length);
  for (const viewer of viewers) {
    expect(nodeOf(cluster, viewer)).not.toBe(drained);
    const frames = viewer.framesDecoded;
    await expect.poll(() => viewer.framesDecoded, { timeout: 5000 }).toBeGreaterThan(frames + 5);
  }
}

describe('drain of an edge over the admin API', () => {
  let cluster: LocalCluster;
  beforeAll(async () => {
    cluster = await LocalCluster.start({ edges: 3, output: 'collect', env: ENV });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('moves every viewer to other edges make-before-break, and the edge exits', async () => {
    const stream = await createStream(cluster);
    await publish(stream);
    const moving: WrtcViewer[] = [];
    for (let i = 0; i < 6; i++) moving.push(await viewerOn(cluster, stream, 'edge-1'));
    const staying = [
      await viewerOn(cluster, stream, 'edge-2'),
      await viewerOn(cluster, stream, 'edge-3'),
    ];
    const all = [...moving, ...staying];
    await Promise.all(all.map((v) => v.waitForFrames(10, 15_000)));
    await expect
      .poll(async () => (await getStream(cluster, stream.id)).distribution?.length, {
        timeout: 5000,
      })
      .toBe(3);

    expect((await cluster.api('/api/nodes/nope/drain', { method: 'POST' })).status).toBe(404);
    expect(
      (await fetch(`${cluster.frontDoor}/api/nodes/edge-1/drain`, { method: 'POST' })).status,
    ).toBe(401);
    for (const v of all) v.resetLongestFrameGap();
    const drainedAt = Date.now();
    const response = await cluster.api('/api/nodes/edge-1/drain', { method: 'POST' });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ id: 'edge-1', state: 'draining' });
    await expect
      .poll(async () => (await cluster.listNodes()).find((n) => n.id === 'edge-1')?.state, {
        timeout: 3000,
        interval: 100,
      })
      .toBe('draining');
    // From the moment the registry says so, the front door sends nobody there.
    const stopWatching = watchRedirects(cluster, stream.id);

    await expectMovedOff(cluster, moving, 'edge-1', 15_000);
    const edge1 = cluster.node('edge-1');
    expect(await edge1.exited).toBe(0);
    const exitedMs = Date.now() - drainedAt;
    const redirects = await stopWatching();

    // Make-before-break: each moved viewer switched on its new session's first frame.
    expect(moving.every((v) => v.moves.every((m) => m.kind === 'reconnect'))).toBe(true);
    const gaps = moving.map((v) => v.longestFrameGapMs);
    const backs = moving.map((v) => v.moves[0].backMs);
    console.info(
      `drain over the API, ${moving.length} viewers following reconnect: ` +
        `longest frame gap ${summary(gaps)}; reconnect event to first new frame ${summary(backs)}; ` +
        `viewers on the other edges meanwhile: longest frame gap ` +
        `${summary(staying.map((v) => v.longestFrameGapMs))}; node exited after ${exitedMs} ms`,
    );
    expect(Math.max(...gaps)).toBeLessThan(1000);
    // The viewers elsewhere never noticed.
    expect(staying.every((v) => v.moves.length === 0)).toBe(true);
    expect(Math.max(...staying.map((v) => v.longestFrameGapMs))).toBeLessThan(1000);
    // Nobody was sent to the draining node, and the registry has it no more.
    expect(redirects.length).toBeGreaterThan(10);
    expect(redirects).not.toContain('edge-1');
    await expect
      .poll(async () => (await getStream(cluster, stream.id)).distribution, { timeout: 5000 })
      .toEqual(expect.not.arrayContaining([expect.objectContaining({ node: 'edge-1' })]));
    await expect
      .poll(
        async () =>
          ((await getStream(cluster, stream.id)).distribution ?? []).reduce(
            (n, d) => n + d.viewers,
            0,
          ),
        { timeout: 5000 },
      )
      .toBe(all.length);
  });
});

describe('drain of an edge with SIGTERM', () => {
  let cluster: LocalCluster;
  beforeAll(async () => {
    cluster = await LocalCluster.start({ edges: 3, output: 'collect', env: ENV });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('refuses new viewers, closes those without events (they come back), and exits', async () => {
    const stream = await createStream(cluster);
    await publish(stream);
    const following = [
      await viewerOn(cluster, stream, 'edge-2'),
      await viewerOn(cluster, stream, 'edge-2'),
      await viewerOn(cluster, stream, 'edge-2'),
    ];
    // Clients that do not know the events extension: closed by the edge, they POST again.
    const plain = [
      await viewerOn(cluster, stream, 'edge-2', { reconnect: false }),
      await viewerOn(cluster, stream, 'edge-2', { reconnect: false }),
      await viewerOn(cluster, stream, 'edge-2', { reconnect: false }),
    ];
    const moving = [...following, ...plain];
    await Promise.all(moving.map((v) => v.waitForFrames(10, 15_000)));
    for (const v of moving) v.resetLongestFrameGap();
    const node = cluster.node('edge-2');
    const drainedAt = Date.now();
    node.process.kill('SIGTERM');
    await expect
      .poll(async () => (await cluster.listNodes()).find((n) => n.id === 'edge-2')?.state, {
        timeout: 3000,
        interval: 100,
      })
      .toBe('draining');
    const stopWatching = watchRedirects(cluster, stream.id);
    // The node itself refuses new viewers.
    const direct = await fetch(`${node.url}/whep/${stream.id}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp' },
      body: 'v=0\r\n',
    });
    expect(direct.status).toBe(503);

    await expectMovedOff(cluster, moving, 'edge-2', 20_000);
    expect(await node.exited).toBe(0);
    const exitedMs = Date.now() - drainedAt;
    const redirects = await stopWatching();
    expect(redirects).not.toContain('edge-2');

    expect(following.every((v) => v.moves[0].kind === 'reconnect')).toBe(true);
    expect(plain.every((v) => v.moves[0].kind === 'repost')).toBe(true);
    const reconnectGaps = following.map((v) => v.longestFrameGapMs);
    const repostGaps = plain.map((v) => v.moves[0].gapMs);
    console.info(
      `drain by SIGTERM: following reconnect, longest frame gap ${summary(reconnectGaps)}; ` +
        `closed and back, gap ${summary(repostGaps)}; node exited after ${exitedMs} ms`,
    );
    expect(Math.max(...reconnectGaps)).toBeLessThan(1000);
    // A close costs a reconnect: noticing it, a new session, a keyframe.
    expect(Math.max(...repostGaps)).toBeLessThan(5000);
  });
});

describe('drain of a relay that feeds an edge', () => {
  let cluster: LocalCluster;
  beforeAll(async () => {
    cluster = await LocalCluster.start({ edges: 1, relays: 2, output: 'collect', env: ENV });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('the edge pulls through the other relay and moves its viewers to the new pull', async () => {
    const stream = await createStream(cluster);
    await publish(stream);
    const following = [
      await viewerOn(cluster, stream, 'edge-1'),
      await viewerOn(cluster, stream, 'edge-1'),
      await viewerOn(cluster, stream, 'edge-1'),
    ];
    const plain = [
      await viewerOn(cluster, stream, 'edge-1', { reconnect: false }),
      await viewerOn(cluster, stream, 'edge-1', { reconnect: false }),
    ];
    const viewers = [...following, ...plain];
    await Promise.all(viewers.map((v) => v.waitForFrames(10, 15_000)));
    const parentOf = async (node: string) =>
      (await getStream(cluster, stream.id)).distribution?.find((d) => d.node === node)?.parent;
    await expect.poll(() => parentOf('edge-1'), { timeout: 5000 }).toMatch(/^relay-/);
    const relay = (await parentOf('edge-1'))!;
    const otherRelay = relay === 'relay-1' ? 'relay-2' : 'relay-1';
    for (const v of viewers) v.resetLongestFrameGap();
    const drainedAt = Date.now();
    expect((await cluster.api(`/api/nodes/${relay}/drain`, { method: 'POST' })).status).toBe(202);

    // Every viewer moved once, still on edge-1 (the only edge), now fed through the other relay.
    await expect
      .poll(() => viewers.filter((v) => v.moves.length > 0).length, { timeout: 20_000 })
      .toBe(viewers.length);
    for (const viewer of viewers) {
      expect(nodeOf(cluster, viewer)).toBe('edge-1');
      const frames = viewer.framesDecoded;
      await expect.poll(() => viewer.framesDecoded, { timeout: 5000 }).toBeGreaterThan(frames + 5);
    }
    await expect.poll(() => parentOf('edge-1'), { timeout: 5000 }).toBe(otherRelay);
    // The relay exits once the edge released the old pipe.
    expect(await cluster.node(relay).exited).toBe(0);
    const exitedMs = Date.now() - drainedAt;
    const reconnectGaps = following.map((v) => v.longestFrameGapMs);
    const repostGaps = plain.map((v) => v.moves[0].gapMs);
    console.info(
      `drain of ${relay}: following reconnect, longest frame gap ${summary(reconnectGaps)}; ` +
        `closed and back, gap ${summary(repostGaps)}; relay exited after ${exitedMs} ms`,
    );
    expect(following.every((v) => v.moves[0].kind === 'reconnect')).toBe(true);
    expect(Math.max(...reconnectGaps)).toBeLessThan(1000);
    expect(Math.max(...repostGaps)).toBeLessThan(5000);
  });
});
