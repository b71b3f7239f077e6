/**
 * The media plane on mediasoup 3.27 with real parts: the worker's OpenSSL, one WebRtcServer
 * port per worker shared by many sessions, candidates on the machine's interface addresses,
 * header extensions at a libwebrtc viewer's own ids, and DELETE after the client closed.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import sdpTransform from 'sdp-transform';
import { afterEach, describe, expect, it } from 'vitest';
import {
  NdcViewer,
  WrtcPublisher,
  WrtcViewer,
  readHeaderExtension,
  waitUntil,
} from '@wisp/loadtest';
import { INITIAL_AVAILABLE_OUTGOING_BITRATE } from '@wisp/core/rtc';
import { freePort, startPlatform, type TestPlatform } from '../support/platform.ts';

const TCC = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function defer<T>(resource: T, cleanup: (resource: T) => unknown): T {
  cleanups.push(() => cleanup(resource));
  return resource;
}

async function platform(env: Record<string, string> = {}): Promise<TestPlatform> {
  return defer(await startPlatform(env), (p) => p.stop());
}

function candidatesOf(sdp: string): { ip: string; port: number; transport: string }[] {
  return sdpTransform
    .parse(sdp)
    .media.flatMap((m) => m.candidates ?? [])
    .map((c) => ({ ip: c.ip, port: c.port, transport: c.transport.toLowerCase() }));
}

/** A libwebrtc VP8 publisher on `stream`, connected. */
async function connectedPublisher(stream: {
  whipUrl: string;
  streamKey: string;
}): Promise<WrtcPublisher> {
  const publisher = await WrtcPublisher.start({
    whipUrl: stream.whipUrl,
    streamKey: stream.streamKey,
  });
  await publisher.waitConnected(10_000);
  return publisher;
}

/** A session id is the last path segment of its URL. */
function sessionIdOf(location: string): string {
  return new URL(location).pathname.split('/').pop()!;
}

describe('the mediasoup worker', () => {
  it('links the system OpenSSL 3 (from Debian, patched by apt) and reports it at start', async () => {
    const t = await platform({ MEDIASOUP_WORKERS: '1' });
    const { openssl, libuv, libsrtp } = t.platform.pool.libraries;
    expect(openssl).toMatch(/^OpenSSL 3\.\d+\.\d+ /);
    expect(libuv).toMatch(/^\d+\.\d+\.\d+$/);
    expect(libsrtp).toMatch(/^libsrtp2 2\./);
    // It is the library Debian's package installed, loaded at run time (so a security update
    // reaches it with a restart), not a copy frozen into the binary.
    const upstream = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'libssl3'], {
      encoding: 'utf8',
    }).split('-')[0];
    expect(openssl).toContain(`OpenSSL ${upstream} `);
    const [{ pid }] = t.platform.pool.stats();
    const maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
    expect(maps).toMatch(/\/(usr\/)?lib\/x86_64-linux-gnu\/libssl\.so\.3/);
    const health = (await (await fetch(`${t.baseUrl}/healthz`)).json()) as {
      media: { openssl: string };
    };
    expect(health.media.openssl).toBe(openssl);
  });
});

describe('WebRtcServer: one port per worker', () => {
  it('puts a publisher and 24 viewers on one UDP and one TCP port, all receiving', async () => {
    const port = await freePort();
    const t = await platform({ MEDIASOUP_WORKERS: '1', RTC_PORT: String(port) });
    expect(t.platform.pool.ports()).toEqual([{ pid: expect.any(Number), udp: port, tcp: port }]);
    const stream = await t.createStream('one port');
    const publisher = defer(await connectedPublisher(stream), (p) => p.close());
    const viewers = await Promise.all(
      Array.from({ length: 24 }, () =>
        NdcViewer.start({ whepUrl: stream.whepUrl, videoCodecs: ['VP8'] }),
      ),
    );
    for (const viewer of viewers) defer(viewer, (v) => v.close());
    await Promise.all(viewers.map((v) => v.waitForPackets('video', 20, 20_000)));
    for (const sdp of [publisher.answerSdp, ...viewers.map((v) => v.answerSdp)]) {
      const candidates = candidatesOf(sdp);
      expect(candidates.length).toBeGreaterThan(0);
      expect(new Set(candidates.map((c) => c.port))).toEqual(new Set([port]));
      expect(new Set(candidates.map((c) => c.transport))).toEqual(new Set(['udp', 'tcp']));
    }
    expect(t.platform.edge.viewerCount()).toBe(24);
  });

  it('refuses to start, naming the port, when another process holds it', async () => {
    const port = await freePort();
    await platform({ MEDIASOUP_WORKERS: '1', RTC_PORT: String(port) });
    await expect(startPlatform({ MEDIASOUP_WORKERS: '1', RTC_PORT: String(port) })).rejects.toThrow(
      new RegExp(`cannot listen on udp [0-9.:a-f]+:${port}.*RTC_PORT`),
    );
  });
});

