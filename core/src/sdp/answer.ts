/**
 * Builds SDP answers (and ICE-restart fragments) for mediasoup WebRtcTransports. mediasoup is
 * ICE-lite, so the answer carries every server candidate (RFC 9725 §4.3.2: there is no later
 * channel for server candidates), UDP first (FFmpeg uses only the first, conformance §R.2),
 * and `a=end-of-candidates`. ICE/DTLS attributes are repeated in every bundled section, which
 * every client we know accepts.
 */
import { randomBytes } from 'node:crypto';

export interface AnswerCandidate {
  foundation: string;
  priority: number;
  ip: string;
  protocol: 'udp' | 'tcp';
  port: number;
  tcpType?: string;
}

export interface AnswerTransport {
  iceUfrag: string;
  icePwd: string;
  candidates: AnswerCandidate[];
  fingerprint: { algorithm: string; value: string };
  setup: 'active' | 'passive';
}

export interface AnswerCodec {
  payloadType: number;
  /** Encoding name as written in a=rtpmap (`opus`, `H264`, `rtx`). */
  name: string;
  clockRate: number;
  channels?: number;
  fmtp?: string;
  rtcpFeedback: { type: string; parameter?: string }[];
}

export interface AnswerSection {
  mid: string;
  kind: string;
  protocol: string;
  /** Rejected sections get port 0 and `a=inactive`, and are left out of the BUNDLE group. */
  accepted: boolean;
  /** The m-line's format list for a rejected section (echoes the offer's). */
  formats?: string;
  direction: 'recvonly' | 'sendonly';
  codecs: AnswerCodec[];
  headerExtensions: { id: number; uri: string }[];
  rtcpRsize: boolean;
  /** Simulcast layers accepted for receiving (WHIP), written as a=rid/a=simulcast:recv. */
  recvRids?: string[];
  /** What we send (WHEP): msid and SSRCs of the Consumer. */
  msid?: { streamId: string; trackId: string };
  ssrcs?: { ssrc: number; rtxSsrc?: number; cname: string };
}

const CRLF = '\r\n';

function candidateLines(transport: AnswerTransport): string[] {
  const sorted = [...transport.candidates].sort((a, b) => {
    if (a.protocol !== b.protocol) return a.protocol === 'udp' ? -1 : 1;
    return b.priority - a.priority;
  });
  const lines = sorted.map((c) => {
    let line = `a=candidate:${c.foundation} 1 ${c.protocol} ${c.priority} ${c.ip} ${c.port} typ host`;
    if (c.protocol === 'tcp') line += ` tcptype ${c.tcpType ?? 'passive'}`;
    return line;
  });
  lines.push('a=end-of-candidates');
  return lines;
}

function connectionLine(transport: AnswerTransport): string {
  const first = transport.candidates.find((c) => c.protocol === 'udp') ?? transport.candidates[0];
  if (!first) return 'c=IN IP4 0.0.0.0';
  return first.ip.includes(':') ? `c=IN IP6 ${first.ip}` : `c=IN IP4 ${first.ip}`;
}

function mediaPort(transport: AnswerTransport): number {
  return transport.candidates.find((c) => c.protocol === 'udp')?.port ?? 9;
}

