import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.ts';
import { parseOffer } from '../../src/sdp/offer.ts';
import { expectAppError } from './expectAppError.ts';
import { WELL_FORMED_FIXTURES, edit, editAll, sdpFixture } from './sdpFixtures.ts';

const FINGERPRINT =
  '7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08';

/** The F1 video m-section header, used to turn its bundle-only port 0 into a real rejection. */
const F1_VIDEO_HEAD = 'a=mid:1\r\na=bundle-only\r\n';

function section(sdp: string, mid: string) {
  const found = parseOffer(sdp).sections.find((s) => s.mid === mid);
  if (!found) throw new Error(`no section with mid ${mid}`);
  return found;
}

describe('parseOffer: fixtures', () => {
  it.each(WELL_FORMED_FIXTURES)('parses %s', (name) => {
    const offer = parseOffer(sdpFixture(name));
    expect(offer.sections.length).toBeGreaterThan(0);
    expect(offer.iceUfrag.length).toBeGreaterThanOrEqual(4);
    expect(offer.icePwd.length).toBeGreaterThanOrEqual(22);
    expect(offer.fingerprints).toEqual([{ algorithm: 'sha-256', value: FINGERPRINT }]);
    for (const s of offer.sections) {
      expect(['audio', 'video']).toContain(s.kind);
      expect(s.protocol).toBe('UDP/TLS/RTP/SAVPF');
      expect(s.codecs.length).toBeGreaterThan(0);
    }
  });

  it('accepts LF-only line endings', () => {
    const offer = parseOffer(sdpFixture('f7-obs').replace(/\r\n/g, '\n'));
    expect(offer.sections.map((s) => s.kind)).toEqual(['audio', 'video']);
    expect(offer.iceUfrag).toBe('Gs7P');
  });

  it('ignores a leading byte-order mark and blank lines before v=0', () => {
    const offer = parseOffer(`\uFEFF\r\n${sdpFixture('f6-ffmpeg')}`);
    expect(offer.sections).toHaveLength(2);
  });
});

describe('parseOffer: ICE and DTLS attributes', () => {
  it('reads media-level attributes of the tagged section (F1, RFC 9725 §4.2 example)', () => {
    const offer = parseOffer(sdpFixture('f1-rfc'));
    expect(offer.iceUfrag).toBe('EsAw');
    expect(offer.icePwd).toBe('bP+XJMM09aR8AiX1jdukzR6Y');
    expect(offer.setup).toBe('actpass');
  });

  // Regression (fixed): offer.ts line 211/226 takes iceOptions from sdp-transform, whose grammar captures only
  // the first token (`/^ice-options:(\S*)/`), so `a=ice-options:trickle ice2` becomes "trickle".
  // Nothing echoes it yet (buildAnswer's iceOptions is never passed), but the field documented
  // as the offer's ice-options is wrong, and I3 needs it once it is echoed.
  it('keeps every token of a space-separated a=ice-options (F1 "trickle ice2")', () => {
    expect(parseOffer(sdpFixture('f1-rfc')).iceOptions).toBe('trickle ice2');
  });

  it('reads session-level attributes (OBS, field-notes §1)', () => {
    const offer = parseOffer(sdpFixture('f7-obs'));
    expect(offer.iceUfrag).toBe('Gs7P');
    expect(offer.icePwd).toBe('yTb3JVw5DTg/YZ2ehPjCGQ');
    expect(offer.iceOptions).toBe('ice2,trickle');
    expect(offer.setup).toBe('actpass');
  });

  it('reads attributes repeated in every section (browser, FFmpeg)', () => {
    expect(parseOffer(sdpFixture('f2-browser')).iceUfrag).toBe('Q8Nf');
    const ffmpeg = parseOffer(sdpFixture('f6-ffmpeg'));
    expect(ffmpeg.iceUfrag).toBe('a8b0c1d2');
    expect(ffmpeg.setup).toBe('passive');
    expect(ffmpeg.iceOptions).toBeUndefined();
  });

  it('reads a=setup:active (F5)', () => {
    expect(parseOffer(sdpFixture('f5-active')).setup).toBe('active');
  });

  it('defaults a missing a=setup to actpass', () => {
    const sdp = edit(sdpFixture('f7-obs'), 'a=setup:actpass\r\n', '');
    expect(parseOffer(sdp).setup).toBe('actpass');
  });

  it('normalizes the fingerprint: lower-case algorithm, upper-case hash', () => {
    const sdp = edit(
      sdpFixture('f7-obs'),
      `a=fingerprint:sha-256 ${FINGERPRINT}`,
      `a=fingerprint:SHA-256 ${FINGERPRINT.toLowerCase()}`,
    );
    expect(parseOffer(sdp).fingerprints).toEqual([{ algorithm: 'sha-256', value: FINGERPRINT }]);
  });
});

