/**
 * Self-tests of the peer library without the platform: each peer is connected in-process to
 * another real WebRTC stack through an injected `signal` function, on this machine only.
 */
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import sdpTransform from 'sdp-transform';
import { afterEach, describe, expect, it } from 'vitest';
import {
  NdcViewer,
  ObsLikePublisher,
  SignalingError,
  WrtcPublisher,
  WrtcViewer,
  waitUntil,
} from '../../src/peers/index.ts';
import { NdcAnswerer } from '../support/NdcAnswerer.ts';
import { WrtcRelay } from '../support/WrtcRelay.ts';

/** Cleanups run in reverse order after every test, passed or failed. */
const cleanups: (() => unknown)[] = [];
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

function defer<T>(resource: T, cleanup: (resource: T) => unknown): T {
  cleanups.push(() => cleanup(resource));
  return resource;
}

/** PIDs of ffmpeg processes that are children of this test process. */
function ffmpegChildren(): number[] {
  try {
    const out = execFileSync('pgrep', ['-P', String(process.pid), 'ffmpeg'], { encoding: 'utf8' });
    return out.split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches.
  }
}

describe('ObsLikePublisher -> libdatachannel peer', () => {
  it('offers like OBS and sends H.264 and Opus RTP', async () => {
    const answerer = defer(new NdcAnswerer({ bindAddress: '127.0.0.1' }), (a) => a.close());
    const publisher = defer(
      await ObsLikePublisher.start({ signal: answerer.signal, bindAddress: '127.0.0.1' }),
      (p) => p.close(),
    );

    // The offer has OBS's shape: no candidates, audio mid 0 Opus/111, video mid 1 H264/96.
    const offer = sdpTransform.parse(publisher.offerSdp);
    expect(publisher.offerSdp).not.toMatch(/a=candidate/);
    expect(offer.groups?.[0]).toMatchObject({ type: 'BUNDLE', mids: '0 1' });
    const [audio, video] = offer.media;
    // sdp-transform parses numeric mids as numbers.
    expect(audio).toMatchObject({ type: 'audio', mid: 0, direction: 'sendonly' });
    expect(audio.rtp).toEqual([expect.objectContaining({ payload: 111, codec: 'opus' })]);
    expect(video).toMatchObject({ type: 'video', mid: 1, direction: 'sendonly' });
    expect(video.rtp).toEqual([expect.objectContaining({ payload: 96, codec: 'H264' })]);
    expect(video.fmtp[0].config).toContain('profile-level-id=42e01f');
    expect(video.fmtp[0].config).toContain('packetization-mode=1');
    expect(video.ssrcs?.map((s) => s.id)).toContain(publisher.ssrcs.video['0']);
    expect(audio.ssrcs?.map((s) => s.id)).toContain(publisher.ssrcs.audio);

    await publisher.waitConnected(5000);
    await waitUntil(
      () =>
        (answerer.counters('1')?.keyframePackets ?? 0) > 0 &&
        (answerer.counters('0')?.packets ?? 0) > 10,
      8000,
      'a keyframe and audio at the answerer',
    );
    const videoIn = answerer.counters('1')!;
    const audioIn = answerer.counters('0')!;
    expect([...videoIn.payloadTypes]).toEqual([96]);
    expect([...videoIn.packetsBySsrc.keys()]).toEqual([publisher.ssrcs.video['0']]);
    expect([...videoIn.packetsByRid.keys()]).toEqual(['0']);
    expect([...audioIn.payloadTypes]).toEqual([111]);
    expect(publisher.packetsSent.video).toBeGreaterThan(0);
    expect(publisher.packetsSent.audio).toBeGreaterThan(0);
  });

  it('answers a NACK by retransmitting and counts PLIs', async () => {
    const answerer = defer(new NdcAnswerer({ bindAddress: '127.0.0.1' }), (a) => a.close());
    const publisher = defer(
      await ObsLikePublisher.start({
        signal: answerer.signal,
        bindAddress: '127.0.0.1',
        audio: false,
      }),
      (p) => p.close(),
    );
    await publisher.waitConnected(5000);
    const ssrc = publisher.ssrcs.video['0'];
    await waitUntil(() => (answerer.counters('1')?.packets ?? 0) > 20, 8000, 'video packets');
    const before = answerer.counters('1')!.packetsBySsrc.get(ssrc)!;
    const lost = answerer.lastSequenceNumber(ssrc)! - 5;
    // Generic NACK (RFC 4585 6.2.1) for `lost` and the two after it, then a PLI.
    const nack = Buffer.alloc(16);
    nack.writeUInt8(0x81, 0);
    nack.writeUInt8(205, 1);
    nack.writeUInt16BE(3, 2);
    nack.writeUInt32BE(1, 4);
    nack.writeUInt32BE(ssrc, 8);
    nack.writeUInt16BE(lost & 0xffff, 12);
    nack.writeUInt16BE(0b11, 14);
    const pli = Buffer.from(nack.subarray(0, 12));
    pli.writeUInt8(0x81, 0);
    pli.writeUInt8(206, 1);
    pli.writeUInt16BE(2, 2);
    expect(answerer.sendRtcp('1', nack)).toBe(true);
    expect(answerer.sendRtcp('1', pli)).toBe(true);
    await waitUntil(() => publisher.stats().plisReceived > 0, 3000, 'the PLI at the publisher');
    const stats = publisher.stats();
    expect(stats.nacksReceived).toBe(1);
    expect(stats.packetsRetransmitted).toBe(3);
    await waitUntil(
      () => answerer.counters('1')!.packetsBySsrc.get(ssrc)! >= before + 3,
      3000,
      'the retransmissions at the answerer',
    );
  });

  it('sends OBS 32-style simulcast: RIDs 0..2 on one video m-line', async () => {
    const answerer = defer(new NdcAnswerer({ bindAddress: '127.0.0.1' }), (a) => a.close());
    const publisher = defer(
      await ObsLikePublisher.start({
        signal: answerer.signal,
        bindAddress: '127.0.0.1',
        audio: false,
        simulcastLayers: 3,
        videoBitrateKbps: 1200,
      }),
      (p) => p.close(),
    );

    const [video] = sdpTransform.parse(publisher.offerSdp).media;
    expect(video).toMatchObject({ type: 'video', mid: 1 });
    expect(video.rids?.map((r) => `${r.id} ${r.direction}`)).toEqual([
      '0 send',
      '1 send',
      '2 send',
    ]);
    expect(video.simulcast?.list1).toBe('0;1;2');
    expect(video.ext?.map((e) => e.uri)).toEqual([
      'urn:ietf:params:rtp-hdrext:sdes:mid',
      'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
    ]);

    await publisher.waitConnected(5000);
    // A video-only peer has one track, which receives every SSRC of the m-line.
    await waitUntil(
      () => (answerer.counters('1')?.packetsByRid.size ?? 0) === 3,
      8000,
      'packets of all three layers',
    );
    const byRid = answerer.counters('1')!.packetsByRid;
    expect(byRid.get('0')).toBeGreaterThan(0);
    expect(byRid.get('2')).toBeGreaterThan(0);
    expect(Object.keys(publisher.packetsSent.byRid)).toEqual(['0', '1', '2']);
    expect([...answerer.counters('1')!.packetsBySsrc.keys()].sort()).toEqual(
      Object.values(publisher.ssrcs.video).sort(),
    );
  });

  it('close() and kill() stop ffmpeg and are idempotent', async () => {
    const answerer = defer(new NdcAnswerer({ bindAddress: '127.0.0.1' }), (a) => a.close());
    const first = defer(
      await ObsLikePublisher.start({
        signal: answerer.signal,
        bindAddress: '127.0.0.1',
        audio: false,
      }),
      (p) => p.close(),
    );
    expect(ffmpegChildren().length).toBeGreaterThan(0);
    await Promise.all([first.kill(), first.close()]);
    await first.close();
    expect(first.closeReason).toBe('killed');
    expect(first.connectionState).toBe('closed');
    expect(ffmpegChildren()).toEqual([]);
    await expect(first.waitConnected(100)).rejects.toThrow(/closed/);
  });
});

