import type { types as ms } from 'mediasoup';
import { describe, expect, it } from 'vitest';
import { planView } from '../../../edge/src/planView.ts';
import { planPublish } from '../../../ingest/src/planPublish.ts';
import { UnprocessableError, ValidationError } from '../../src/errors.ts';
import type { StreamTrack } from '../../src/media/LiveStream.ts';
import { expectAppError } from './expectAppError.ts';
import { edit, editAll, localFixture, sdpFixture } from './sdpFixtures.ts';

describe('planPublish (WHIP offers)', () => {
  function accepted(sdp: string) {
    return planPublish(sdp).accepted.map(({ section, codec }) => ({
      mid: section.mid,
      kind: section.kind,
      mimeType: codec.mimeType,
      rids: section.rids,
    }));
  }

  it('accepts the OBS offer with H.264 and OPUS', () => {
    expect(accepted(sdpFixture('f7-obs'))).toEqual([
      { mid: '0', kind: 'audio', mimeType: 'audio/OPUS', rids: [] },
      { mid: '1', kind: 'video', mimeType: 'video/H264', rids: [] },
    ]);
  });

  it('accepts the OBS audio-only and video-only variants', () => {
    expect(accepted(sdpFixture('f7a-obs-audio-only')).map((a) => a.mimeType)).toEqual([
      'audio/OPUS',
    ]);
    expect(accepted(sdpFixture('f7v-obs-video-only')).map((a) => a.mimeType)).toEqual([
      'video/H264',
    ]);
  });

  it('accepts all three OBS simulcast RIDs (OBS aborts if fewer are accepted)', () => {
    expect(accepted(sdpFixture('f7s-obs-simulcast'))[1].rids).toEqual(['0', '1', '2']);
  });

  it('accepts letter RIDs (F9)', () => {
    expect(accepted(sdpFixture('f9-simulcast'))[1].rids).toEqual(['h', 'l']);
  });

  it.each([
    ['f1-rfc', ['audio/opus', 'video/VP8']],
    ['f2-browser', ['audio/opus', 'video/VP8']],
    ['f5-active', ['audio/opus', 'video/VP8']],
    ['f6-ffmpeg', ['audio/opus', 'video/H264']],
  ])('accepts %s', (name, mimeTypes) => {
    expect(accepted(sdpFixture(name)).map((a) => a.mimeType)).toEqual(mimeTypes);
  });

  it('tolerates sendrecv sections (F3)', () => {
    expect(accepted(sdpFixture('f3-sendrecv'))).toHaveLength(2);
  });

  it('returns the parsed offer with the plan', () => {
    const plan = planPublish(sdpFixture('f7-obs'));
    expect(plan.offer.iceUfrag).toBe('Gs7P');
    expect(plan.accepted[0].section).toBe(plan.offer.sections[0]);
  });

  it('skips a section the offerer rejected itself (port 0 without bundle-only)', () => {
    const sdp = edit(sdpFixture('f1-rfc'), 'a=mid:1\r\na=bundle-only\r\n', 'a=mid:1\r\n');
    expect(accepted(sdp).map((a) => a.mid)).toEqual(['0']);
  });

  it('rejects an offer whose every section is rejected with 400', () => {
    const sdp = edit(
      edit(sdpFixture('f1-rfc'), 'a=mid:1\r\na=bundle-only\r\n', 'a=mid:1\r\n'),
      'm=audio 9 UDP/TLS/RTP/SAVPF 111',
      'm=audio 0 UDP/TLS/RTP/SAVPF 111',
    );
    const fixed = editAll(sdp, 'a=mid:0\r\na=bundle-only\r\n', 'a=mid:0\r\n');
    expectAppError(() => planPublish(fixed), ValidationError, 400);
  });

  it.each(['f4-recvonly', 'f4b-inactive'])('rejects %s with 422', (name) => {
    const error = expectAppError(() => planPublish(sdpFixture(name)), UnprocessableError, 422);
    expect(error.message).toMatch(/must send/);
  });

  it('rejects two video tracks (F8) with 422', () => {
    const error = expectAppError(
      () => planPublish(sdpFixture('f8-two-video')),
      UnprocessableError,
      422,
    );
    expect(error.message).toMatch(/more than one video track/);
  });

  it('rejects an unknown codec (F10) with 422 naming it', () => {
    const error = expectAppError(
      () => planPublish(sdpFixture('f10-unknown-codec')),
      UnprocessableError,
      422,
    );
    expect(error.message).toMatch(/x-foo/);
  });

  it('rejects a datachannel section (F12) with 422', () => {
    const error = expectAppError(
      () => planPublish(sdpFixture('f12-datachannel')),
      UnprocessableError,
      422,
    );
    expect(error.message).toMatch(/application/);
  });

  it('accepts AV1 video (OBS 30.1 AV1 encoder): mediasoup 3.27 routes AV1', () => {
    const plan = planPublish(localFixture('f7-obs-av1.sdp'));
    expect(plan.accepted.map((a) => a.codec.mimeType.toLowerCase())).toContain('video/av1');
  });

  it('rejects H.265-only video with 422 naming the codecs (mediasoup 3.27 has no H.265)', () => {
    const error = expectAppError(
      () => planPublish(edit(localFixture('f7-obs-av1.sdp'), 'AV1/90000', 'H265/90000')),
      UnprocessableError,
      422,
    );
    expect(error.message).toMatch(/unsupported video codecs \(h265\)/);
    expect(error.message).toMatch(/H\.264, VP8, VP9 or AV1/);
  });

  it('rejects simulcast on audio with 422', () => {
    const sdp = edit(
      sdpFixture('f7-obs'),
      'a=rtpmap:111 OPUS/48000/2',
      'a=rtpmap:111 OPUS/48000/2\r\na=rid:a send\r\na=rid:b send\r\na=simulcast:send a;b',
    );
    expectAppError(() => planPublish(sdp), UnprocessableError, 422);
  });

  it('rejects more than 8 simulcast layers with 422', () => {
    const rids = Array.from({ length: 9 }, (_, i) => String(i));
    const sdp = edit(
      sdpFixture('f7s-obs-simulcast'),
      'a=rid:0 send\r\na=rid:1 send\r\na=rid:2 send\r\na=simulcast:send 0;1;2',
      `${rids.map((r) => `a=rid:${r} send`).join('\r\n')}\r\na=simulcast:send ${rids.join(';')}`,
    );
    const error = expectAppError(() => planPublish(sdp), UnprocessableError, 422);
    expect(error.message).toMatch(/at most 8/);
  });

  it.each([
    ['a malformed body', 'hello'],
    ['a missing fingerprint', sdpFixture('f11-no-fingerprint')],
    ['a missing ufrag', sdpFixture('f11-no-ufrag')],
  ])('rejects %s with 400', (_name, sdp) => {
    expectAppError(() => planPublish(sdp), ValidationError, 400);
  });
});

