/**
 * A publisher whose video the SFU cannot use must not fail silently: packets arrive, no
 * keyframe is ever recognised, so every viewer would wait forever. Real parts: the platform
 * with its mediasoup worker, a libdatachannel WHIP publisher sending VP8 RTP the worker's
 * parser rejects (or that never holds a keyframe), and an OBS-like publisher (H.264 from
 * ffmpeg, Opus) as the healthy case. Checked through `GET /api/streams/:id` and the log.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StreamView, TrackMediaView } from '@wisp/core';
import { NdcRtpPublisher, ObsLikePublisher, RTP_HEADER_SIZE, waitUntil } from '@wisp/loadtest';
import { captureLogs, type LogCapture } from '../support/logCapture.ts';
import { startPlatform, type TestPlatform } from '../support/platform.ts';

/** The ingest's default grace period (DEFAULT_NO_KEYFRAME_AFTER_MS). */
const NO_KEYFRAME_AFTER_MS = 5000;

let t: TestPlatform;
let logs: LogCapture;
const closers: (() => Promise<unknown> | void)[] = [];

beforeAll(async () => {
  logs = captureLogs();
  // The warning under test must be written whatever LOG_LEVEL the run has.
  t = await startPlatform({ LOG_LEVEL: 'warn' });
});

afterEach(async () => {
  while (closers.length) await Promise.resolve(closers.pop()!()).catch(() => undefined);
});

afterAll(async () => {
  await t?.stop();
  logs?.stop();
});

async function getStream(id: string): Promise<StreamView> {
  const response = await t.api(`/api/streams/${id}`);
  expect(response.status).toBe(200);
  return (await response.json()) as StreamView;
}

