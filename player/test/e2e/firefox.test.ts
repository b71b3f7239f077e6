/**
 * End to end in a stock Firefox (Debian's firefox-esr, default ICE settings) against the real
 * platform: Firefox publishes its fake camera from /publish and another Firefox page plays it
 * on /watch/:id; and a Firefox viewer really gets bandwidth estimation, i.e. the SFU writes
 * transport-cc at the id Firefox negotiated (7, where mediasoup's own id is 5) and receives
 * Firefox's transport-cc feedback.
 */
import { existsSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import * as mediasoup from 'mediasoup';
import type { Browser, HTTPResponse, Page } from 'puppeteer-core';
import * as sdpTransform from 'sdp-transform';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { INITIAL_AVAILABLE_OUTGOING_BITRATE } from '@wisp/core/rtc';
import { WrtcPublisher } from '@wisp/loadtest';
import { startPlatform } from '../../../server/test/support/platform.ts';
import type { TestPlatform } from '../../../server/test/support/platform.ts';
import { buildPlayer } from '../../build.ts';
import { DEFAULT_DIST_DIR } from '../../src/index.ts';
import type { PlaybackStats, WispPlayerApi } from '../../src/index.ts';
import {
  collectPageProblems,
  lastPeerConnection,
  launchFirefox,
  recordPeerConnections,
  waitForPlayerState,
  waitForPublisherState,
  waitForVideoToAdvance,
} from '../support/firefox.ts';
import type { PeerConnectionSnapshot } from '../support/firefox.ts';

const TRANSPORT_CC = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';
/** What the SFU's estimate starts at, and stays at until transport-cc feedback arrives. */
const INITIAL_AVAILABLE_BITRATE = INITIAL_AVAILABLE_OUTGOING_BITRATE;

let t: TestPlatform;
let browser: Browser;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  // Firefox never pairs its host candidates with a loopback-only server candidate, so the
  // machine needs an address besides loopback for the server to announce.
  const external = Object.values(networkInterfaces())
    .flat()
    .filter((entry) => entry && !entry.internal && !(entry.family === 'IPv6' && entry.scopeid));
  if (external.length === 0) {
    throw new Error(
      'the Firefox tests need an interface address besides loopback (and link-local)',
    );
  }
  if (!existsSync(join(DEFAULT_DIST_DIR, 'watch.js'))) await buildPlayer();
  t = await startPlatform();
  browser = await launchFirefox();
}, 90_000);

afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

async function newPage(): Promise<Page> {
  const page = await browser.newPage();
  cleanups.push(() => page.close());
  return page;
}

function playerStats(page: Page): Promise<PlaybackStats> {
  return page.evaluate(() =>
    (window as unknown as { wispPlayer: WispPlayerApi }).wispPlayer.stats(),
  );
}

function describePair(pc: PeerConnectionSnapshot): string {
  const pair = pc.selectedPair;
  if (!pair) return 'no selected pair';
  const end = (c: typeof pair.local) => `${c.protocol} ${c.address}:${c.port} ${c.candidateType}`;
  return `${end(pair.local)} -> ${end(pair.remote)}`;
}

it('publishes from /publish in Firefox and plays on /watch/:id in Firefox', async () => {
  const stream = await t.createStream('firefox e2e');

  const publisher = await newPage();
  const publisherProblems = collectPageProblems(publisher);
  await recordPeerConnections(publisher);
  await publisher.goto(`${t.baseUrl}/publish?key=${encodeURIComponent(stream.streamKey)}`);
  await publisher.click('#go-live');
  await waitForPublisherState(publisher, 'live', 30_000);

  const viewer = await newPage();
  const viewerProblems = collectPageProblems(viewer);
  await recordPeerConnections(viewer);
  await viewer.goto(stream.playerUrl);
  await waitForPlayerState(viewer, 'playing', 30_000);
  await waitForVideoToAdvance(viewer, 1, 20_000);

  // Frames keep being decoded (not just a first keyframe), and the picture has a size.
  const before = await playerStats(viewer);
  await viewer.waitForFunction(
    async (decoded: number) => {
      const player = (window as unknown as { wispPlayer: WispPlayerApi }).wispPlayer;
      return (await player.stats()).framesDecoded >= decoded + 15;
    },
    { timeout: 20_000, polling: 200 },
    before.framesDecoded,
  );
  const after = await playerStats(viewer);
  expect(after.framesDecoded).toBeGreaterThan(before.framesDecoded);
  expect(after.bytesReceived).toBeGreaterThan(before.bytesReceived);
  expect(after.frameWidth).toBeGreaterThan(0);
  expect(after.frameHeight).toBeGreaterThan(0);
  const size = await viewer.evaluate(() => {
    const video = document.querySelector('video')!;
    return { width: video.videoWidth, height: video.videoHeight };
  });
  expect(size.width).toBeGreaterThan(0);
  expect(size.height).toBeGreaterThan(0);

  // Firefox offers no H.264 here, so this stream is VP8, VP9 or AV1 end to end.
  const published = await lastPeerConnection(publisher);
  const watched = await lastPeerConnection(viewer);
  expect(published.connectionState).toBe('connected');
  expect(watched.connectionState).toBe('connected');
  console.info(
    `firefox ${await browser.version()}: publisher ${describePair(published)}; ` +
      `viewer ${describePair(watched)}; ${size.width}x${size.height}, ` +
      `${after.framesDecoded} frames decoded`,
  );

  expect(publisherProblems).toEqual([]);
  expect(viewerProblems).toEqual([]);
}, 90_000);

