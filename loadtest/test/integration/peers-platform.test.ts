/**
 * The peer library against the real platform (`server/test/support/platform.ts`): real
 * mediasoup workers on 127.0.0.1, WHIP in, WHEP out. libwebrtc cannot decode H.264, so the
 * OBS-like (H.264) stream is watched by the packet-counting NdcViewer and the VP8 stream of
 * the libwebrtc publisher by the decoding WrtcViewer.
 */
import sdpTransform from 'sdp-transform';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPlatform, type TestPlatform } from '../../../server/test/support/platform.ts';
import {
  NdcViewer,
  ObsLikePublisher,
  WrtcPublisher,
  WrtcViewer,
  waitUntil,
} from '../../src/peers/index.ts';

let platform: TestPlatform;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  platform = await startPlatform();
});

afterEach(async () => {
  const errors: unknown[] = [];
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw errors[0];
});

afterAll(async () => {
  await platform?.stop();
});

function defer<T>(resource: T, cleanup: (resource: T) => unknown): T {
  cleanups.push(() => cleanup(resource));
  return resource;
}

async function isLive(streamId: string): Promise<boolean> {
  const response = await platform.api(`/api/streams/${streamId}`);
  return ((await response.json()) as { live: boolean }).live;
}

describe('peers against the platform', () => {
  it('ObsLikePublisher -> NdcViewer: H.264 and Opus packets; close() DELETEs', async () => {
    const stream = await platform.createStream('obs-like');
    const publisher = defer(
      await ObsLikePublisher.start({ whipUrl: stream.whipUrl, streamKey: stream.streamKey }),
      (p) => p.close(),
    );
    expect(publisher.location).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    await publisher.waitConnected(10_000);
    await waitUntil(() => publisher.packetsSent.video > 0, 5000, 'video sent');

    const viewer = defer(await NdcViewer.start({ whepUrl: stream.whepUrl }), (v) => v.close());
    await viewer.waitConnected(10_000);
    await viewer.waitForPackets('video', 50, 10_000);
    await viewer.waitForPackets('audio', 20, 10_000);
    await waitUntil(() => viewer.stats().video.keyframes > 0, 5000, 'an H.264 keyframe');
    const stats = viewer.stats();
    expect(stats.video.codec).toBe('H264');
    expect(stats.audio.codec).toBe('opus');
    expect(viewer.timeToFirstPacketMs('video')).toBeGreaterThan(0);
    expect(await isLive(stream.id)).toBe(true);

    // The DELETE ends the session at once, not after an inactivity timeout.
    await viewer.close();
    await publisher.close();
    const deadline = Date.now() + 3000;
    while ((await isLive(stream.id)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await isLive(stream.id)).toBe(false);
  });

  it('ObsLikePublisher with 3 simulcast layers is accepted and watched', async () => {
    const stream = await platform.createStream('obs-simulcast');
    const publisher = defer(
      await ObsLikePublisher.start({
        whipUrl: stream.whipUrl,
        streamKey: stream.streamKey,
        simulcastLayers: 3,
        videoBitrateKbps: 1500,
      }),
      (p) => p.close(),
    );
    // OBS aborts unless the answer accepts every layer it offered.
    const video = sdpTransform.parse(publisher.answerSdp).media.find((m) => m.type === 'video');
    expect(video?.simulcast?.list1).toBe('0;1;2');
    await publisher.waitConnected(10_000);

    const viewer = defer(await NdcViewer.start({ whepUrl: stream.whepUrl }), (v) => v.close());
    await viewer.waitForPackets('video', 50, 10_000);
    expect(Object.values(publisher.packetsSent.byRid).every((n) => n > 0)).toBe(true);
  });

  it('WrtcPublisher (VP8) -> WrtcViewer decodes frames and audio', async () => {
    const stream = await platform.createStream('wrtc');
    const publisher = defer(
      await WrtcPublisher.start({ whipUrl: stream.whipUrl, streamKey: stream.streamKey }),
      (p) => p.close(),
    );
    await publisher.waitConnected(10_000);

    const viewer = defer(await WrtcViewer.start({ whepUrl: stream.whepUrl }), (v) => v.close());
    await viewer.waitForFrames(10, 10_000);
    await viewer.waitForAudio(4800, 10_000);
    const stats = viewer.stats();
    expect(stats.width).toBe(320);
    expect(stats.height).toBe(240);
    expect(viewer.timeToFirstFrameMs).toBeGreaterThan(0);
  });
});
