/**
 * Parsing of WHIP and WHEP SDP offers into a neutral shape (no mediasoup types). Tolerates the
 * shapes real clients send (conformance doc §R.6): ICE/DTLS attributes at session or media
 * level, port 0 + bundle-only sections, upper-case codec names (OBS `OPUS`), msid only in
 * a=ssrc lines, `a=group:LS`. Malformed input throws ValidationError (400); well-formed but
 * unsupported input throws UnprocessableError (422) from the callers that decide support.
 */
import * as sdpTransform from 'sdp-transform';
import type { MediaAttributes, SessionDescription } from 'sdp-transform';
import { ValidationError } from '../errors.ts';

export type MediaKind = 'audio' | 'video';
export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
export type DtlsSetup = 'actpass' | 'active' | 'passive';

export interface OfferedCodec {
  payloadType: number;
  /** e.g. `video/H264`, with the name as offered (case preserved). */
  mimeType: string;
  clockRate: number;
  channels?: number;
  parameters: Record<string, string | number>;
  /** The raw fmtp value, echoed in answers. */
  fmtp?: string;
  rtcpFeedback: { type: string; parameter: string }[];
  /** Payload type of the RTX codec associated with this one (apt), if offered. */
  rtxPayloadType?: number;
}

export interface OfferedSsrc {
  ssrc: number;
  rtxSsrc?: number;
  cname?: string;
}

export interface MediaSectionOffer {
  index: number;
  mid: string;
  kind: MediaKind;
  /** The m-line's kind token when not audio/video (application, text...). */
  rawKind: string;
  protocol: string;
  direction: Direction;
  codecs: OfferedCodec[];
  headerExtensions: { uri: string; id: number }[];
  /** Send-direction RIDs in `a=simulcast` order, when the section offers simulcast. */
  rids: string[];
  ssrcs: OfferedSsrc[];
  rtcpRsize: boolean;
  /** True for port-0 sections that are not bundle-only (i.e. really rejected by the offerer). */
  rejected: boolean;
}

export interface ParsedOffer {
  iceUfrag: string;
  icePwd: string;
  iceOptions?: string;
  setup: DtlsSetup;
  fingerprints: { algorithm: string; value: string }[];
  sections: MediaSectionOffer[];
  /** Media sections whose kind is neither audio nor video (datachannel, ...). */
  otherSections: { index: number; mid: string; kind: string; protocol: string; formats: string }[];
}

type Media = SessionDescription['media'][number];

function parseSdp(sdp: string): SessionDescription {
  const trimmed = sdp.replace(/^\uFEFF/, '').trimStart();
  if (!trimmed.startsWith('v=0')) {
    throw new ValidationError('malformed SDP: body must start with "v=0"');
  }
  if (trimmed.includes('\0')) throw new ValidationError('malformed SDP: contains NUL bytes');
  let session: SessionDescription;
  try {
    session = sdpTransform.parse(trimmed);
  } catch (error) {
    throw new ValidationError(`malformed SDP: ${(error as Error).message}`);
  }
  if (!Array.isArray(session.media) || session.media.length === 0) {
    throw new ValidationError('malformed SDP: the offer has no media sections (m= lines)');
  }
  return session;
}

function direction(media: Media, session: SessionDescription): Direction {
  const value = media.direction ?? (session as { direction?: Direction }).direction;
  return value ?? 'sendrecv';
}

function parseFmtp(config: string): Record<string, string | number> {
  const params: Record<string, string | number> = {};
  for (const part of config.split(';')) {
    const [rawKey, ...rest] = part.split('=');
    const key = rawKey?.trim();
    if (!key) continue;
    const value = rest.join('=').trim();
    // profile-level-id stays a string even when all digits (640032): h264-profile-level-id
    // only parses strings.
    params[key] =
      key !== 'profile-level-id' && /^\d+$/.test(value) && value.length < 16
        ? Number(value)
        : value;
  }
  return params;
}

function kindOf(type: string): MediaKind | undefined {
  return type === 'audio' || type === 'video' ? type : undefined;
}