describe('where media listens', () => {
  it("announces every interface address by default, the machine's own before loopback", async () => {
    const t = await platform({ MEDIASOUP_WORKERS: '1', RTC_LISTEN_IP: '' });
    const stream = await t.createStream('interfaces');
    const publisher = defer(await connectedPublisher(stream), (p) => p.close());
    const addresses = Object.values(networkInterfaces())
      .flatMap((entries) => entries ?? [])
      .filter((e) => e.family === 'IPv4')
      .map((e) => e.address);
    const udp = candidatesOf(publisher.answerSdp).filter((c) => c.transport === 'udp');
    expect(new Set(udp.map((c) => c.ip))).toEqual(
      new Set([...addresses, ...udp.map((c) => c.ip).filter((ip) => ip.includes(':'))]),
    );
    const loopback = (ip: string) => ip.startsWith('127.') || ip === '::1';
    expect(loopback(udp.at(-1)!.ip)).toBe(true);
    if (addresses.some((ip) => !loopback(ip))) expect(loopback(udp[0].ip)).toBe(false);
  });
});

describe('header extensions at the viewer’s own ids', () => {
  // What a viewer gets on the wire, read from the decrypted RTP packets a libdatachannel
  // viewer receives (SRTP leaves the header clear anyway): each extension at the id the
  // viewer's offer gave it. mediasoup itself writes mid 1, abs-send-time 4, transport-cc 5.
  it.each([
    ['Firefox', { mid: 3, absSendTime: 4, transportCc: 7 }],
    ['libwebrtc', { mid: 4, absSendTime: 2, transportCc: 3 }],
  ])(
    '%s numbering: mid, abs-send-time and transport-cc arrive at the offered ids',
    async (_name, ids) => {
      const t = await platform({ MEDIASOUP_WORKERS: '1' });
      const stream = await t.createStream('wire ids');
      defer(await connectedPublisher(stream), (p) => p.close());
      const packets: Buffer[] = [];
      let answerSdp = '';
      const viewer = defer(
        await NdcViewer.start({
          videoCodecs: ['VP8'],
          audio: false,
          // Munges the offer: libdatachannel offers no header extensions by itself.
          signal: async (offerSdp) => {
            const munged = offerSdp.replace(
              'a=mid:1\r\n',
              'a=mid:1\r\n' +
                `a=extmap:${ids.mid} urn:ietf:params:rtp-hdrext:sdes:mid\r\n` +
                `a=extmap:${ids.absSendTime} http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n` +
                `a=extmap:${ids.transportCc} ${TCC}\r\n` +
                'a=rtcp-fb:97 transport-cc\r\n',
            );
            expect(munged).not.toBe(offerSdp);
            const response = await fetch(stream.whepUrl, {
              method: 'POST',
              headers: { 'Content-Type': 'application/sdp' },
              body: munged,
            });
            expect(response.status).toBe(201);
            answerSdp = await response.text();
            return answerSdp;
          },
          onRtp: (kind, packet) => {
            if (kind === 'video') packets.push(Buffer.from(packet));
          },
        }),
        (v) => v.close(),
      );
      await viewer.waitForPackets('video', 60, 15_000);
      const answered = Object.fromEntries(
        sdpTransform.parse(answerSdp).media[0].ext!.map((e) => [e.uri, e.value]),
      );
      expect(answered[TCC]).toBe(ids.transportCc);
      const sample = packets.slice(-40);
      for (const packet of sample) {
        expect(Buffer.from(readHeaderExtension(packet, ids.mid) ?? []).toString()).toBe('1');
        expect(readHeaderExtension(packet, ids.absSendTime)?.length).toBe(3);
        expect(readHeaderExtension(packet, ids.transportCc)?.length).toBe(2);
      }
      // Transport-wide sequence numbers count up by one per packet sent on the transport.
      const sequence = sample.map((p) =>
        Buffer.from(readHeaderExtension(p, ids.transportCc)!).readUInt16BE(0),
      );
      for (let i = 1; i < sequence.length; i++) {
        expect((sequence[i] - sequence[i - 1] + 65536) % 65536).toBeGreaterThan(0);
      }
    },
  );

  it('a libwebrtc viewer (audio m-line first) decodes video and feeds transport-cc back', async () => {
    const t = await platform({ MEDIASOUP_WORKERS: '1' });
    const stream = await t.createStream('extensions');
    defer(await connectedPublisher(stream), (p) => p.close());
    const viewer = defer(await WrtcViewer.start({ whepUrl: stream.whepUrl }), (v) => v.close());
    const offer = sdpTransform.parse(viewer.offerSdp);
    const answer = sdpTransform.parse(viewer.answerSdp);
    expect(offer.media.map((m) => m.type)).toEqual(['audio', 'video']);
    const offeredTcc = offer.media[1].ext!.find((e) => e.uri === TCC)!.value;
    // libwebrtc's id (3) is not mediasoup's own (5): only the patched worker can honour it.
    expect(offeredTcc).toBe(3);
    expect(answer.media[1].ext!.find((e) => e.uri === TCC)?.value).toBe(offeredTcc);
    expect(answer.media[1].rtcpFb?.map((f) => f.type)).toContain('transport-cc');
    // With audio first, libwebrtc reads the MID at its own id (4), where mediasoup's own
    // numbering writes abs-send-time: unrenamed, every video packet is dropped.
    await viewer.waitForFrames(30, 15_000);
    // The SFU's bandwidth estimate for this viewer moves only when transport-cc feedback
    // arrives, which libwebrtc sends only for packets carrying transport-cc at its id.
    const session = t.platform.edge.getSession(stream.id, sessionIdOf(viewer.location!));
    await expect
      .poll(
        async () => {
          const [stats] = (await session.peer.transport.getStats()) as {
            availableOutgoingBitrate?: number;
          }[];
          return stats.availableOutgoingBitrate ?? INITIAL_AVAILABLE_OUTGOING_BITRATE;
        },
        { timeout: 10_000, interval: 200 },
      )
      .not.toBe(INITIAL_AVAILABLE_OUTGOING_BITRATE);
  });
});