export function buildAnswer(options: {
  transport: AnswerTransport;
  sections: AnswerSection[];
  /** Echo of the offer's a=ice-options, if any (trickle/ice2). */
  iceOptions?: string;
}): string {
  const { transport, sections } = options;
  const sessionId = BigInt(`0x${randomBytes(7).toString('hex')}`).toString();
  const bundled = sections.filter((s) => s.accepted).map((s) => s.mid);
  const lines = ['v=0', `o=- ${sessionId} 2 IN IP4 127.0.0.1`, 's=-', 't=0 0', 'a=ice-lite'];
  if (bundled.length > 0) lines.push(`a=group:BUNDLE ${bundled.join(' ')}`);
  lines.push('a=msid-semantic: WMS *');

  for (const section of sections) {
    const pts = section.codecs.map((c) => c.payloadType);
    if (!section.accepted) {
      const formats = section.formats || (pts.length ? pts.join(' ') : '0');
      lines.push(`m=${section.kind} 0 ${section.protocol} ${formats}`);
      lines.push('c=IN IP4 0.0.0.0', `a=mid:${section.mid}`, 'a=inactive');
      continue;
    }
    lines.push(`m=${section.kind} ${mediaPort(transport)} ${section.protocol} ${pts.join(' ')}`);
    lines.push(connectionLine(transport));
    lines.push(`a=mid:${section.mid}`);
    lines.push(`a=ice-ufrag:${transport.iceUfrag}`, `a=ice-pwd:${transport.icePwd}`);
    if (options.iceOptions) lines.push(`a=ice-options:${options.iceOptions}`);
    lines.push(
      `a=fingerprint:${transport.fingerprint.algorithm} ${transport.fingerprint.value}`,
      `a=setup:${transport.setup}`,
    );
    lines.push(`a=${section.direction}`, 'a=rtcp-mux');
    if (section.rtcpRsize) lines.push('a=rtcp-rsize');
    for (const ext of section.headerExtensions) lines.push(`a=extmap:${ext.id} ${ext.uri}`);
    for (const codec of section.codecs) {
      const channels = codec.channels && codec.channels > 1 ? `/${codec.channels}` : '';
      lines.push(`a=rtpmap:${codec.payloadType} ${codec.name}/${codec.clockRate}${channels}`);
      for (const fb of codec.rtcpFeedback) {
        lines.push(
          `a=rtcp-fb:${codec.payloadType} ${fb.type}${fb.parameter ? ` ${fb.parameter}` : ''}`,
        );
      }
      if (codec.fmtp) lines.push(`a=fmtp:${codec.payloadType} ${codec.fmtp}`);
    }
    if (section.recvRids && section.recvRids.length > 0) {
      for (const rid of section.recvRids) lines.push(`a=rid:${rid} recv`);
      lines.push(`a=simulcast:recv ${section.recvRids.join(';')}`);
    }
    if (section.msid) lines.push(`a=msid:${section.msid.streamId} ${section.msid.trackId}`);
    if (section.ssrcs) {
      const { ssrc, rtxSsrc, cname } = section.ssrcs;
      if (rtxSsrc !== undefined) lines.push(`a=ssrc-group:FID ${ssrc} ${rtxSsrc}`);
      for (const id of rtxSsrc !== undefined ? [ssrc, rtxSsrc] : [ssrc]) {
        lines.push(`a=ssrc:${id} cname:${cname}`);
        if (section.msid) {
          lines.push(`a=ssrc:${id} msid:${section.msid.streamId} ${section.msid.trackId}`);
        }
      }
    }
    lines.push(...candidateLines(transport));
  }
  return lines.join(CRLF) + CRLF;
}

/** An answer section rejecting an offered m-line (port 0), echoing its format list. */
export function rejectedSection(offered: {
  mid: string;
  kind: string;
  protocol: string;
  formats: string;
}): AnswerSection {
  return {
    mid: offered.mid,
    kind: offered.kind,
    protocol: offered.protocol,
    accepted: false,
    formats: offered.formats,
    direction: 'recvonly',
    codecs: [],
    headerExtensions: [],
    rtcpRsize: false,
  };
}

/**
 * The body of a 200 answer to an ICE-restart PATCH (RFC 9725 §4.3.3): the new credentials,
 * the same ICE options as the answer (ice-lite), and all server candidates.
 */
export function buildIceRestartFragment(options: {
  transport: AnswerTransport;
  mids: { mid: string; kind: string; protocol: string }[];
  iceOptions?: string;
}): string {
  const { transport } = options;
  const lines = ['a=ice-lite'];
  if (options.iceOptions) lines.push(`a=ice-options:${options.iceOptions}`);
  lines.push(`a=group:BUNDLE ${options.mids.map((m) => m.mid).join(' ')}`);
  const first = options.mids[0];
  if (first) {
    lines.push(`m=${first.kind} 9 ${first.protocol} 0`);
    lines.push(`a=mid:${first.mid}`);
  }
  lines.push(`a=ice-ufrag:${transport.iceUfrag}`, `a=ice-pwd:${transport.icePwd}`);
  lines.push(...candidateLines(transport));
  return lines.join(CRLF) + CRLF;
}