/** Polls the API until `predicate` holds for the stream's tracks; returns every sample. */
async function waitForTracks(
  id: string,
  predicate: (tracks: TrackMediaView[]) => boolean,
  timeoutMs: number,
): Promise<TrackMediaView[][]> {
  const seen: TrackMediaView[][] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const tracks = (await getStream(id)).media?.tracks ?? [];
    seen.push(tracks);
    if (predicate(tracks)) return seen;
    if (Date.now() > deadline) {
      throw new Error(`tracks never matched; last seen ${JSON.stringify(tracks)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The video track of one sample (these streams have exactly one). */
const videoOf = (tracks: TrackMediaView[]): TrackMediaView | undefined =>
  tracks.find((track) => track.kind === 'video');

/** VP8 RTP packets at 30 fps, one packet a frame, with the payload `payload(i)` makes. */
function sendVp8(publisher: NdcRtpPublisher, payload: (frame: number) => number[]): () => void {
  let frame = 0;
  const timer = setInterval(() => {
    const body = payload(frame);
    const packet = Buffer.alloc(RTP_HEADER_SIZE + body.length);
    packet[0] = 0x80;
    packet[1] = 0x80 | 96; // Marker: the frame ends here.
    packet.writeUInt16BE(frame & 0xffff, 2);
    packet.writeUInt32BE((frame * 3000) >>> 0, 4);
    packet.writeUInt32BE(1, 8); // Replaced by the publisher's announced SSRC.
    Buffer.from(body).copy(packet, RTP_HEADER_SIZE);
    publisher.sendRtp(packet);
    frame++;
  }, 33);
  return () => clearInterval(timer);
}

const filler = (n: number): number[] => Array.from({ length: n }, (_, i) => (i * 37) & 0xff);

describe('media health in the stream status', () => {
  it.each([
    // X = 1 and I = 1, but the packet ends before the PictureID: mediasoup's VP8 parser
    // gives up on it ("ignoring invalid payload"), as 3.8.4's did on every packet without X.
    ['a truncated VP8 payload descriptor', () => [0x90, 0x80]],
    // A valid descriptor without PictureID, but only inter frames (P bit set): the parser
    // accepts every packet and still never sees a keyframe.
    ['VP8 inter frames only', () => [0x10, 0x01, ...filler(200)]],
  ])('%s: no-keyframe after the grace period, logged once', async (_name, payload) => {
    const stream = await t.createStream('bad video');
    const publisher = await NdcRtpPublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
    });
    closers.push(() => publisher.close());
    await publisher.waitConnected(10_000);

    const before = await getStream(stream.id);
    expect(before.live).toBe(true);
    expect(before.media?.tracks).toEqual([
      {
        kind: 'video',
        mid: '0',
        codec: 'video/VP8',
        state: 'waiting',
        packetsReceived: 0,
        bytesReceived: 0,
        keyframesReceived: 0,
      },
    ]);

    await waitUntil(() => publisher.open, 5000, 'the video track to open');
    const sendingSince = performance.now();
    const stop = sendVp8(publisher, payload);
    closers.push(stop);

    const seen = (
      await waitForTracks(stream.id, (x) => videoOf(x)?.state === 'no-keyframe', 20_000)
    ).map(videoOf);
    const flaggedAfterMs = performance.now() - sendingSince;
    const flagged = seen.at(-1)!;
    expect(flaggedAfterMs).toBeGreaterThanOrEqual(NO_KEYFRAME_AFTER_MS);
    // Packets were seen while the track was still in its grace period.
    expect(seen.some((v) => v?.state === 'waiting' && v.packetsReceived > 0)).toBe(true);
    expect(flagged.packetsReceived).toBeGreaterThan(100);
    expect(flagged.bytesReceived).toBeGreaterThan(0);
    expect(flagged.keyframesReceived).toBe(0);
    expect(publisher.stats().videoPacketsSent).toBeGreaterThanOrEqual(flagged.packetsReceived);

    const warnings = () => logs.warnings({ name: 'TrackMonitor', streamId: stream.id });
    await waitUntil(() => warnings().length > 0, 3000, 'the warning to be logged');
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toMatchObject({ codec: 'video/VP8', kind: 'video', mid: '0' });
    expect(warnings()[0].packetsReceived).toBeGreaterThan(0);
    expect(warnings()[0].msg).toMatch(/no keyframe|without any keyframe/);

    // Still flagged, and still logged only once, a few polls later.
    const later = await waitForTracks(
      stream.id,
      (x) => (videoOf(x)?.packetsReceived ?? 0) > flagged.packetsReceived + 60,
      10_000,
    );
    expect(videoOf(later.at(-1)!)?.state).toBe('no-keyframe');
    expect(warnings()).toHaveLength(1);

    await publisher.close();
    await waitUntil(() => !t.platform.ingest.isLive(stream.id), 5000, 'the stream offline');
    const after = await getStream(stream.id);
    expect(after.live).toBe(false);
    expect(after).not.toHaveProperty('media');
  });

  it('a healthy H.264 + Opus publisher shows both tracks ok and logs no warning', async () => {
    const stream = await t.createStream('healthy');
    const publisher = await ObsLikePublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
    });
    closers.push(() => publisher.close());
    await publisher.waitConnected(10_000);

    const tracks = (
      await waitForTracks(
        stream.id,
        (x) => x.length === 2 && x.every((track) => track.state === 'ok'),
        15_000,
      )
    ).at(-1)!;
    const audio = tracks.find((x) => x.kind === 'audio');
    const video = tracks.find((x) => x.kind === 'video');
    expect(audio).toMatchObject({ codec: 'audio/opus', state: 'ok', keyframesReceived: null });
    expect(audio!.packetsReceived).toBeGreaterThan(0);
    expect(video).toMatchObject({ codec: 'video/H264', state: 'ok' });
    expect(video!.keyframesReceived).toBeGreaterThan(0);
    expect(video!.packetsReceived).toBeGreaterThan(0);
    expect(logs.warnings({ name: 'TrackMonitor', streamId: stream.id })).toEqual([]);
  });
});