describe('DELETE after the client closed its connection', () => {
  it('answers 200 for a publisher that closed first, and keeps checking the key', async () => {
    const t = await platform({ MEDIASOUP_WORKERS: '1' });
    const stream = await t.createStream('close first');
    const publisher = await connectedPublisher(stream);
    const location = publisher.location!;
    await publisher.close({ sendDelete: false });
    await waitUntil(() => !t.platform.ingest.isLive(stream.id), 10_000, 'the stream to end');
    const del = (key: string) =>
      fetch(location, { method: 'DELETE', headers: { Authorization: `Bearer ${key}` } });
    expect((await del('not-the-key')).status).toBe(401);
    expect((await del(stream.streamKey)).status).toBe(200);
    expect((await del(stream.streamKey)).status).toBe(200);
    // Other methods on the ended session still say it is gone.
    const patch = await fetch(location, {
      method: 'PATCH',
      headers: {
        Authorization: `Bearer ${stream.streamKey}`,
        'Content-Type': 'application/trickle-ice-sdpfrag',
        'If-Match': '*',
      },
      body: 'a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n',
    });
    expect(patch.status).toBe(404);
    const unknown = `${stream.whipUrl}/never-was-a-session`;
    const none = await fetch(unknown, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${stream.streamKey}` },
    });
    expect(none.status).toBe(404);
  });

  it('answers 404 once the grace period is over (SESSION_DELETE_GRACE_MS)', async () => {
    const t = await platform({ MEDIASOUP_WORKERS: '1', SESSION_DELETE_GRACE_MS: '0' });
    const stream = await t.createStream('no grace');
    const publisher = await connectedPublisher(stream);
    await publisher.close({ sendDelete: false });
    await waitUntil(() => !t.platform.ingest.isLive(stream.id), 10_000, 'the stream to end');
    const response = await fetch(publisher.location!, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${stream.streamKey}` },
    });
    expect(response.status).toBe(404);
  });

  it('answers 200 for a viewer whose session ended before its DELETE', async () => {
    const t = await platform({ MEDIASOUP_WORKERS: '1' });
    const stream = await t.createStream('viewer close first');
    defer(await connectedPublisher(stream), (p) => p.close());
    const viewer = await WrtcViewer.start({ whepUrl: stream.whepUrl });
    await viewer.waitConnected(10_000);
    const location = viewer.location!;
    await viewer.close({ sendDelete: false });
    await waitUntil(() => t.platform.edge.viewerCount() === 0, 10_000, 'the viewer to leave');
    expect((await fetch(location, { method: 'DELETE' })).status).toBe(200);
  });
});
