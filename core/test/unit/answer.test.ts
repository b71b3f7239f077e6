import { getSupportedRtpCapabilities } from 'mediasoup';
import * as sdpTransform from 'sdp-transform';
import { describe, expect, it } from 'vitest';
import { planPublish } from '../../../ingest/src/planPublish.ts';
import { acceptedExtensions, supportedFeedback } from '../../src/media/codecs.ts';
import {
  buildAnswer,
  buildIceRestartFragment,
  type AnswerSection,
  type AnswerTransport,
} from '../../src/sdp/answer.ts';
import { parseTrickleFragment } from '../../src/sdp/fragment.ts';
import { sdpFixture } from './sdpFixtures.ts';

const FINGERPRINT =
  'AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99';

/** What mediasoup reports for a transport listening on UDP and TCP (order as it gives them). */
const TRANSPORT: AnswerTransport = {
  iceUfrag: 'srvufrag1234abcd',
  icePwd: 'srvpassword0123456789abcdefghij',
  candidates: [
    {
      foundation: 'tcpcandidate',
      priority: 1076302079,
      ip: '203.0.113.5',
      protocol: 'tcp',
      port: 40001,
      tcpType: 'passive',
    },
    {
      foundation: 'udpcandidate',
      priority: 1076558079,
      ip: '203.0.113.5',
      protocol: 'udp',
      port: 40000,
    },
  ],
  fingerprint: { algorithm: 'sha-256', value: FINGERPRINT },
  setup: 'passive',
};

const OPUS = {
  payloadType: 111,
  name: 'opus',
  clockRate: 48000,
  channels: 2,
  fmtp: 'minptime=10;useinbandfec=1',
  rtcpFeedback: [{ type: 'transport-cc' }],
};

const H264 = {
  payloadType: 96,
  name: 'H264',
  clockRate: 90000,
  fmtp: 'profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1',
  rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }],
};

const RTX = { payloadType: 97, name: 'rtx', clockRate: 90000, fmtp: 'apt=96', rtcpFeedback: [] };