describe('planView (WHEP offers)', () => {
  type Codec = ms.RtpCodecParameters;

  const OPUS: Codec = {
    mimeType: 'audio/opus',
    payloadType: 111,
    clockRate: 48000,
    channels: 2,
    parameters: { useinbandfec: 1 },
    rtcpFeedback: [],
  };

  const video = (mimeType: string, parameters: Record<string, unknown> = {}): Codec => ({
    mimeType: mimeType,
    payloadType: 96,
    clockRate: 90000,
    parameters,
    rtcpFeedback: [],
  });

  const RTX = (apt: number): Codec => ({
    mimeType: 'video/rtx',
    payloadType: 97,
    clockRate: 90000,
    parameters: { apt },
    rtcpFeedback: [],
  });

  /** A track as a lease describes it: the codec is the first one that is not RTX. */
  function producer(kind: 'audio' | 'video', codecs: Codec[]): StreamTrack {
    return {
      id: `${kind}-producer`,
      kind,
      codec: codecs.find((c) => !/\/rtx$/i.test(c.mimeType))!,
    };
  }

  const audio = producer('audio', [OPUS]);
  const h264 = (plid: string, mode = 1) =>
    producer('video', [
      video('video/H264', {
        'packetization-mode': mode,
        'profile-level-id': plid,
        'level-asymmetry-allowed': 1,
      }),
      RTX(96),
    ]);

  it('maps a browser viewer to its own payload types (opus 111, VP8 96)', () => {
    const plan = planView(sdpFixture('w1-whep-browser'), [
      audio,
      producer('video', [RTX(96), video('video/VP8')]),
    ]);
    expect(plan.mappingKey).toBe('audio:111|video:96');
    expect(
      plan.served.map((s) => [
        s.section.mid,
        s.track.id,
        s.producerCodec.mimeType,
        s.viewerCodec.payloadType,
      ]),
    ).toEqual([
      ['0', 'audio-producer', 'audio/opus', 111],
      ['1', 'video-producer', 'video/VP8', 96],
    ]);
  });

  it.each([
    ['42e01f', 1, 106],
    ['42e01f', 0, 108],
    ['42001f', 1, 102],
    ['4d001f', 1, 127],
    ['4d001f', 0, 39],
    ['64001f', 1, 112],
  ])("chooses the viewer's PT for an H.264 %s mode %i producer", (plid, mode, pt) => {
    const plan = planView(sdpFixture('w1-whep-browser'), [audio, h264(plid, mode)]);
    expect(plan.served[1].viewerCodec.payloadType).toBe(pt);
    expect(plan.mappingKey).toBe(`audio:111|video:${pt}`);
  });

  it("chooses the viewer's VP9 profile 2 payload type", () => {
    const plan = planView(sdpFixture('w1-whep-browser'), [
      producer('video', [video('video/VP9', { 'profile-id': 2 })]),
    ]);
    expect(plan.mappingKey).toBe('video:100');
  });

  it('serves only the kinds the stream has', () => {
    const plan = planView(sdpFixture('w1-whep-browser'), [audio]);
    expect(plan.mappingKey).toBe('audio:111');
    expect(plan.served).toHaveLength(1);
  });

  it('serves only the kinds the viewer asks for', () => {
    const plan = planView(edit(sdpFixture('f7a-obs-audio-only'), 'a=sendonly', 'a=recvonly'), [
      audio,
      h264('42e01f'),
    ]);
    expect(plan.mappingKey).toBe('audio:111');
  });

  it('lists audio first in the mapping key whatever the m-line order', () => {
    const sdp = editAll(
      edit(sdpFixture('f7-obs'), 'a=group:BUNDLE 0 1', 'a=group:BUNDLE 1 0'),
      'a=sendonly',
      'a=recvonly',
    );
    const [head, audioPart, videoPart] = sdp.split(/(?=^m=)/m);
    const plan = planView(`${head}${videoPart}${audioPart}`, [audio, h264('42e01f')]);
    expect(plan.offer.sections.map((s) => s.kind)).toEqual(['video', 'audio']);
    expect(plan.mappingKey).toBe('audio:111|video:96');
  });

  it('rejects a sendonly offer (W2) with 422', () => {
    const error = expectAppError(
      () => planView(sdpFixture('w2-whep-sendonly'), [audio, h264('42e01f')]),
      UnprocessableError,
      422,
    );
    expect(error.message).toMatch(/must receive/);
  });

  it('rejects an inactive section with 422', () => {
    const sdp = edit(
      sdpFixture('w1-whep-browser'),
      'a=recvonly\r\na=rtcp-mux\r\na=rtcp-rsize\r\na=rtpmap:96',
      'a=inactive\r\na=rtcp-mux\r\na=rtcp-rsize\r\na=rtpmap:96',
    );
    expectAppError(() => planView(sdp, [audio, h264('42e01f')]), UnprocessableError, 422);
  });

  it("rejects a viewer without the stream's video codec with 422 naming both sides", () => {
    const error = expectAppError(
      () =>
        planView(sdpFixture('w1-whep-browser'), [audio, producer('video', [video('video/H265')])]),
      UnprocessableError,
      422,
    );
    expect(error.message).toMatch(/the stream's video is video\/H265/);
    expect(error.message).toMatch(/which this player does not offer \(video\/VP8, video\/H264/);
  });

  it('rejects a viewer without the H.264 profile of the stream (Constrained High) with 422', () => {
    expectAppError(
      () => planView(sdpFixture('w1-whep-browser'), [h264('640c1f')]),
      UnprocessableError,
      422,
    );
  });

  it('rejects an offer with nothing to play with 422', () => {
    const error = expectAppError(
      () => planView(sdpFixture('w1-whep-browser'), []),
      UnprocessableError,
      422,
    );
    expect(error.message).toMatch(/nothing to play/);
  });

  it('rejects a malformed offer with 400', () => {
    expectAppError(() => planView('hello', [audio]), ValidationError, 400);
    expectAppError(() => planView(sdpFixture('f11-no-fingerprint'), [audio]), ValidationError, 400);
  });

  // A WHEP offer with a datachannel is served (players may open one); the datachannel m-line
  // is answered as rejected (port 0) by WhepSession, so the answer keeps the offer's m-lines.
  it('serves the media of an offer with a datachannel section and keeps it for the answer', () => {
    const sdp = `${sdpFixture('w1-whep-browser')}m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\na=sctp-port:5000\r\n`;
    const plan = planView(sdp, [audio, h264('42e01f')]);
    expect(plan.served.map((s) => s.section.kind)).toEqual(['audio', 'video']);
    expect(plan.offer.otherSections).toEqual([
      {
        index: 2,
        mid: '2',
        kind: 'application',
        protocol: 'UDP/DTLS/SCTP',
        formats: 'webrtc-datachannel',
      },
    ]);
  });

  // Regression: all-digit profile-level-id values (640032 = High 5.0) were parsed as numbers,
  // so sameFormat never matched them.
  it('serves a viewer that offers the same all-digit profile-level-id as the stream', () => {
    const sdp = edit(
      sdpFixture('w1-whep-browser'),
      'a=fmtp:112 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f',
      'a=fmtp:112 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640032',
    );
    const plan = planView(sdp, [h264('640032')]);
    expect(plan.mappingKey).toBe('video:112');
  });
});
