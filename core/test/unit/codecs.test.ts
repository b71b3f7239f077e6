import * as h264 from 'h264-profile-level-id';
import { getSupportedRtpCapabilities, type types as ms } from 'mediasoup';
import * as ortc from 'mediasoup/ortc';
import { describe, expect, it } from 'vitest';
import { planPublish } from '../../../ingest/src/planPublish.ts';
import { UnprocessableError } from '../../src/errors.ts';
import {
  acceptedExtensions,
  isSupportedCodec,
  normalizedMimeType,
  producerRtpParameters,
  routerCodec,
  sameFormat,
  selectPublishCodec,
  supportedFeedback,
} from '../../src/media/codecs.ts';
import { parseOffer, type MediaSectionOffer, type OfferedCodec } from '../../src/sdp/offer.ts';
import { expectAppError } from './expectAppError.ts';
import { edit, localFixture, sdpFixture } from './sdpFixtures.ts';

const SUPPORTED_EXTENSIONS = getSupportedRtpCapabilities().headerExtensions ?? [];

function codec(mimeType: string, extra: Partial<OfferedCodec> = {}): OfferedCodec {
  return {
    payloadType: 96,
    mimeType,
    clockRate: mimeType.startsWith('audio/') ? 48000 : 90000,
    parameters: {},
    rtcpFeedback: [],
    ...extra,
  };
}

function sectionOf(sdp: string, mid: string): MediaSectionOffer {
  const found = parseOffer(sdp).sections.find((s) => s.mid === mid);
  if (!found) throw new Error(`no section with mid ${mid}`);
  return found;
}

function h264Params(plid: string, mode = 1) {
  return { 'profile-level-id': plid, 'packetization-mode': mode };
}

/** The browser fixture with an extension mediasoup does not support added to its video. */
function withVideoContentType(sdp: string): string {
  return edit(
    sdp,
    'a=extmap:14 urn:ietf:params:rtp-hdrext:toffset',
    'a=extmap:14 urn:ietf:params:rtp-hdrext:toffset\r\na=extmap:6 http://www.webrtc.org/experiments/rtp-hdrext/video-content-type',
  );
}

describe('isSupportedCodec', () => {
  it.each([
    ['audio', codec('audio/opus')],
    ['audio', codec('audio/OPUS')],
    ['video', codec('video/VP8')],
    ['video', codec('video/vp9', { parameters: { 'profile-id': 2 } })],
    ['video', codec('video/AV1')],
    ['video', codec('video/H264', { parameters: h264Params('42e01f') })],
    ['video', codec('video/H264', { parameters: h264Params('640c1f', 0) })],
    ['video', codec('video/H264')],
  ] as const)('accepts %s %o', (kind, c) => {
    expect(isSupportedCodec(kind, c)).toBe(true);
  });

  it.each([
    ['audio', codec('audio/opus', { clockRate: 16000 })],
    ['audio', codec('audio/PCMU', { clockRate: 8000 })],
    ['audio', codec('audio/red')],
    ['video', codec('video/H265')],
    ['video', codec('video/X-FOO')],
    ['video', codec('video/VP8', { clockRate: 48000 })],
    ['video', codec('video/H264', { parameters: h264Params('42e01f', 2) })],
    ['video', codec('video/H264', { parameters: h264Params('zzzzzz') })],
    ['video', codec('video/H264', { parameters: h264Params('42e0') })],
    ['video', codec('video/opus')],
  ] as const)('refuses %s %o', (kind, c) => {
    expect(isSupportedCodec(kind, c)).toBe(false);
  });

  it('accepts only codecs mediasoup 3.27 can route', () => {
    const accepted = ['audio/opus', 'video/VP8', 'video/VP9', 'video/H264', 'video/AV1'];
    for (const mimeType of accepted) {
      const kind = mimeType.startsWith('audio') ? 'audio' : 'video';
      expect(isSupportedCodec(kind, codec(mimeType))).toBe(true);
      expect(() =>
        ortc.generateRouterRtpCapabilities([routerCodec(kind, codec(mimeType))]),
      ).not.toThrow();
    }
    const supportedNames = getSupportedRtpCapabilities().codecs!.map((c) =>
      c.mimeType.toLowerCase(),
    );
    // mediasoup 3.27 no longer routes H.265.
    expect(supportedNames).not.toContain('video/h265');
    expect(isSupportedCodec('video', codec('video/H265'))).toBe(false);
  });
});