function whipSections(): AnswerSection[] {
  return [
    {
      mid: '0',
      kind: 'audio',
      protocol: 'UDP/TLS/RTP/SAVPF',
      accepted: true,
      direction: 'recvonly',
      codecs: [OPUS],
      headerExtensions: [{ id: 1, uri: 'urn:ietf:params:rtp-hdrext:sdes:mid' }],
      rtcpRsize: false,
    },
    {
      mid: '1',
      kind: 'video',
      protocol: 'UDP/TLS/RTP/SAVPF',
      accepted: true,
      direction: 'recvonly',
      codecs: [H264, RTX],
      headerExtensions: [
        { id: 1, uri: 'urn:ietf:params:rtp-hdrext:sdes:mid' },
        { id: 2, uri: 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id' },
      ],
      rtcpRsize: true,
      recvRids: ['0', '1', '2'],
    },
    {
      mid: '2',
      kind: 'video',
      protocol: 'UDP/TLS/RTP/SAVPF',
      accepted: false,
      direction: 'recvonly',
      codecs: [],
      headerExtensions: [],
      rtcpRsize: false,
    },
  ];
}

function whepSections(): AnswerSection[] {
  return [
    {
      mid: '0',
      kind: 'audio',
      protocol: 'UDP/TLS/RTP/SAVPF',
      accepted: true,
      direction: 'sendonly',
      codecs: [OPUS],
      headerExtensions: [],
      rtcpRsize: true,
      msid: { streamId: 'wisp-stream', trackId: 'audio-track' },
      ssrcs: { ssrc: 1111, cname: 'wispcname' },
    },
    {
      mid: '1',
      kind: 'video',
      protocol: 'UDP/TLS/RTP/SAVPF',
      accepted: true,
      direction: 'sendonly',
      codecs: [H264, RTX],
      headerExtensions: [],
      rtcpRsize: true,
      msid: { streamId: 'wisp-stream', trackId: 'video-track' },
      ssrcs: { ssrc: 2222, rtxSsrc: 3333, cname: 'wispcname' },
    },
  ];
}

function parse(sdp: string) {
  return sdpTransform.parse(sdp);
}

describe('buildAnswer: session level', () => {
  const answer = buildAnswer({ transport: TRANSPORT, sections: whipSections() });
  const parsed = parse(answer);

  it('starts with v=0 and uses CRLF line ends only', () => {
    expect(answer.startsWith('v=0\r\n')).toBe(true);
    expect(answer.endsWith('\r\n')).toBe(true);
    expect(answer.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  });

  it('declares ice-lite at session level, before the first m= line', () => {
    expect(parsed.icelite).toBe('ice-lite');
    expect(answer.indexOf('a=ice-lite')).toBeLessThan(answer.indexOf('m='));
    expect(parsed.media.every((m) => !('icelite' in m))).toBe(true);
  });

  it('lists only accepted mids in the BUNDLE group', () => {
    expect(parsed.groups).toEqual([{ type: 'BUNDLE', mids: '0 1' }]);
  });

  it('answers every offered m-section, in order', () => {
    expect(parsed.media.map((m) => String(m.mid))).toEqual(['0', '1', '2']);
  });

  it('uses a fresh numeric session id per answer', () => {
    const other = parse(buildAnswer({ transport: TRANSPORT, sections: whipSections() }));
    expect(String(parsed.origin.sessionId)).toMatch(/^\d+$/);
    expect(other.origin.sessionId).not.toEqual(parsed.origin.sessionId);
  });
});

describe('buildAnswer: accepted sections', () => {
  const parsed = parse(buildAnswer({ transport: TRANSPORT, sections: whipSections() }));
  const [audio, video] = parsed.media;

  it('answers recvonly for WHIP and sendonly for WHEP', () => {
    expect(audio.direction).toBe('recvonly');
    expect(video.direction).toBe('recvonly');
    const whep = parse(buildAnswer({ transport: TRANSPORT, sections: whepSections() }));
    expect(whep.media.map((m) => m.direction)).toEqual(['sendonly', 'sendonly']);
  });

  it('carries ICE credentials, fingerprint, setup and rtcp-mux in every accepted section', () => {
    for (const media of [audio, video]) {
      expect(media.iceUfrag).toBe(TRANSPORT.iceUfrag);
      expect(media.icePwd).toBe(TRANSPORT.icePwd);
      expect(media.fingerprint).toEqual({ type: 'sha-256', hash: FINGERPRINT });
      expect(media.setup).toBe('passive');
      expect(media.rtcpMux).toBe('rtcp-mux');
    }
  });

  it('lists UDP candidates first, then TCP with tcptype passive, then end-of-candidates', () => {
    for (const media of [audio, video]) {
      expect(media.candidates!.map((c) => [c.transport, c.port, c.type, c.tcptype])).toEqual([
        ['udp', 40000, 'host', undefined],
        ['tcp', 40001, 'host', 'passive'],
      ]);
      expect(media.endOfCandidates).toBe('end-of-candidates');
    }
  });

  it('orders candidates of one protocol by descending priority', () => {
    const transport: AnswerTransport = {
      ...TRANSPORT,
      candidates: [
        { foundation: 'a', priority: 100, ip: '198.51.100.1', protocol: 'udp', port: 1 },
        { foundation: 'b', priority: 300, ip: '198.51.100.2', protocol: 'udp', port: 2 },
        { foundation: 'c', priority: 999, ip: '198.51.100.3', protocol: 'tcp', port: 3 },
      ],
    };
    const [media] = parse(buildAnswer({ transport, sections: whipSections() })).media;
    expect(media.candidates!.map((c) => c.foundation)).toEqual(['b', 'a', 'c']);
  });

  it('puts the UDP candidate address in c= and its port in m=', () => {
    expect(audio.port).toBe(40000);
    expect(audio.connection).toEqual({ version: 4, ip: '203.0.113.5' });
  });

  it('writes c=IN IP6 for an IPv6 candidate', () => {
    const transport: AnswerTransport = {
      ...TRANSPORT,
      candidates: [
        { foundation: 'v6', priority: 1, ip: '2001:db8::5', protocol: 'udp', port: 40000 },
      ],
    };
    const [media] = parse(buildAnswer({ transport, sections: whipSections() })).media;
    expect(media.connection).toEqual({ version: 6, ip: '2001:db8::5' });
  });

  it('falls back to port 9 and 0.0.0.0 without candidates, and still ends candidates', () => {
    const transport: AnswerTransport = { ...TRANSPORT, candidates: [] };
    const [media] = parse(buildAnswer({ transport, sections: whipSections() })).media;
    expect(media.port).toBe(9);
    expect(media.connection).toEqual({ version: 4, ip: '0.0.0.0' });
    expect(media.endOfCandidates).toBe('end-of-candidates');
  });

  it('writes codecs with rtpmap, rtcp-fb and fmtp, channels only when > 1', () => {
    expect(audio.payloads).toBe(111);
    expect(audio.rtp).toEqual([{ payload: 111, codec: 'opus', rate: 48000, encoding: 2 }]);
    expect(audio.fmtp).toEqual([{ payload: 111, config: 'minptime=10;useinbandfec=1' }]);
    expect(audio.rtcpFb).toEqual([{ payload: 111, type: 'transport-cc' }]);
    expect(video.payloads).toBe('96 97');
    expect(video.rtp).toEqual([
      { payload: 96, codec: 'H264', rate: 90000 },
      { payload: 97, codec: 'rtx', rate: 90000 },
    ]);
    expect(video.fmtp).toContainEqual({ payload: 97, config: 'apt=96' });
    expect(video.rtcpFb).toEqual([
      { payload: 96, type: 'nack' },
      { payload: 96, type: 'nack', subtype: 'pli' },
    ]);
  });

  it('writes header extensions and rtcp-rsize as given', () => {
    expect(video.ext).toEqual([
      { value: 1, uri: 'urn:ietf:params:rtp-hdrext:sdes:mid' },
      { value: 2, uri: 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id' },
    ]);
    expect(video.rtcpRsize).toBe('rtcp-rsize');
    expect(audio.rtcpRsize).toBeUndefined();
  });

  it('accepts every simulcast RID with a=rid recv and a=simulcast:recv (OBS counts them)', () => {
    expect(video.rids!.map((r) => [String(r.id), r.direction])).toEqual([
      ['0', 'recv'],
      ['1', 'recv'],
      ['2', 'recv'],
    ]);
    expect(video.simulcast).toEqual({ dir1: 'recv', list1: '0;1;2' });
    expect(audio.simulcast).toBeUndefined();
  });

  it('echoes a=ice-options when given', () => {
    const media = parse(
      buildAnswer({ transport: TRANSPORT, sections: whipSections(), iceOptions: 'trickle' }),
    ).media[0];
    expect(media.iceOptions).toBe('trickle');
    expect(parsed.media[0].iceOptions).toBeUndefined();
  });
});

describe('buildAnswer: rejected sections', () => {
  const rejected = parse(buildAnswer({ transport: TRANSPORT, sections: whipSections() })).media[2];

  it('gets port 0, a=inactive and its mid, without transport attributes', () => {
    expect(rejected.port).toBe(0);
    expect(rejected.direction).toBe('inactive');
    expect(String(rejected.mid)).toBe('2');
    expect(rejected.iceUfrag).toBeUndefined();
    expect(rejected.candidates).toBeUndefined();
    expect(rejected.fingerprint).toBeUndefined();
  });

  it('leaves out the BUNDLE group when nothing is accepted', () => {
    const sections = whipSections().map((s) => ({ ...s, accepted: false }));
    const answer = buildAnswer({ transport: TRANSPORT, sections });
    expect(parse(answer).groups).toBeUndefined();
    expect(parse(answer).media.every((m) => m.port === 0)).toBe(true);
  });
});

describe('buildAnswer: WHEP msid and SSRCs', () => {
  const [audio, video] = parse(
    buildAnswer({ transport: TRANSPORT, sections: whepSections() }),
  ).media;

  it('writes a=msid', () => {
    expect(audio.msid).toEqual([{ id: 'wisp-stream', appdata: 'audio-track' }]);
    expect(video.msid).toEqual([{ id: 'wisp-stream', appdata: 'video-track' }]);
  });

  it('writes cname and msid per SSRC, and an FID group for RTX', () => {
    expect(audio.ssrcGroups).toBeUndefined();
    expect(audio.ssrcs).toEqual([
      { id: 1111, attribute: 'cname', value: 'wispcname' },
      { id: 1111, attribute: 'msid', value: 'wisp-stream audio-track' },
    ]);
    expect(video.ssrcGroups).toEqual([{ semantics: 'FID', ssrcs: '2222 3333' }]);
    expect(video.ssrcs!.map((s) => [s.id, s.attribute])).toEqual([
      [2222, 'cname'],
      [2222, 'msid'],
      [3333, 'cname'],
      [3333, 'msid'],
    ]);
  });
});

describe('buildAnswer: size (R.6 answer hygiene)', () => {
  /** The sections WhipSession builds for a publish plan (one codec, RTX if offered). */
  function answerFor(offerSdp: string): string {
    const plan = planPublish(offerSdp);
    const supported = getSupportedRtpCapabilities().headerExtensions ?? [];
    const sections: AnswerSection[] = plan.accepted.map(({ section, codec }) => ({
      mid: section.mid,
      kind: section.kind,
      protocol: section.protocol,
      accepted: true,
      direction: 'recvonly',
      codecs: [
        {
          payloadType: codec.payloadType,
          name: codec.mimeType.split('/')[1],
          clockRate: codec.clockRate,
          ...(codec.channels !== undefined ? { channels: codec.channels } : {}),
          ...(codec.fmtp !== undefined ? { fmtp: codec.fmtp } : {}),
          rtcpFeedback: supportedFeedback(section.kind, codec),
        },
        ...(codec.rtxPayloadType !== undefined
          ? [
              {
                payloadType: codec.rtxPayloadType,
                name: 'rtx',
                clockRate: 90000,
                fmtp: `apt=${codec.payloadType}`,
                rtcpFeedback: [],
              },
            ]
          : []),
      ],
      headerExtensions: acceptedExtensions(section, supported),
      rtcpRsize: section.rtcpRsize,
      recvRids: section.rids,
    }));
    return buildAnswer({ transport: TRANSPORT, sections });
  }

  it.each(['f6-ffmpeg', 'f7-obs', 'f7s-obs-simulcast', 'f2-browser'])(
    'keeps the answer to %s under 8 KiB with the UDP candidate first',
    (name) => {
      const answer = answerFor(sdpFixture(name));
      expect(Buffer.byteLength(answer)).toBeLessThan(8192);
      const firstCandidate = answer.split('\r\n').find((l) => l.startsWith('a=candidate:'));
      expect(firstCandidate).toMatch(/ udp /);
    },
  );

  it('answers the OBS simulcast offer with all three RIDs', () => {
    const [, video] = parse(answerFor(sdpFixture('f7s-obs-simulcast'))).media;
    expect(video.simulcast).toEqual({ dir1: 'recv', list1: '0;1;2' });
  });
});

describe('buildIceRestartFragment (RFC 9725 §4.3.3)', () => {
  const restarted: AnswerTransport = {
    ...TRANSPORT,
    iceUfrag: 'newufrag5678efgh',
    icePwd: 'newpassword9876543210zyxwvutsrq',
  };
  const mids = [
    { mid: '0', kind: 'audio', protocol: 'UDP/TLS/RTP/SAVPF' },
    { mid: '1', kind: 'video', protocol: 'UDP/TLS/RTP/SAVPF' },
  ];

  it('carries ice-lite, the BUNDLE group, the new credentials and every candidate', () => {
    const body = buildIceRestartFragment({ transport: restarted, mids });
    const lines = body.split('\r\n');
    expect(lines[0]).toBe('a=ice-lite');
    expect(lines).toContain('a=group:BUNDLE 0 1');
    expect(lines).toContain('m=audio 9 UDP/TLS/RTP/SAVPF 0');
    expect(lines).toContain('a=mid:0');
    expect(lines).toContain('a=ice-ufrag:newufrag5678efgh');
    expect(lines).toContain('a=ice-pwd:newpassword9876543210zyxwvutsrq');
    expect(lines.filter((l) => l.startsWith('a=candidate:'))).toHaveLength(2);
    expect(body.endsWith('a=end-of-candidates\r\n')).toBe(true);
  });

  it('round-trips through parseTrickleFragment', () => {
    const fragment = parseTrickleFragment(
      buildIceRestartFragment({ transport: restarted, mids, iceOptions: 'trickle ice2' }),
    );
    expect(fragment.iceUfrag).toBe('newufrag5678efgh');
    expect(fragment.icePwd).toBe('newpassword9876543210zyxwvutsrq');
    expect(fragment.iceOptions).toBe('trickle ice2');
    expect(fragment.endOfCandidates).toBe(true);
    expect(fragment.candidates.map((c) => [c.transport, c.port, c.usable])).toEqual([
      ['udp', 40000, true],
      ['tcp', 40001, true],
    ]);
  });
});
