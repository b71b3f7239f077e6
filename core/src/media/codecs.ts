/**
 * Which codecs we accept and how offered codecs map onto mediasoup RTP parameters and router
 * capabilities. Media is passed through untouched: any H.264 profile a publisher sends (OBS
 * sends High while advertising 42e01f, see field-notes §1) is forwarded as is.
 */
import * as h264 from 'h264-profile-level-id';
import type { types as ms } from 'mediasoup';
import { UnprocessableError } from '../errors.ts';
import type { MediaKind, MediaSectionOffer, OfferedCodec } from '../sdp/offer.ts';

/** Video codecs mediasoup 3.27 can forward, in our order of preference for nothing: the
 * publisher's own order decides. mediasoup dropped H.265 (3.8 had it) and added AV1. */
const VIDEO_CODECS = ['h264', 'vp8', 'vp9', 'av1'];

/** RTCP feedback mediasoup understands, per kind. */
const FEEDBACK: Record<MediaKind, string[]> = {
  audio: ['transport-cc'],
  video: ['nack', 'nack pli', 'ccm fir', 'goog-remb', 'transport-cc'],
};

function codecName(codec: { mimeType: string }): string {
  return codec.mimeType.split('/')[1].toLowerCase();
}

export function isSupportedCodec(kind: MediaKind, codec: OfferedCodec): boolean {
  const name = codecName(codec);
  if (kind === 'audio') return name === 'opus' && codec.clockRate === 48000;
  if (!VIDEO_CODECS.includes(name) || codec.clockRate !== 90000) return false;
  if (name === 'h264') {
    const pm = Number(codec.parameters['packetization-mode'] ?? 0);
    if (pm !== 0 && pm !== 1) return false;
    // An unparsable profile-level-id can't be matched to a viewer: refuse it.
    const plid = codec.parameters['profile-level-id'];
    if (plid !== undefined && !h264.parseProfileLevelId(String(plid))) return false;
  }
  return true;
}

/** The codec a publisher's section will be received with: its first supported one. */
export function selectPublishCodec(section: MediaSectionOffer): OfferedCodec {
  const codec = section.codecs.find((c) => isSupportedCodec(section.kind, c));
  if (!codec) {
    const offered = section.codecs.map((c) => codecName(c)).join(', ') || 'none';
    const wanted = section.kind === 'audio' ? 'Opus' : 'H.264, VP8, VP9 or AV1';
    throw new UnprocessableError(
      `unsupported ${section.kind} codecs (${offered}) in mid ${section.mid}; use ${wanted}`,
    );
  }
  return codec;
}

/** The rtcp-fb entries of an offered codec that mediasoup handles. */
export function supportedFeedback(kind: MediaKind, codec: OfferedCodec): ms.RtcpFeedback[] {
  const seen = new Set<string>();
  const result: ms.RtcpFeedback[] = [];
  for (const fb of codec.rtcpFeedback) {
    const key = `${fb.type} ${fb.parameter}`.trim().toLowerCase();
    if (!FEEDBACK[kind].includes(key) || seen.has(key)) continue;
    seen.add(key);
    result.push({ type: fb.type, parameter: fb.parameter });
  }
  return result;
}

/** Normalized mediasoup mime type (`video/H264`) from an offered one (`video/h264`). */
export function normalizedMimeType(kind: MediaKind, codec: { mimeType: string }): string {
  const name = codecName(codec);
  const canonical: Record<string, string> = {
    opus: 'opus',
    h264: 'H264',
    vp8: 'VP8',
    vp9: 'VP9',
    av1: 'AV1',
  };
  return `${kind}/${canonical[name] ?? name}`;
}

/** Router media codec capability for a codec, optionally pinning its payload type. */
export function routerCodec(
  kind: MediaKind,
  codec: OfferedCodec | ms.RtpCodecParameters,
  preferredPayloadType?: number,
): ms.RouterRtpCodecCapability {
  const capability: ms.RouterRtpCodecCapability = {
    kind,
    mimeType: normalizedMimeType(kind, codec),
    clockRate: codec.clockRate,
    parameters: { ...(codec.parameters as Record<string, unknown>) },
  };
  if (kind === 'audio') capability.channels = codec.channels ?? 2;
  if (preferredPayloadType !== undefined) capability.preferredPayloadType = preferredPayloadType;
  return capability;
}