describe('selectPublishCodec', () => {
  it("takes the publisher's first supported codec", () => {
    expect(selectPublishCodec(sectionOf(sdpFixture('f2-browser'), '1')).mimeType).toBe('video/VP8');
    expect(selectPublishCodec(sectionOf(sdpFixture('f2-browser'), '0')).mimeType).toBe(
      'audio/opus',
    );
    expect(selectPublishCodec(sectionOf(sdpFixture('f7-obs'), '1')).mimeType).toBe('video/H264');
    expect(selectPublishCodec(sectionOf(sdpFixture('f7-obs'), '0')).mimeType).toBe('audio/OPUS');
  });

  it('skips unsupported codecs listed first', () => {
    const sdp = edit(
      sdpFixture('f1-rfc'),
      'm=video 0 UDP/TLS/RTP/SAVPF 96 97 102',
      'm=video 0 UDP/TLS/RTP/SAVPF 102 96 97',
    );
    expect(selectPublishCodec(sectionOf(sdp, '1')).payloadType).toBe(102);
  });

  it('throws 422 naming the offered codecs, the mid and what would work', () => {
    const error = expectAppError(
      () =>
        selectPublishCodec(
          sectionOf(edit(localFixture('f7-obs-av1.sdp'), 'AV1/90000', 'H265/90000'), '1'),
        ),
      UnprocessableError,
      422,
    );
    expect(error.message).toBe(
      'unsupported video codecs (h265) in mid 1; use H.264, VP8, VP9 or AV1',
    );
  });
});

describe('supportedFeedback', () => {
  it('keeps the video feedback mediasoup handles', () => {
    const vp8 = sectionOf(sdpFixture('f2-browser'), '1').codecs[0];
    expect(supportedFeedback('video', vp8)).toEqual([
      { type: 'goog-remb', parameter: '' },
      { type: 'transport-cc', parameter: '' },
      { type: 'ccm', parameter: 'fir' },
      { type: 'nack', parameter: '' },
      { type: 'nack', parameter: 'pli' },
    ]);
  });

  it('keeps only transport-cc for audio, and drops unknown or duplicate entries', () => {
    const c = codec('audio/opus', {
      rtcpFeedback: [
        { type: 'transport-cc', parameter: '' },
        { type: 'TRANSPORT-CC', parameter: '' },
        { type: 'nack', parameter: '' },
        { type: 'x-unknown', parameter: 'foo' },
      ],
    });
    expect(supportedFeedback('audio', c)).toEqual([{ type: 'transport-cc', parameter: '' }]);
  });
});

describe('normalizedMimeType and routerCodec', () => {
  it("normalizes names to mediasoup's spelling", () => {
    expect(normalizedMimeType('audio', { mimeType: 'audio/OPUS' })).toBe('audio/opus');
    expect(normalizedMimeType('video', { mimeType: 'video/h264' })).toBe('video/H264');
    expect(normalizedMimeType('video', { mimeType: 'video/vp8' })).toBe('video/VP8');
    expect(normalizedMimeType('video', { mimeType: 'video/hevc' })).toBe('video/hevc');
  });

  it('builds a router capability with channels for audio and an optional pinned PT', () => {
    const opus = codec('audio/OPUS', { channels: 2, parameters: { useinbandfec: 1 } });
    expect(routerCodec('audio', opus)).toEqual({
      kind: 'audio',
      mimeType: 'audio/opus',
      clockRate: 48000,
      channels: 2,
      parameters: { useinbandfec: 1 },
    });
    const vp8 = routerCodec('video', codec('video/VP8'), 100);
    expect(vp8).toEqual({
      kind: 'video',
      mimeType: 'video/VP8',
      clockRate: 90000,
      parameters: {},
      preferredPayloadType: 100,
    });
  });

  it('defaults audio channels to 2 and copies parameters', () => {
    const params = { minptime: 10 };
    const capability = routerCodec('audio', { ...codec('audio/opus'), parameters: params });
    expect(capability.channels).toBe(2);
    expect(capability.parameters).toEqual(params);
    expect(capability.parameters).not.toBe(params);
  });
});

