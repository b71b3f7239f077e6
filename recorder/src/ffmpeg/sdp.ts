/**
 * The SDP ffmpeg reads to receive a stream's RTP from mediasoup PlainTransports: one media
 * section per track with the consumer's exact payload type, rtpmap and fmtp, on a port pair
 * without rtcp-mux (ffmpeg's SDP demuxer has none). `RTP/AVPF` turns on ffmpeg's RTCP
 * feedback (NACK, FIR), which `-sdp_flags rtcp_to_source` sends back to mediasoup; mediasoup's
 * sender reports are what ffmpeg syncs audio and video by.
 */
import type { types as ms } from 'mediasoup';

export interface SdpTrack {
  kind: 'audio' | 'video';
  /** The consumer's RTP parameters (its single media codec). */
  rtpParameters: ms.RtpParameters;
  /** Where ffmpeg listens: RTP on `port`, RTCP on `port + 1`. */
  port: number;
}

export function ffmpegSdp(tracks: readonly SdpTrack[], ip = '127.0.0.1'): string {
  const lines = ['v=0', `o=- 0 0 IN IP4 ${ip}`, 's=wisp recorder', `c=IN IP4 ${ip}`, 't=0 0'];
  for (const track of tracks) {
    const codec = track.rtpParameters.codecs[0];
    if (!codec) throw new TypeError('consumer has no codec');
    const [, name] = codec.mimeType.split('/');
    const channels =
      track.kind === 'audio' && (codec.channels ?? 1) > 1 ? `/${codec.channels}` : '';
    lines.push(
      `m=${track.kind} ${track.port} RTP/AVPF ${codec.payloadType}`,
      `a=rtcp:${track.port + 1}`,
      `a=rtpmap:${codec.payloadType} ${name}/${codec.clockRate}${channels}`,
    );
    const fmtp = Object.entries(codec.parameters ?? {})
      .map(([key, value]) => `${key}=${String(value)}`)
      .join(';');
    if (fmtp) lines.push(`a=fmtp:${codec.payloadType} ${fmtp}`);
    for (const fb of codec.rtcpFeedback ?? []) {
      lines.push(
        `a=rtcp-fb:${codec.payloadType} ${fb.type}${fb.parameter ? ` ${fb.parameter}` : ''}`,
      );
    }
    lines.push('a=recvonly');
  }
  return `${lines.join('\r\n')}\r\n`;
}