it('a Firefox viewer gets transport-cc at its own extmap id, and the SFU gets its feedback', async () => {
  const stream = await t.createStream('firefox transport-cc');
  // libwebrtc (Chrome's stack) publishes VP8, which Firefox can decode.
  const publisher = await WrtcPublisher.start({
    whipUrl: stream.whipUrl,
    streamKey: stream.streamKey,
  });
  cleanups.push(() => publisher.close());
  await publisher.waitConnected(20_000);

  const viewer = await newPage();
  const viewerProblems = collectPageProblems(viewer);
  await recordPeerConnections(viewer);
  const sessionUrls: string[] = [];
  viewer.on('response', (response: HTTPResponse) => {
    const location = response.headers().location;
    if (response.request().method() === 'POST' && response.status() === 201 && location) {
      sessionUrls.push(new URL(location, response.url()).pathname);
    }
  });
  await viewer.goto(stream.playerUrl);
  await waitForPlayerState(viewer, 'playing', 30_000);

  // The SDP as Firefox itself holds it: its offer and the answer it applied.
  const pc = await lastPeerConnection(viewer);
  const offered = videoSection(pc.localSdp);
  const answered = videoSection(pc.remoteSdp);
  const firefoxId = offered.ext?.find((e) => e.uri === TRANSPORT_CC)?.value;
  expect(firefoxId, 'Firefox offers transport-cc').toBeDefined();
  // The test is only meaningful while Firefox's id differs from mediasoup's own one: a server
  // that forwarded packets with mediasoup's ids would then send transport-cc where Firefox
  // expects another extension (5 is Firefox's toffset).
  const mediasoupId = mediasoup
    .getSupportedRtpCapabilities()
    .headerExtensions?.find((e) => e.uri === TRANSPORT_CC && e.kind === 'video')?.preferredId;
  expect(firefoxId).not.toBe(mediasoupId);
  expect(answered.ext?.find((e) => e.uri === TRANSPORT_CC)?.value).toBe(firefoxId);
  const answeredPt = Number(String(answered.payloads).split(' ')[0]);
  expect(answered.rtcpFb ?? []).toContainEqual(
    expect.objectContaining({ payload: answeredPt, type: 'transport-cc' }),
  );

  // The server side of the same viewer: its consumer writes transport-cc at Firefox's id.
  expect(sessionUrls.length).toBeGreaterThan(0);
  const [, , streamId, sessionId] = sessionUrls.at(-1)!.split('/');
  expect(streamId).toBe(stream.id);
  const session = t.platform.edge.getSession(stream.id, sessionId);
  const video = session.consumers.find((c) => c.kind === 'video')!;
  expect(video.rtpParameters.headerExtensions).toContainEqual(
    expect.objectContaining({ uri: TRANSPORT_CC, id: firefoxId }),
  );

  // Only feedback moves the estimate: mediasoup's GoogCC runs feedback-only (receiver reports
  // and REMB do not feed it) and drops the periodic repeats of the initial value, so
  // availableOutgoingBitrate stays at exactly INITIAL_AVAILABLE_BITRATE until Firefox sends
  // transport-cc feedback, which it can only do if it finds its sequence numbers at its id.
  const transport = session.peer.transport;
  const startedAt = Date.now();
  const samples: number[] = [];
  let available: number | undefined;
  while (Date.now() - startedAt < 30_000) {
    const [stats] = await transport.getStats();
    available = stats?.availableOutgoingBitrate;
    if (available !== undefined) samples.push(available);
    if (available !== undefined && available !== INITIAL_AVAILABLE_BITRATE) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const [transportStats] = await transport.getStats();
  const tuple = transportStats?.iceSelectedTuple;
  console.info(
    `firefox viewer ${describePair(pc)} (server ${tuple?.protocol} ` +
      `${tuple?.localIp}:${tuple?.localPort} <- ${tuple?.remoteIp}:${tuple?.remotePort}); ` +
      `transport-cc id ${firefoxId}; availableOutgoingBitrate ${INITIAL_AVAILABLE_BITRATE} -> ` +
      `${available} after ${Date.now() - startedAt} ms`,
  );
  expect(available, 'the transport has a transport-cc bandwidth estimator').toBeDefined();
  expect(
    available,
    `availableOutgoingBitrate never left its initial value (${samples.length} readings, ` +
      `values ${[...new Set(samples)].join(', ')}): no transport-cc feedback from Firefox`,
  ).not.toBe(INITIAL_AVAILABLE_BITRATE);
  expect(available).toBeGreaterThan(0);

  expect(viewerProblems).toEqual([]);
}, 90_000);

function videoSection(sdp: string) {
  const section = sdpTransform.parse(sdp).media.find((m) => m.type === 'video');
  if (!section) throw new Error(`no video section in:\n${sdp}`);
  return section;
}