describe('sameFormat', () => {
  const video = (mimeType: string, parameters: Record<string, unknown> = {}) => ({
    mimeType,
    clockRate: 90000,
    parameters,
  });

  it('compares names case-insensitively and clock rates exactly', () => {
    expect(sameFormat('video', video('video/vp8'), video('video/VP8'))).toBe(true);
    expect(sameFormat('video', video('video/VP8'), video('video/VP9'))).toBe(false);
    expect(
      sameFormat('video', video('video/VP8'), { ...video('video/VP8'), clockRate: 48000 }),
    ).toBe(false);
  });

  it('requires equal H.264 packetization-mode (missing = 0)', () => {
    expect(
      sameFormat(
        'video',
        video('video/H264', h264Params('42e01f', 1)),
        video('video/H264', h264Params('42e01f', 0)),
      ),
    ).toBe(false);
    expect(
      sameFormat(
        'video',
        video('video/H264', { 'profile-level-id': '42e01f' }),
        video('video/H264', h264Params('42e01f', 0)),
      ),
    ).toBe(true);
  });

  it('treats 42e01f (Constrained Baseline) and 42001f (Baseline) as different profiles', () => {
    // h264-profile-level-id, like libwebrtc, classifies 42e0 as Constrained Baseline and 4200 as
    // Baseline; mediasoup's strict matching uses the same library.
    expect(h264.parseProfileLevelId('42e01f')!.profile).toBe(h264.Profile.ConstrainedBaseline);
    expect(h264.parseProfileLevelId('42001f')!.profile).toBe(h264.Profile.Baseline);
    expect(
      sameFormat(
        'video',
        video('video/H264', h264Params('42e01f')),
        video('video/H264', h264Params('42001f')),
      ),
    ).toBe(false);
  });

  it('treats 640c1f (Constrained High) and 42e01f (Constrained Baseline) as different', () => {
    expect(
      sameFormat(
        'video',
        video('video/H264', h264Params('640c1f')),
        video('video/H264', h264Params('42e01f')),
      ),
    ).toBe(false);
    expect(
      sameFormat(
        'video',
        video('video/H264', h264Params('640c1f')),
        video('video/H264', h264Params('64001f')),
      ),
    ).toBe(false);
  });

  it('ignores the H.264 level and defaults a missing profile-level-id to 42e01f', () => {
    expect(
      sameFormat(
        'video',
        video('video/H264', h264Params('42e01f')),
        video('video/H264', h264Params('42e034')),
      ),
    ).toBe(true);
    expect(
      sameFormat(
        'video',
        video('video/H264', { 'packetization-mode': 1 }),
        video('video/H264', h264Params('42e01f')),
      ),
    ).toBe(true);
  });

  it('compares VP9 profile-id (missing = 0)', () => {
    expect(
      sameFormat(
        'video',
        video('video/VP9', { 'profile-id': 0 }),
        video('video/VP9', { 'profile-id': 2 }),
      ),
    ).toBe(false);
    expect(sameFormat('video', video('video/VP9'), video('video/VP9', { 'profile-id': 0 }))).toBe(
      true,
    );
    expect(
      sameFormat(
        'video',
        video('video/VP9', { 'profile-id': '2' }),
        video('video/VP9', { 'profile-id': 2 }),
      ),
    ).toBe(true);
  });

  it('compares opus channels (missing = 1)', () => {
    const opus = (channels?: number) => ({
      mimeType: 'audio/opus',
      clockRate: 48000,
      ...(channels ? { channels } : {}),
    });
    expect(sameFormat('audio', opus(2), { ...opus(2), mimeType: 'audio/OPUS' })).toBe(true);
    expect(sameFormat('audio', opus(2), opus(1))).toBe(false);
    expect(sameFormat('audio', opus(), opus(1))).toBe(true);
    expect(sameFormat('audio', opus(2), opus())).toBe(false);
  });

  // Regression (fixed): offer.ts parseFmtp (line 97) makes the all-digit profile-level-id 640032 (High 5.0) a
  // number; h264.isSameProfile returns false for non-strings, so a codec is not even the same
  // format as itself and no viewer can ever be matched to such a stream.
  it('matches two identical H.264 codecs parsed from an offer with profile-level-id=640032', () => {
    const sdp = edit(sdpFixture('f7-obs'), 'profile-level-id=42e01f', 'profile-level-id=640032');
    const c = sectionOf(sdp, '1').codecs[0];
    expect(sameFormat('video', c, c)).toBe(true);
  });
});