describe('parseOffer: bundle shapes and directions', () => {
  it('does not reject a port-0 section with a=bundle-only (F1)', () => {
    const offer = parseOffer(sdpFixture('f1-rfc'));
    expect(offer.sections.map((s) => [s.mid, s.rejected])).toEqual([
      ['0', false],
      ['1', false],
    ]);
  });

  it('marks a port-0 section without a=bundle-only as rejected', () => {
    const sdp = edit(sdpFixture('f1-rfc'), F1_VIDEO_HEAD, 'a=mid:1\r\n');
    expect(section(sdp, '1').rejected).toBe(true);
    expect(section(sdp, '0').rejected).toBe(false);
  });

  it('reads the direction of each section', () => {
    expect(section(sdpFixture('f1-rfc'), '1').direction).toBe('sendonly');
    expect(section(sdpFixture('f3-sendrecv'), '1').direction).toBe('sendrecv');
    expect(section(sdpFixture('f4-recvonly'), '1').direction).toBe('recvonly');
    expect(section(sdpFixture('f4b-inactive'), '1').direction).toBe('inactive');
    expect(section(sdpFixture('w1-whep-browser'), '0').direction).toBe('recvonly');
  });

  it('falls back to a session-level direction, then to sendrecv', () => {
    const sessionLevel = edit(
      editAll(sdpFixture('f7-obs'), 'a=sendonly\r\n', ''),
      'a=setup:actpass\r\n',
      'a=setup:actpass\r\na=sendonly\r\n',
    );
    expect(parseOffer(sessionLevel).sections.map((s) => s.direction)).toEqual([
      'sendonly',
      'sendonly',
    ]);
    const none = editAll(sdpFixture('f7-obs'), 'a=sendonly\r\n', '');
    expect(parseOffer(none).sections.map((s) => s.direction)).toEqual(['sendrecv', 'sendrecv']);
  });

  it('uses the section index as mid when a=mid is missing', () => {
    const sdp = edit(sdpFixture('f7-obs'), 'a=mid:1\r\n', '');
    expect(parseOffer(sdp).sections.map((s) => s.mid)).toEqual(['0', '1']);
  });

  it('keeps non-media sections apart (F12 datachannel)', () => {
    const offer = parseOffer(sdpFixture('f12-datachannel'));
    expect(offer.sections.map((s) => s.mid)).toEqual(['0', '1']);
    expect(offer.otherSections).toEqual([
      {
        index: 2,
        mid: '2',
        kind: 'application',
        protocol: 'UDP/DTLS/SCTP',
        formats: 'webrtc-datachannel',
      },
    ]);
  });

  it('reads a=rtcp-rsize', () => {
    expect(section(sdpFixture('f1-rfc'), '1').rtcpRsize).toBe(true);
    expect(section(sdpFixture('f1-rfc'), '0').rtcpRsize).toBe(false);
  });

  it('reads header extensions with their ids', () => {
    expect(section(sdpFixture('f7-obs'), '1').headerExtensions).toEqual([
      { uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 1 },
      { uri: 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id', id: 2 },
    ]);
  });
});

describe('parseOffer: codecs', () => {
  it('keeps the upper-case OPUS of OBS with its clock rate and channels', () => {
    const [opus] = section(sdpFixture('f7-obs'), '0').codecs;
    expect(opus).toMatchObject({
      payloadType: 111,
      mimeType: 'audio/OPUS',
      clockRate: 48000,
      channels: 2,
      fmtp: 'minptime=10;maxaveragebitrate=96000;stereo=1;sprop-stereo=1;useinbandfec=1',
    });
    expect(opus.parameters).toEqual({
      minptime: 10,
      maxaveragebitrate: 96000,
      stereo: 1,
      'sprop-stereo': 1,
      useinbandfec: 1,
    });
  });

  it('parses H.264 fmtp parameters, keeping the hex profile-level-id a string', () => {
    const [h264] = section(sdpFixture('f7-obs'), '1').codecs;
    expect(h264.mimeType).toBe('video/H264');
    expect(h264.parameters).toEqual({
      'profile-level-id': '42e01f',
      'packetization-mode': 1,
      'level-asymmetry-allowed': 1,
    });
    expect(h264.rtcpFeedback).toEqual([
      { type: 'nack', parameter: '' },
      { type: 'nack', parameter: 'pli' },
      { type: 'goog-remb', parameter: '' },
    ]);
  });

  it('attaches RTX codecs to the codec they repair (apt) and drops them from the list', () => {
    const video = section(sdpFixture('f2-browser'), '1');
    expect(video.codecs.some((c) => /rtx$/i.test(c.mimeType))).toBe(false);
    const rtxOf = Object.fromEntries(video.codecs.map((c) => [c.payloadType, c.rtxPayloadType]));
    expect(rtxOf).toMatchObject({ 96: 97, 102: 103, 104: 105, 106: 107, 127: 125, 45: 46, 98: 99 });
    expect(rtxOf[118]).toBeUndefined(); // ulpfec has no RTX
    expect(video.codecs.map((c) => c.payloadType)).toEqual([
      96, 102, 104, 106, 108, 127, 39, 45, 98, 100, 112, 116, 118,
    ]);
  });

  it('attaches RTX declared before the codec it repairs', () => {
    const sdp = edit(
      sdpFixture('f1-rfc'),
      'm=video 0 UDP/TLS/RTP/SAVPF 96 97 102',
      'm=video 0 UDP/TLS/RTP/SAVPF 97 96 102',
    );
    const vp8 = section(sdp, '1').codecs.find((c) => c.payloadType === 96);
    expect(vp8!.rtxPayloadType).toBe(97);
  });

  it('applies wildcard rtcp-fb lines to every codec', () => {
    const sdp = edit(sdpFixture('f7-obs'), 'a=rtcp-fb:96 goog-remb', 'a=rtcp-fb:* transport-cc');
    const [h264] = section(sdp, '1').codecs;
    expect(h264.rtcpFeedback).toContainEqual({ type: 'transport-cc', parameter: '' });
  });

  it('skips payload types without a=rtpmap', () => {
    const sdp = edit(
      sdpFixture('f6-ffmpeg'),
      'm=audio 9 UDP/TLS/RTP/SAVPF 111',
      'm=audio 9 UDP/TLS/RTP/SAVPF 111 0',
    );
    expect(section(sdp, '0').codecs.map((c) => c.payloadType)).toEqual([111]);
  });

  it('rejects an out-of-range payload type with 400', () => {
    const sdp = edit(
      sdpFixture('f6-ffmpeg'),
      'm=audio 9 UDP/TLS/RTP/SAVPF 111',
      'm=audio 9 UDP/TLS/RTP/SAVPF 300',
    );
    expectAppError(() => parseOffer(sdp), ValidationError, 400);
  });

  // Regression (fixed): offer.ts parseFmtp (line 97) turns every all-digit fmtp value into a number, including
  // H.264 profile-level-id values such as 640032 (High 5.0), 640028 or 420029, which are hex
  // strings. h264-profile-level-id 1.1.1 (used by sameFormat and by mediasoup's own codec
  // matching) returns null for non-strings, so such codecs never match anything.
  it('keeps an all-digit H.264 profile-level-id (640032) as a string', () => {
    const sdp = edit(sdpFixture('f7-obs'), 'profile-level-id=42e01f', 'profile-level-id=640032');
    const [h264] = section(sdp, '1').codecs;
    expect(h264.parameters['profile-level-id']).toBe('640032');
  });
});

describe('parseOffer: SSRCs and simulcast', () => {
  it('pairs SSRCs through a=ssrc-group:FID and keeps the cname', () => {
    expect(section(sdpFixture('f2-browser'), '1').ssrcs).toEqual([
      { ssrc: 2001, rtxSsrc: 2002, cname: 'browsercname' },
    ]);
    expect(section(sdpFixture('f2-browser'), '0').ssrcs).toEqual([
      { ssrc: 1001, cname: 'browsercname' },
    ]);
  });

  it('reads msid-in-ssrc-only offers (OBS, FFmpeg)', () => {
    expect(section(sdpFixture('f7-obs'), '1').ssrcs).toEqual([
      { ssrc: 3221225473, cname: 'obs-cname' },
    ]);
    expect(section(sdpFixture('f6-ffmpeg'), '1').ssrcs).toEqual([
      { ssrc: 2134530830, cname: 'FFmpeg' },
    ]);
  });

  it('reads OBS simulcast RIDs "0", "1", "2" in a=simulcast order', () => {
    const video = section(sdpFixture('f7s-obs-simulcast'), '1');
    expect(video.rids).toEqual(['0', '1', '2']);
    expect(video.ssrcs.map((s) => s.ssrc)).toEqual([3221225474, 3221225475, 3221225476]);
    expect(section(sdpFixture('f7s-obs-simulcast'), '0').rids).toEqual([]);
  });

  it('reads letter RIDs (F9 "h;l")', () => {
    expect(section(sdpFixture('f9-simulcast'), '1').rids).toEqual(['h', 'l']);
  });

  it('takes the order from a=simulcast, not from the a=rid lines', () => {
    const sdp = edit(
      sdpFixture('f7s-obs-simulcast'),
      'a=simulcast:send 0;1;2',
      'a=simulcast:send 2;0;1',
    );
    expect(section(sdp, '1').rids).toEqual(['2', '0', '1']);
  });

  it('strips the paused marker and keeps the first of alternatives', () => {
    const sdp = edit(
      sdpFixture('f7s-obs-simulcast'),
      'a=simulcast:send 0;1;2',
      'a=simulcast:send 0,1;~2',
    );
    expect(section(sdp, '1').rids).toEqual(['0', '2']);
  });

  it('ignores recv RIDs and falls back to the a=rid order without a=simulcast', () => {
    const sdp = edit(
      edit(sdpFixture('f7s-obs-simulcast'), 'a=simulcast:send 0;1;2\r\n', ''),
      'a=rid:2 send',
      'a=rid:2 recv',
    );
    expect(section(sdp, '1').rids).toEqual(['0', '1']);
  });
});

describe('parseOffer: malformed input -> ValidationError (400)', () => {
  it.each([
    ['hello', 'hello'],
    ['an empty body', ''],
    ['whitespace only', ' \r\n '],
    ['v=0 only', 'v=0\r\n'],
  ])('rejects %s', (_name, body) => {
    expectAppError(() => parseOffer(body), ValidationError, 400);
  });

  it('rejects a missing a=fingerprint (F11)', () => {
    const error = expectAppError(
      () => parseOffer(sdpFixture('f11-no-fingerprint')),
      ValidationError,
      400,
    );
    expect(error.message).toMatch(/fingerprint/);
  });

  it('rejects a missing a=ice-ufrag (F11)', () => {
    const error = expectAppError(
      () => parseOffer(sdpFixture('f11-no-ufrag')),
      ValidationError,
      400,
    );
    expect(error.message).toMatch(/ice-ufrag/);
  });

  it('rejects an ice-pwd shorter than 22 characters', () => {
    const sdp = edit(
      sdpFixture('f7-obs'),
      'a=ice-pwd:yTb3JVw5DTg/YZ2ehPjCGQ',
      'a=ice-pwd:tooShort',
    );
    expectAppError(() => parseOffer(sdp), ValidationError, 400);
  });

  it('rejects an ice-ufrag shorter than 4 characters', () => {
    const sdp = edit(sdpFixture('f7-obs'), 'a=ice-ufrag:Gs7P', 'a=ice-ufrag:Gs7');
    expectAppError(() => parseOffer(sdp), ValidationError, 400);
  });

  it('rejects a duplicate mid', () => {
    const sdp = edit(sdpFixture('f7-obs'), 'a=mid:1', 'a=mid:0');
    const error = expectAppError(() => parseOffer(sdp), ValidationError, 400);
    expect(error.message).toMatch(/duplicate mid "0"/);
  });

  // Regression (fixed): offer.ts lines 268-272 check mid uniqueness over audio/video sections only, so a
  // datachannel (or any non-media) section reusing an audio/video mid passes as well-formed.
  // RFC 8843 §9.1 requires unique mids across all m-sections: this should be a 400.
  it('rejects a non-media section that reuses a media mid', () => {
    const sdp = edit(sdpFixture('f12-datachannel'), 'a=mid:2', 'a=mid:0');
    expectAppError(() => parseOffer(sdp), ValidationError, 400);
  });

  it('rejects an unknown a=setup value', () => {
    const sdp = edit(sdpFixture('f7-obs'), 'a=setup:actpass', 'a=setup:holdconn');
    expectAppError(() => parseOffer(sdp), ValidationError, 400);
  });

  it('rejects NUL bytes', () => {
    const sdp = edit(sdpFixture('f7-obs'), 's=-', 's=\0');
    expectAppError(() => parseOffer(sdp), ValidationError, 400);
  });
});

/**
 * sdp-transform turns every attribute value that looks like an integer into a number
 * (`toIntIfInt`). offer.ts guards mids, payload lists and RIDs with String(), but not the
 * values below, so ordinary (if uncommon) client input yields wrong types or a TypeError,
 * i.e. a 500 instead of a 400 or a successful parse.
 */
describe('parseOffer: numeric-looking attribute values', () => {
  // Regression (fixed): offer.ts line 209/224 takes iceUfrag from sdp-transform unconverted, so an all-digit
  // ufrag ("1234", legal ice-chars) comes back as the number 1234. PeerTransport.applyPatch
  // compares it with `!==` against the fragment's string ufrag, so every trickle PATCH that
  // repeats the ufrag is treated as an ICE restart.
  it('returns an all-digit ice-ufrag as a string', () => {
    const sdp = edit(sdpFixture('f7-obs'), 'a=ice-ufrag:Gs7P', 'a=ice-ufrag:1234');
    expect(parseOffer(sdp).iceUfrag).toBe('1234');
  });

  // Regression (fixed): same cause: the length check at offer.ts line 260 reads `.length` of a number
  // (undefined), so a 3-digit ufrag passes although RFC 8839 requires 4-256 characters.
  it('rejects an all-digit ice-ufrag shorter than 4 characters', () => {
    const sdp = edit(sdpFixture('f7-obs'), 'a=ice-ufrag:Gs7P', 'a=ice-ufrag:123');
    expectAppError(() => parseOffer(sdp), ValidationError, 400);
  });

  // Regression (fixed): offer.ts line 112/132: an fmtp whose whole value is an integer (`a=fmtp:96 1`) reaches
  // parseFmtp as a number and `config.split` throws a TypeError (500 instead of a parse or 400).
  it('does not crash on an all-digit a=fmtp value', () => {
    const sdp = edit(
      sdpFixture('f7-obs'),
      'a=fmtp:96 profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1',
      'a=fmtp:96 1',
    );
    expect(() => parseOffer(sdp)).not.toThrow(TypeError);
  });

  // Regression (fixed): offer.ts line 190: `a=simulcast:send 1` (one numeric RID) gives list1 === 1 (number)
  // and `simulcast.list1.split` throws a TypeError (500).
  it('does not crash on a single numeric RID in a=simulcast', () => {
    const sdp = edit(
      sdpFixture('f7-obs'),
      'a=extmap:2 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
      'a=extmap:2 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\na=rid:1 send\r\na=simulcast:send 1',
    );
    expect(section(sdp, '1').rids).toEqual(['1']);
  });

  // Regression (fixed): offer.ts line 164: `a=ssrc-group:FID 3221225473` (one SSRC) gives a numeric `ssrcs`
  // and `group.ssrcs.split` throws a TypeError (500 instead of ignoring the group or 400).
  it('does not crash on a one-SSRC FID group', () => {
    const sdp = edit(
      sdpFixture('f7-obs'),
      'a=ssrc:3221225473 cname:obs-cname',
      'a=ssrc-group:FID 3221225473\r\na=ssrc:3221225473 cname:obs-cname',
    );
    expect(() => parseOffer(sdp)).not.toThrow(TypeError);
  });

  it('keeps a numeric RID "0" alone in a=simulcast (list1 === 0 falls back to a=rid)', () => {
    const sdp = edit(
      sdpFixture('f7-obs'),
      'a=extmap:2 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
      'a=extmap:2 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\na=rid:0 send\r\na=simulcast:send 0',
    );
    expect(section(sdp, '1').rids).toEqual(['0']);
  });

  it('returns numeric mids as strings', () => {
    expect(parseOffer(sdpFixture('f7-obs')).sections.map((s) => typeof s.mid)).toEqual([
      'string',
      'string',
    ]);
  });
});