function parseCodecs(media: Media): OfferedCodec[] {
  const payloads = String(media.payloads ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
  const rtpByPt = new Map((media.rtp ?? []).map((r) => [Number(r.payload), r]));
  // sdp-transform turns all-digit values into numbers: convert back wherever we use strings.
  const fmtpByPt = new Map((media.fmtp ?? []).map((f) => [Number(f.payload), String(f.config)]));
  const fbByPt = new Map<number | '*', { type: string; parameter: string }[]>();
  for (const fb of media.rtcpFb ?? []) {
    const key = fb.payload === '*' ? '*' : Number(fb.payload);
    const list = fbByPt.get(key) ?? [];
    list.push({ type: fb.type, parameter: fb.subtype ?? '' });
    fbByPt.set(key, list);
  }
  const codecs: OfferedCodec[] = [];
  for (const pt of payloads) {
    if (!Number.isInteger(pt) || pt < 0 || pt > 127) {
      throw new ValidationError(`malformed SDP: invalid payload type "${pt}"`);
    }
    const rtp = rtpByPt.get(pt);
    if (!rtp) continue; // Static payload types without rtpmap: nothing we support.
    const fmtp = fmtpByPt.get(pt);
    const codec: OfferedCodec = {
      payloadType: pt,
      mimeType: `${media.type}/${String(rtp.codec)}`,
      clockRate: rtp.rate ?? 90000,
      parameters: fmtp ? parseFmtp(fmtp) : {},
      rtcpFeedback: [...(fbByPt.get(pt) ?? []), ...(fbByPt.get('*') ?? [])],
    };
    if (fmtp !== undefined) codec.fmtp = fmtp;
    if (media.type === 'audio') codec.channels = rtp.encoding ? Number(rtp.encoding) : 1;
    codecs.push(codec);
  }
  // Attach RTX codecs to the codec they repair (apt) and drop them from the list.
  const result: OfferedCodec[] = [];
  for (const codec of codecs) {
    if (/\/rtx$/i.test(codec.mimeType)) {
      const apt = Number(codec.parameters.apt);
      const target = codecs.find((c) => c.payloadType === apt);
      if (target && target.rtxPayloadType === undefined) target.rtxPayloadType = codec.payloadType;
      continue;
    }
    result.push(codec);
  }
  return result;
}

function parseSsrcs(media: Media): OfferedSsrc[] {
  const order: number[] = [];
  const cnames = new Map<number, string>();
  for (const line of media.ssrcs ?? []) {
    const ssrc = Number(line.id);
    if (!order.includes(ssrc)) order.push(ssrc);
    if (line.attribute === 'cname' && line.value) cnames.set(ssrc, line.value);
  }
  const rtxOf = new Map<number, number>();
  for (const group of media.ssrcGroups ?? []) {
    if (group.semantics !== 'FID') continue;
    const [primary, rtx] = String(group.ssrcs).split(/\s+/).map(Number);
    if (primary !== undefined && rtx !== undefined) rtxOf.set(primary, rtx);
  }
  const rtxSet = new Set(rtxOf.values());
  return order
    .filter((ssrc) => !rtxSet.has(ssrc))
    .map((ssrc) => {
      const entry: OfferedSsrc = { ssrc };
      const rtx = rtxOf.get(ssrc);
      if (rtx !== undefined) entry.rtxSsrc = rtx;
      const cname = cnames.get(ssrc);
      if (cname !== undefined) entry.cname = cname;
      return entry;
    });
}

function parseRids(media: Media): string[] {
  const sendRids = (media.rids ?? [])
    .filter((r) => r.direction === 'send')
    .map((r) => String(r.id));
  if (sendRids.length === 0) return [];
  const simulcast = (media as MediaAttributes & { simulcast?: { dir1?: string; list1?: string } })
    .simulcast;
  if (simulcast?.dir1 === 'send' && simulcast.list1 !== undefined) {
    // "a=simulcast:send 0;1;2" or with alternatives "0,1;2": take the first of each group and
    // skip paused (~) streams.
    const listed = String(simulcast.list1)
      .split(';')
      .map((alt) => alt.split(',')[0].trim().replace(/^~/, ''))
      .filter((rid) => sendRids.includes(rid));
    if (listed.length > 0) return listed;
  }
  return sendRids;
}

/** Parses an SDP offer. Throws ValidationError (400) when it is malformed. */
export function parseOffer(sdp: string): ParsedOffer {
  const session = parseSdp(sdp);
  const sessionAny = session as SessionDescription & {
    iceUfrag?: string;
    icePwd?: string;
    iceOptions?: string;
    setup?: string;
    fingerprint?: { type: string; hash: string };
  };
  const str = (value: string | number | undefined): string | undefined =>
    value === undefined ? undefined : String(value);
  let iceUfrag = str(sessionAny.iceUfrag);
  let icePwd = str(sessionAny.icePwd);
  // sdp-transform keeps only the first token of a=ice-options; read the line itself.
  const iceOptions = /^a=ice-options:(.+)$/m.exec(sdp)?.[1]?.trim();
  let setup = sessionAny.setup;
  const fingerprints: { algorithm: string; value: string }[] = [];
  if (sessionAny.fingerprint) {
    fingerprints.push({
      algorithm: sessionAny.fingerprint.type.toLowerCase(),
      value: sessionAny.fingerprint.hash.toUpperCase(),
    });
  }

  const sections: MediaSectionOffer[] = [];
  const otherSections: ParsedOffer['otherSections'] = [];
  session.media.forEach((media, index) => {
    iceUfrag ??= str(media.iceUfrag);
    icePwd ??= str(media.icePwd);
    setup ??= media.setup;
    if (fingerprints.length === 0 && media.fingerprint) {
      fingerprints.push({
        algorithm: media.fingerprint.type.toLowerCase(),
        value: media.fingerprint.hash.toUpperCase(),
      });
    }
    const mid = media.mid !== undefined ? String(media.mid) : String(index);
    const kind = kindOf(media.type);
    if (!kind) {
      otherSections.push({
        index,
        mid,
        kind: media.type,
        protocol: media.protocol,
        formats: String(media.payloads ?? ''),
      });
      return;
    }
    const bundleOnly = (media as { bundleOnly?: string }).bundleOnly !== undefined;
    sections.push({
      index,
      mid,
      kind,
      rawKind: media.type,
      protocol: media.protocol,
      direction: direction(media, session),
      codecs: parseCodecs(media),
      headerExtensions: (media.ext ?? []).map((e) => ({ uri: e.uri, id: e.value })),
      rids: parseRids(media),
      ssrcs: parseSsrcs(media),
      rtcpRsize: (media as { rtcpRsize?: string }).rtcpRsize !== undefined,
      rejected: media.port === 0 && !bundleOnly,
    });
  });

  if (!iceUfrag || !icePwd) {
    throw new ValidationError('malformed SDP: missing a=ice-ufrag / a=ice-pwd');
  }
  if (iceUfrag.length < 4 || iceUfrag.length > 256 || icePwd.length < 22 || icePwd.length > 256) {
    throw new ValidationError('malformed SDP: ice-ufrag must be 4-256 and ice-pwd 22-256 chars');
  }
  if (fingerprints.length === 0) throw new ValidationError('malformed SDP: missing a=fingerprint');
  const normalizedSetup = (setup ?? 'actpass').toLowerCase();
  if (!['actpass', 'active', 'passive'].includes(normalizedSetup)) {
    throw new ValidationError(`malformed SDP: unsupported a=setup:${setup}`);
  }
  const mids = new Set<string>();
  for (const section of [...sections, ...otherSections]) {
    if (mids.has(section.mid))
      throw new ValidationError(`malformed SDP: duplicate mid "${section.mid}"`);
    mids.add(section.mid);
  }
  const offer: ParsedOffer = {
    iceUfrag,
    icePwd,
    setup: normalizedSetup as DtlsSetup,
    fingerprints,
    sections,
    otherSections,
  };
  if (iceOptions) offer.iceOptions = iceOptions;
  return offer;
}