describe('acceptedExtensions', () => {
  it("keeps only offered extensions mediasoup supports for the section's kind", () => {
    const browserVideo = sectionOf(withVideoContentType(sdpFixture('f2-browser')), '1');
    const accepted = acceptedExtensions(browserVideo, SUPPORTED_EXTENSIONS);
    for (const ext of accepted) {
      expect(browserVideo.headerExtensions).toContainEqual(ext);
      expect(SUPPORTED_EXTENSIONS.some((s) => s.uri === ext.uri && s.kind === 'video')).toBe(true);
    }
    // The ones routing needs: mid, rid, repaired rid, abs-send-time and transport-cc, with
    // the ids the offer gave them.
    expect(accepted).toEqual(
      expect.arrayContaining([
        { uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 4 },
        { uri: 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id', id: 10 },
        { uri: 'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id', id: 11 },
        { uri: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time', id: 2 },
        { uri: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01', id: 3 },
      ]),
    );
    // video-content-type (id 6) is not supported by mediasoup.
    expect(SUPPORTED_EXTENSIONS.some((e) => e.uri.includes('video-content-type'))).toBe(false);
    expect(browserVideo.headerExtensions.map((e) => e.id)).toContain(6);
    expect(accepted.map((e) => e.id)).not.toContain(6);
    const browserAudio = sectionOf(sdpFixture('f2-browser'), '0');
    expect(acceptedExtensions(browserAudio, SUPPORTED_EXTENSIONS).map((e) => e.id)).toEqual([
      1, 2, 3, 4,
    ]);
  });

  it('drops a video-only extension offered in an audio section', () => {
    const sdp = edit(
      sdpFixture('f7-obs'),
      'a=rtcp-mux\r\na=rtpmap:111',
      'a=rtcp-mux\r\na=extmap:2 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\na=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=rtpmap:111',
    );
    expect(acceptedExtensions(sectionOf(sdp, '0'), SUPPORTED_EXTENSIONS)).toEqual([
      { uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 3 },
    ]);
  });
});

describe('producerRtpParameters', () => {
  function params(sdp: string, mid: string): ms.RtpParameters {
    const section = sectionOf(sdp, mid);
    return producerRtpParameters(section, selectPublishCodec(section), SUPPORTED_EXTENSIONS);
  }

  it('orders numeric (OBS) RIDs from the lowest layer up: rid "0" is full resolution, last', () => {
    const rtp = params(sdpFixture('f7s-obs-simulcast'), '1');
    expect(rtp.encodings).toEqual([{ rid: '2' }, { rid: '1' }, { rid: '0' }]);
  });

  it('sorts numeric RIDs numerically, whatever the a=simulcast order', () => {
    const sdp = edit(
      edit(
        edit(sdpFixture('f7s-obs-simulcast'), 'a=rid:2 send', 'a=rid:2 send\r\na=rid:10 send'),
        'a=simulcast:send 0;1;2',
        'a=simulcast:send 1;10;0;2',
      ),
      'a=ssrc:3221225476 cname:obs-cname',
      'a=ssrc:3221225476 cname:obs-cname\r\na=ssrc:3221225477 cname:obs-cname',
    );
    expect(params(sdp, '1').encodings!.map((e) => e.rid)).toEqual(['10', '2', '1', '0']);
  });

  it('keeps letter RIDs in offer order (F9 "h;l")', () => {
    expect(params(sdpFixture('f9-simulcast'), '1').encodings).toEqual([{ rid: 'h' }, { rid: 'l' }]);
  });

  it('uses the first SSRC and its FID RTX SSRC, with the RTX codec', () => {
    const rtp = params(sdpFixture('f2-browser'), '1');
    expect(rtp.mid).toBe('1');
    expect(
      rtp.codecs.map(({ mimeType, payloadType, parameters }) => ({
        mimeType,
        payloadType,
        parameters,
      })),
    ).toEqual([
      { mimeType: 'video/VP8', payloadType: 96, parameters: {} },
      { mimeType: 'video/rtx', payloadType: 97, parameters: { apt: 96 } },
    ]);
    expect(rtp.encodings).toEqual([{ ssrc: 2001, rtx: { ssrc: 2002 } }]);
    expect(rtp.rtcp).toEqual({ cname: 'browsercname', reducedSize: true });
  });

  it('writes an SSRC-only encoding without RTX when none is offered', () => {
    const rtp = params(sdpFixture('f7-obs'), '1');
    expect(rtp.codecs).toHaveLength(1);
    expect(rtp.encodings).toEqual([{ ssrc: 3221225473 }]);
    expect(rtp.rtcp).toEqual({ cname: 'obs-cname', reducedSize: true });
  });

  it('writes one empty encoding when the offer has neither RIDs nor SSRCs', () => {
    const rtp = params(sdpFixture('f1-rfc'), '1');
    expect(rtp.encodings).toEqual([{}]);
    expect(rtp.rtcp).toEqual({ reducedSize: true });
  });

  it('normalizes OBS OPUS and defaults its channels', () => {
    const rtp = params(sdpFixture('f7-obs'), '0');
    expect(rtp.codecs).toEqual([
      {
        mimeType: 'audio/opus',
        payloadType: 111,
        clockRate: 48000,
        channels: 2,
        parameters: {
          minptime: 10,
          maxaveragebitrate: 96000,
          stereo: 1,
          'sprop-stereo': 1,
          useinbandfec: 1,
        },
        rtcpFeedback: [],
      },
    ]);
  });

  it('filters header extensions to the ones mediasoup supports', () => {
    const rtp = params(withVideoContentType(sdpFixture('f2-browser')), '1');
    const uris = rtp.headerExtensions!.map((e) => e.uri);
    expect(uris).not.toContain('http://www.webrtc.org/experiments/rtp-hdrext/video-content-type');
    expect(uris).toContain('urn:ietf:params:rtp-hdrext:sdes:mid');
    expect(uris).toContain('urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id');
    for (const uri of uris) {
      expect(SUPPORTED_EXTENSIONS.some((s) => s.uri === uri && s.kind === 'video')).toBe(true);
    }
    expect(
      rtp.headerExtensions!.find((e) => e.uri === 'urn:ietf:params:rtp-hdrext:sdes:mid')!.id,
    ).toBe(4);
  });

  it('does not attach RTX to audio', () => {
    const sdp = edit(
      edit(
        sdpFixture('f7-obs'),
        'm=audio 9 UDP/TLS/RTP/SAVPF 111',
        'm=audio 9 UDP/TLS/RTP/SAVPF 111 112',
      ),
      'a=rtpmap:111 OPUS/48000/2',
      'a=rtpmap:111 OPUS/48000/2\r\na=rtpmap:112 rtx/48000\r\na=fmtp:112 apt=111',
    );
    expect(params(sdp, '0').codecs).toHaveLength(1);
  });
});

/**
 * What mediasoup's Worker.createRouter() and Transport.produce() do with our parameters, run
 * through mediasoup's own pure ORTC functions (no worker needed): the router is created from
 * routerCodec() of each accepted codec, then each producer's parameters must validate and map.
 */
describe('mediasoup accepts what planPublish + producerRtpParameters produce', () => {
  function produceAll(sdp: string): void {
    const plan = planPublish(sdp);
    const caps = ortc.generateRouterRtpCapabilities(
      plan.accepted.map(({ section, codec: c }) => routerCodec(section.kind, c)),
    );
    for (const { section, codec: c } of plan.accepted) {
      const rtp = producerRtpParameters(section, c, caps.headerExtensions ?? []);
      ortc.validateAndNormalizeRtpParameters(rtp);
      const mapping = ortc.getProducerRtpParametersMapping(rtp, caps);
      ortc.getConsumableRtpParameters(section.kind, rtp, caps, mapping);
    }
  }

  it.each([
    'f1-rfc',
    'f2-browser',
    'f3-sendrecv',
    'f5-active',
    'f6-ffmpeg',
    'f7-obs',
    'f7a-obs-audio-only',
    'f7v-obs-video-only',
    'f7s-obs-simulcast',
    'f9-simulcast',
  ])('%s', (name) => {
    expect(() => produceAll(sdpFixture(name))).not.toThrow();
  });

  it.each([
    ['AV1', 'a=rtpmap:96 AV1/90000'],
    ['VP9', 'a=rtpmap:96 VP9/90000'],
  ])('an OBS %s offer', (_name, rtpmap) => {
    expect(() =>
      produceAll(edit(sdpFixture('f7-obs'), 'a=rtpmap:96 H264/90000', rtpmap)),
    ).not.toThrow();
  });

  it('an H.264 High (640c1f, 64001f) offer', () => {
    for (const plid of ['640c1f', '64001f', '4d001f']) {
      expect(() =>
        produceAll(
          edit(sdpFixture('f7-obs'), 'profile-level-id=42e01f', `profile-level-id=${plid}`),
        ),
      ).not.toThrow();
    }
  });

  // Regression (fixed): planPublish accepts an H.264 offer with profile-level-id=640032 (High 5.0), but
  // parseFmtp (offer.ts line 97) made it a number, so mediasoup's getProducerRtpParametersMapping
  // ("unsupported codec") rejects it: the publisher gets a 422 from produce() for a valid offer.
  it('an H.264 offer with the all-digit profile-level-id 640032', () => {
    expect(() =>
      produceAll(edit(sdpFixture('f7-obs'), 'profile-level-id=42e01f', 'profile-level-id=640032')),
    ).not.toThrow();
  });
});