describe('start() failures', () => {
  it('rejects with a SignalingError and leaves nothing running', async () => {
    // Port 9 (discard) on loopback: nothing listens, the POST is refused at once.
    const error = await ObsLikePublisher.start({
      whipUrl: 'http://127.0.0.1:9/whip/x',
      streamKey: 'k',
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SignalingError);
    expect(ffmpegChildren()).toEqual([]);
    await expect(WrtcViewer.start({ whepUrl: 'http://127.0.0.1:9/whep/x' })).rejects.toBeInstanceOf(
      SignalingError,
    );
    await expect(NdcViewer.start({ whepUrl: 'http://127.0.0.1:9/whep/x' })).rejects.toBeInstanceOf(
      SignalingError,
    );
  });

  it('POSTs like OBS and DELETEs a session whose answer is unusable', async () => {
    const requests: { method?: string; url?: string; headers: Record<string, unknown> }[] = [];
    const server = defer(
      createServer((req, res) => {
        requests.push({ method: req.method, url: req.url, headers: req.headers });
        req.resume();
        if (req.method === 'POST') {
          res.writeHead(201, { Location: '/whip/session/1', 'Content-Type': 'application/sdp' });
          res.end('v=0\r\n'); // Not a usable answer: no media, no ICE credentials.
        } else {
          res.writeHead(200).end();
        }
      }),
      (s) => {
        s.closeAllConnections();
        return new Promise((resolve) => s.close(resolve));
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    await expect(
      ObsLikePublisher.start({ whipUrl: `${base}/whip/endpoint`, streamKey: 'sk_obs' }),
    ).rejects.toThrow();
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /whip/endpoint',
      'DELETE /whip/session/1',
    ]);
    expect(requests[0].headers['content-type']).toBe('application/sdp');
    expect(requests[0].headers['user-agent']).toMatch(/^Mozilla\/5\.0 \(OBS-Studio\//);
    for (const request of requests) expect(request.headers.authorization).toBe('Bearer sk_obs');
    expect(ffmpegChildren()).toEqual([]);
  });

  it('rejects bad options with a TypeError', async () => {
    await expect(
      ObsLikePublisher.start({ signal: () => Promise.resolve(''), audio: false, video: false }),
    ).rejects.toThrow(TypeError);
    await expect(
      ObsLikePublisher.start({ whipUrl: 'http://127.0.0.1:9/', simulcastLayers: 9 }),
    ).rejects.toThrow(/simulcastLayers/);
    await expect(WrtcPublisher.start({})).rejects.toThrow(TypeError);
  });
});

describe('WrtcPublisher -> relay -> viewers', () => {
  it('delivers decoded VP8 frames and audio to a WrtcViewer', async () => {
    const relay = defer(new WrtcRelay(), (r) => r.close());
    const publisher = defer(await WrtcPublisher.start({ signal: relay.publisherSignal }), (p) =>
      p.close(),
    );
    expect(sdpTransform.parse(publisher.offerSdp).media[1].rtp.map((r) => r.codec)).toEqual([
      'VP8',
      'rtx',
    ]);
    const viewer = defer(await WrtcViewer.start({ signal: relay.viewerSignal }), (v) => v.close());

    await viewer.waitForFrames(10, 10_000);
    await viewer.waitForAudio(4800, 5000);
    const stats = viewer.stats();
    expect(stats.framesDecoded).toBeGreaterThanOrEqual(10);
    expect(stats.width).toBeGreaterThan(0);
    expect(stats.height).toBeGreaterThan(0);
    expect(viewer.timeToFirstFrameMs).toBeGreaterThan(0);
    expect(publisher.framesSent).toBeGreaterThan(0);
    expect(publisher.connectionState).toBe('connected');
  });

  it('passes frames through the onFrame hooks', async () => {
    const relay = defer(new WrtcRelay(), (r) => r.close());
    let hooked = 0;
    defer(
      await WrtcPublisher.start({
        signal: relay.publisherSignal,
        audio: false,
        onFrame: (_index, frame) => {
          hooked++;
          // A white picture: its luma must come out bright after VP8 and back.
          frame.data.fill(235, 0, frame.width * frame.height);
        },
      }),
      (p) => p.close(),
    );
    let lastLuma = 0;
    const viewer = defer(
      await WrtcViewer.start({
        signal: relay.viewerSignal,
        audio: false,
        onFrame: (frame) => {
          lastLuma = frame.data[Math.floor(frame.data.length / 3)]!;
        },
      }),
      (v) => v.close(),
    );
    await viewer.waitForFrames(5, 10_000);
    expect(hooked).toBeGreaterThan(0);
    expect(lastLuma).toBeGreaterThan(200);
  });

  it('an NdcViewer counts VP8 and Opus RTP packets', async () => {
    const relay = defer(new WrtcRelay(), (r) => r.close());
    defer(await WrtcPublisher.start({ signal: relay.publisherSignal }), (p) => p.close());
    const viewer = defer(
      await NdcViewer.start({ signal: relay.viewerSignal, bindAddress: '127.0.0.1' }),
      (v) => v.close(),
    );
    await viewer.waitConnected(5000);
    await viewer.waitForPackets('video', 20, 8000);
    await viewer.waitForPackets('audio', 20, 5000);
    await waitUntil(() => viewer.stats().video.keyframes > 0, 5000, 'a VP8 keyframe');
    const stats = viewer.stats();
    expect(stats.video.codec).toBe('VP8');
    expect(stats.audio.codec).toBe('opus');
    expect(stats.video.bytes).toBeGreaterThan(0);
    expect(viewer.timeToFirstPacketMs('video')).toBeGreaterThan(0);
  });
});
