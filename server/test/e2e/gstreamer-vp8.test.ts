/**
 * Issue "VP8 without PictureID": a real GStreamer pipeline (`vp8enc ! rtpvp8pay`, whose
 * default `picture-id-mode=none` leaves the PictureID out, as RFC 7741 allows) publishes over
 * WHIP through libdatachannel, and viewers must really get the picture: Debian Chromium on
 * the player page and the libwebrtc viewer both decode 640x360 frames, and the stream's
 * status shows the video track `ok` with keyframes. With mediasoup 3.8.4 the 201 came, but
 * its VP8 parser gave up on every packet without the extended header, no keyframe was ever
 * seen, and every consumer dropped the video: each of these checks failed then.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamView } from '@wisp/core';
import { GstVp8Publisher, WrtcViewer, waitUntil } from '@wisp/loadtest';
import { launchChromium } from '../../../player/test/support/browser.ts';
import { playUntilAdvanced } from '../../../player/test/support/pages.ts';
import { startPlatform, type TestPlatform } from '../support/platform.ts';

let t: TestPlatform;
let browser: Browser;
let stream: Awaited<ReturnType<TestPlatform['createStream']>>;
let publisher: GstVp8Publisher;

beforeAll(async () => {
  t = await startPlatform();
  browser = await launchChromium();
  stream = await t.createStream('gstreamer vp8');
  publisher = await GstVp8Publisher.start({
    whipUrl: stream.whipUrl,
    streamKey: stream.streamKey,
    width: 640,
    height: 360,
  });
  await publisher.waitConnected(10_000);
  // A keyframe a second: the first one usually goes before DTLS is up, the next one counts.
  await waitUntil(
    () => publisher.stats().keyframesSent > 0,
    10_000,
    `GStreamer's first keyframe to be sent (stderr: ${publisher.gstreamerStderr()})`,
  );
});

afterAll(async () => {
  await publisher?.close();
  await browser?.close();
  await t?.stop();
});

describe('GStreamer VP8 without PictureID -> viewers', () => {
  it('forwards GStreamer packets whose payload descriptors carry no PictureID', () => {
    const stats = publisher.stats();
    expect(stats.packetsWithoutPictureId).toBeGreaterThan(0);
    expect(stats.packetsWithPictureId).toBe(0);
    expect(stats.packetsWithBadDescriptor).toBe(0);
    expect(stats.videoPacketsSent).toBe(stats.packetsWithoutPictureId);
  });

  it('Debian Chromium plays it on the player page at 640x360', async () => {
    const page = await browser.newPage();
    try {
      const played = await playUntilAdvanced(page, stream.playerUrl);
      expect(played.framesDecoded).toBeGreaterThan(10);
      expect({ width: played.width, height: played.height }).toEqual({ width: 640, height: 360 });
    } finally {
      await page.close();
    }
  });

  it('the libwebrtc viewer decodes 640x360 frames', async () => {
    const viewer = await WrtcViewer.start({ whepUrl: stream.whepUrl });
    try {
      await viewer.waitConnected(10_000);
      await viewer.waitForFrames(30, 15_000);
      const stats = viewer.stats();
      expect(stats.width).toBe(640);
      expect(stats.height).toBe(360);
      const video = (await viewer.inboundRtpStats()).video;
      expect(video?.keyFramesDecoded).toBeGreaterThan(0);
    } finally {
      await viewer.close();
    }
  });

  it('the stream status shows the VP8 track ok, with keyframes', async () => {
    const response = await t.api(`/api/streams/${stream.id}`);
    expect(response.status).toBe(200);
    const view = (await response.json()) as StreamView;
    expect(view.live).toBe(true);
    const tracks = view.media?.tracks ?? [];
    expect(tracks).toHaveLength(1);
    expect(tracks[0]).toMatchObject({ kind: 'video', codec: 'video/VP8', state: 'ok' });
    expect(tracks[0].keyframesReceived).toBeGreaterThan(0);
    expect(tracks[0].packetsReceived).toBeGreaterThan(0);
  });
});
