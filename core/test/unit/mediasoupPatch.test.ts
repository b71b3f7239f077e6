/**
 * wisp's patch of mediasoup's JavaScript (infra/mediasoup/node.patch): a consumer takes the
 * header extensions its remote endpoint offered at that endpoint's own ids, matched by URI.
 * Upstream mediasoup keeps only extensions whose id equals its own preferredId, so a Firefox
 * viewer (transport-cc 7, abs-send-time 4, mid 3) or a libwebrtc one (transport-cc 3,
 * abs-send-time 2, mid 4) negotiated no transport-cc at all. The worker half of the patch
 * (renaming the ids on the wire per consumer) is proven end to end by the viewer tests.
 */
import { getSupportedRtpCapabilities } from 'mediasoup';
import type { types as ms } from 'mediasoup';
import * as ortc from 'mediasoup/ortc';
import { describe, expect, it } from 'vitest';

const TCC = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';
const AST = 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time';
const MID = 'urn:ietf:params:rtp-hdrext:sdes:mid';

function consumable(): ms.RtpParameters {
  const caps = ortc.generateRouterRtpCapabilities([
    { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
  ]);
  const producer: ms.RtpParameters = {
    mid: '1',
    codecs: [
      {
        mimeType: 'video/VP8',
        payloadType: 96,
        clockRate: 90000,
        rtcpFeedback: [{ type: 'transport-cc' }, { type: 'nack' }],
      },
    ],
    headerExtensions: [
      { uri: MID, id: 9 },
      { uri: AST, id: 10 },
      { uri: TCC, id: 11 },
    ],
    encodings: [{ ssrc: 1111 }],
    rtcp: { cname: 'test', reducedSize: true },
  };
  const mapping = ortc.getProducerRtpParametersMapping(producer, caps);
  return ortc.getConsumableRtpParameters('video', producer, caps, mapping);
}

function viewerCaps(ids: Record<string, number>): ms.RtpCapabilities {
  return {
    codecs: [
      {
        kind: 'video',
        mimeType: 'video/VP8',
        preferredPayloadType: 120,
        clockRate: 90000,
        rtcpFeedback: [{ type: 'transport-cc' }, { type: 'nack' }],
      },
    ],
    headerExtensions: Object.entries(ids).map(([uri, preferredId]) => ({
      kind: 'video' as const,
      uri: uri as ms.RtpHeaderExtensionUri,
      preferredId,
      direction: 'sendrecv' as const,
    })),
  };
}

describe('mediasoup consumers take the viewer’s own header-extension ids (wisp patch)', () => {
  it('mediasoup’s own ids differ from Firefox’s and libwebrtc’s (why the patch exists)', () => {
    const own = Object.fromEntries(
      getSupportedRtpCapabilities()
        .headerExtensions!.filter((e) => e.kind === 'video')
        .map((e) => [e.uri, e.preferredId]),
    );
    expect(own[TCC]).not.toBe(7);
    expect(own[TCC]).not.toBe(3);
    expect(own[MID]).not.toBe(3);
    expect(own[MID]).not.toBe(4);
  });

  it.each([
    ['Firefox', { [MID]: 3, [AST]: 4, [TCC]: 7 }],
    ['libwebrtc', { [AST]: 2, [TCC]: 3, [MID]: 4 }],
  ])('%s ids are kept, transport-cc feedback stays on', (_name, ids) => {
    const params = ortc.getConsumerRtpParameters({
      consumableRtpParameters: consumable(),
      remoteRtpCapabilities: viewerCaps(ids),
      pipe: false,
      enableRtx: false,
    });
    expect(Object.fromEntries(params.headerExtensions!.map((e) => [e.uri, e.id]))).toEqual(ids);
    expect(params.codecs[0].rtcpFeedback).toContainEqual({ type: 'transport-cc', parameter: '' });
  });

  it('leaves out ids a one-byte header cannot carry and ids used twice', () => {
    const params = ortc.getConsumerRtpParameters({
      consumableRtpParameters: consumable(),
      remoteRtpCapabilities: viewerCaps({ [MID]: 3, [AST]: 3, [TCC]: 15 }),
      pipe: false,
      enableRtx: false,
    });
    expect(params.headerExtensions!.map((e) => [e.uri, e.id])).toEqual([[MID, 3]]);
  });
});