/** Do two codecs describe the same media format (mediasoup's strict matching rules)? */
export function sameFormat(
  kind: MediaKind,
  a: {
    mimeType: string;
    clockRate: number;
    channels?: number;
    parameters?: Record<string, unknown>;
  },
  b: {
    mimeType: string;
    clockRate: number;
    channels?: number;
    parameters?: Record<string, unknown>;
  },
): boolean {
  if (codecName(a) !== codecName(b) || a.clockRate !== b.clockRate) return false;
  if (kind === 'audio' && (a.channels ?? 1) !== (b.channels ?? 1)) return false;
  const pa = a.parameters ?? {};
  const pb = b.parameters ?? {};
  switch (codecName(a)) {
    case 'h264':
      if (Number(pa['packetization-mode'] ?? 0) !== Number(pb['packetization-mode'] ?? 0)) {
        return false;
      }
      return h264.isSameProfile(pa, pb);
    case 'vp9':
      return Number(pa['profile-id'] ?? 0) === Number(pb['profile-id'] ?? 0);
    default:
      return true;
  }
}

/**
 * RTP parameters of the Producer for one publisher section. Simulcast RIDs are ordered from
 * the lowest to the highest layer as mediasoup expects: OBS names its layers "0".."N-1" with
 * "0" the full resolution (field-notes §1), so all-numeric RIDs are reversed; other RIDs keep
 * the offer's order (browsers list them low to high).
 */
export function producerRtpParameters(
  section: MediaSectionOffer,
  codec: OfferedCodec,
  supportedExtensions: ms.RtpHeaderExtension[],
): ms.RtpParameters {
  const codecs: ms.RtpCodecParameters[] = [
    {
      mimeType: normalizedMimeType(section.kind, codec),
      payloadType: codec.payloadType,
      clockRate: codec.clockRate,
      ...(section.kind === 'audio' ? { channels: codec.channels ?? 2 } : {}),
      parameters: { ...codec.parameters },
      rtcpFeedback: supportedFeedback(section.kind, codec),
    },
  ];
  if (codec.rtxPayloadType !== undefined && section.kind === 'video') {
    codecs.push({
      mimeType: `${section.kind}/rtx`,
      payloadType: codec.rtxPayloadType,
      clockRate: codec.clockRate,
      parameters: { apt: codec.payloadType },
      rtcpFeedback: [],
    });
  }
  const headerExtensions = acceptedExtensions(section, supportedExtensions).map((e) => ({
    uri: e.uri as ms.RtpHeaderExtensionUri,
    id: e.id,
  }));
  let encodings: ms.RtpEncodingParameters[];
  if (section.rids.length > 0) {
    const ordered = section.rids.every((rid) => /^\d+$/.test(rid))
      ? [...section.rids].sort((a, b) => Number(b) - Number(a))
      : section.rids;
    encodings = ordered.map((rid) => ({ rid }));
  } else if (section.ssrcs.length > 0) {
    const first = section.ssrcs[0];
    encodings = [
      {
        ssrc: first.ssrc,
        ...(first.rtxSsrc !== undefined && codecs.length > 1
          ? { rtx: { ssrc: first.rtxSsrc } }
          : {}),
      },
    ];
  } else {
    encodings = [{}];
  }
  const cname = section.ssrcs.find((s) => s.cname)?.cname;
  return {
    mid: section.mid,
    codecs,
    headerExtensions,
    encodings,
    rtcp: { ...(cname ? { cname } : {}), reducedSize: true },
  };
}

/** The offered header extensions mediasoup supports for this kind (by URI). */
export function acceptedExtensions(
  section: MediaSectionOffer,
  supported: ms.RtpHeaderExtension[],
): { uri: string; id: number }[] {
  return section.headerExtensions.filter((ext) =>
    supported.some((s) => s.uri === ext.uri && (s.kind === section.kind || !s.kind)),
  );
}
