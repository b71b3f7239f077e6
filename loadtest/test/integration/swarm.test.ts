/**
 * The viewer swarm against a real platform: a libwebrtc VP8 publisher (which both kinds of
 * viewer can receive, and the libwebrtc viewers decode), a mix of cheap and decoding viewers,
 * a second ramp, per-viewer stats, and a close that leaves no session behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlatform, type TestPlatform } from '../../../server/test/support/platform.ts';
import { WrtcPublisher, sleep, waitUntil } from '../../src/peers/index.ts';
import { Swarm, type SwarmProgress } from '../../src/swarm/index.ts';

let platform: TestPlatform;

beforeAll(async () => {
  platform = await startPlatform();
});

afterAll(async () => {
  await platform?.stop();
});

describe('Swarm', () => {
  it('ramps a mix of viewers, reports their stats and closes every session', async () => {
    const stream = await platform.createStream('swarm');
    const publisher = await WrtcPublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
    });
    let swarm: Swarm | undefined;
    try {
      await publisher.waitConnected(10_000);
      await waitUntil(() => platform.platform.ingest.isLive(stream.id), 5000, 'the stream live');
      const progress: SwarmProgress[] = [];
      swarm = await Swarm.start({
        whepUrl: stream.whepUrl,
        viewers: 4,
        kind: 'mix',
        wrtcShare: 0.5,
        rampPerSecond: 20,
        ndcVideoCodecs: ['VP8'],
        maxDurationMs: 60_000,
        sampleIntervalMs: 500,
        onProgress: (p) => progress.push(p),
      });
      expect(swarm.counts()).toMatchObject({ target: 4, started: 4, connected: 4, failed: 0 });

      await swarm.rampTo(6);
      const s = swarm;
      await waitUntil(
        () => s.viewerStats().every((v) => v.bitrateKbps !== undefined && v.bitrateKbps > 0),
        10_000,
        'every viewer to receive media',
      );
      await waitUntil(
        () => s.viewerStats().every((v) => v.kind === 'ndc' || v.firstFrameMs !== undefined),
        10_000,
        'every decoding viewer to decode a frame',
      );
      const stats = swarm.viewerStats();
      expect(stats).toHaveLength(6);
      expect(stats.filter((v) => v.kind === 'wrtc')).toHaveLength(3);
      for (const viewer of stats) {
        expect(viewer.state).toBe('connected');
        expect(viewer.postMs).toBeGreaterThan(0);
        expect(viewer.connectMs).toBeGreaterThan(0);
        expect(viewer.packets).toBeGreaterThan(0);
        if (viewer.kind === 'ndc') expect(viewer.firstPacketMs).toBeGreaterThan(0);
        // Every viewer reports sequence-gap loss (ndc through NdcViewer's onRtp hook).
        expect(viewer.packetsLost).toBeGreaterThanOrEqual(0);
        expect(viewer.lossPct).toBeLessThan(5);
      }
      const summary = swarm.summary();
      expect(summary.counts.connected).toBe(6);
      expect(summary.byKind).toEqual({ ndc: 3, wrtc: 3 });
      expect(summary.bitrateKbps?.count).toBe(6);
      expect(summary.firstFrameMs?.count).toBe(3);
      expect(summary.errors).toEqual({});
      expect(progress.length).toBeGreaterThan(0);
      expect(progress.at(-1)?.line).toMatch(/viewers \d+\/6 connected/);

      const snapshot = await swarm.snapshot();
      expect(snapshot.viewers.map((v) => v.index).sort()).toEqual([0, 1, 2, 3, 4, 5]);
      expect(platform.platform.edge.viewerCount()).toBe(6);
    } finally {
      await swarm?.close();
      await publisher.close();
    }
    // Every viewer DELETEd its session.
    await waitUntil(() => platform.platform.edge.viewerCount() === 0, 5000, 'no viewers left');
    expect(swarm.closed).toBe(true);
    expect(swarm.counts().closed).toBe(6);
  }, 60_000);

  it('records failed joins with their reason instead of throwing', async () => {
    const swarm = await Swarm.start({
      whepUrl: `${platform.baseUrl}/whep/no-such-stream`,
      viewers: 2,
      rampPerSecond: 50,
      maxDurationMs: 30_000,
    });
    try {
      const summary = swarm.summary();
      expect(summary.counts).toMatchObject({ started: 2, failed: 2, connected: 0 });
      const [reason] = Object.keys(summary.errors);
      expect(reason).toMatch(/^HTTP 4\d\d/);
    } finally {
      await swarm.close();
    }
  }, 30_000);

  it('closes itself after maxDurationMs and when its signal aborts', async () => {
    const bounded = await Swarm.start({
      whepUrl: `${platform.baseUrl}/whep/no-such-stream`,
      viewers: 0,
      maxDurationMs: 200,
    });
    const abort = new AbortController();
    const aborted = await Swarm.start({
      whepUrl: `${platform.baseUrl}/whep/no-such-stream`,
      viewers: 0,
      signal: abort.signal,
    });
    abort.abort();
    await sleep(400);
    expect(bounded.closed).toBe(true);
    expect(aborted.closed).toBe(true);
  });
});
