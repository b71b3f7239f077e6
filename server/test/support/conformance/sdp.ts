/**
 * SDP helpers for the WHIP/WHEP conformance suites (shared/docs/whip-whep-conformance.md):
 * fixture loading, answer parsing and the trickle/restart fragments TF1/TF2 (§0.4).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as sdpTransform from 'sdp-transform';
import type { MediaAttributes, SessionDescription } from 'sdp-transform';

export const SDP_TYPE = 'application/sdp';
export const SDPFRAG_TYPE = 'application/trickle-ice-sdpfrag';

export type FixtureName =
  | 'f1-rfc'
  | 'f2-browser'
  | 'f3-sendrecv'
  | 'f4-recvonly'
  | 'f4b-inactive'
  | 'f5-active'
  | 'f6-ffmpeg'
  | 'f7-obs'
  | 'f7a-obs-audio-only'
  | 'f7v-obs-video-only'
  | 'f7s-obs-simulcast'
  | 'f8-two-video'
  | 'f9-simulcast'
  | 'f10-unknown-codec'
  | 'f11-no-fingerprint'
  | 'f11-no-ufrag'
  | 'f12-datachannel'
  | 'w1-whep-browser'
  | 'w2-whep-sendonly';

const FIXTURE_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../fixtures/sdp',
);

const cache = new Map<FixtureName, string>();

export function fixture(name: FixtureName): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(path.join(FIXTURE_DIR, `${name}.sdp`), 'utf8');
    cache.set(name, text);
  }
  return text;
}

/** The F11 malformed bodies that are not files: `hello`, an empty body and `v=0` only. */
export const MALFORMED_BODIES: { label: string; body: string }[] = [
  { label: 'hello', body: 'hello' },
  { label: 'empty body', body: '' },
  { label: 'v=0 only', body: 'v=0\r\n' },
  { label: 'F11 without a=fingerprint', body: fixture('f11-no-fingerprint') },
  { label: 'F11 without a=ice-ufrag', body: fixture('f11-no-ufrag') },
];

export type Media = SessionDescription['media'][number];

export function parseSdp(text: string): SessionDescription {
  return sdpTransform.parse(text);
}

/** The ICE credentials of an offer (session level first, then the first m-section). */
export function offerIce(text: string): { ufrag: string; pwd: string } {
  const session = parseSdp(text) as SessionDescription & MediaAttributes;
  const ufrag = session.iceUfrag ?? session.media.find((m) => m.iceUfrag)?.iceUfrag;
  const pwd = session.icePwd ?? session.media.find((m) => m.icePwd)?.icePwd;
  if (!ufrag || !pwd) throw new Error('fixture has no ICE credentials');
  return { ufrag, pwd };
}

export function mids(sdp: SessionDescription): string[] {
  return sdp.media.map((m, index) => (m.mid !== undefined ? String(m.mid) : String(index)));
}

/** Payload types on an m-line. */
export function payloads(media: Media): number[] {
  return String(media.payloads ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
}

/** Payload types an m-section mentions in a=rtpmap / a=fmtp / a=rtcp-fb. */
export function attributePayloads(media: Media): number[] {
  const pts = new Set<number>();
  for (const r of media.rtp ?? []) pts.add(r.payload);
  for (const f of media.fmtp ?? []) pts.add(f.payload);
  for (const fb of media.rtcpFb ?? []) if (fb.payload !== '*') pts.add(Number(fb.payload));
  return [...pts];
}

export function bundleGroup(sdp: SessionDescription): string[] | undefined {
  const group = sdp.groups?.find((g) => g.type === 'BUNDLE');
  return group ? String(group.mids).split(/\s+/).filter(Boolean) : undefined;
}

/** Session-level attributes sdp-transform puts on the root object. */
export function sessionAttrs(sdp: SessionDescription): SessionDescription & MediaAttributes {
  return sdp as SessionDescription & MediaAttributes;
}

/** Attributes sdp-transform does not know (e.g. `rtcp-mux-only`), as written. */
export function unknownAttributes(media: Media): string[] {
  return (media.invalid ?? []).map((i) => i.value);
}

export interface FragmentOptions {
  ufrag?: string;
  pwd?: string;
  /** Candidate lines without the `a=candidate:` prefix. */
  candidates?: string[];
  endOfCandidates?: boolean;
  iceOptions?: string;
  /** Line ending: CRLF (RFC 8840) unless LF is asked for. */
  eol?: '\r\n' | '\n';
  /** Put ufrag/pwd before the m-line (medooze style) instead of after a=mid. */
  sessionLevelCredentials?: boolean;
  /** The m-line written (TF1 uses the offer's first m-line). */
  mLine?: string | null;
  mid?: string | null;
  group?: string | null;
}

export const TF_CANDIDATE = '1 1 udp 2122260223 192.0.2.10 61764 typ host';

/**
 * A trickle fragment per RFC 8840 / RFC 9725 §4.3.2 (TF1). With new credentials and
 * `iceOptions` it is TF2, the ICE-restart fragment.
 */
export function trickleFragment(options: FragmentOptions = {}): string {
  const eol = options.eol ?? '\r\n';
  const lines: string[] = [];
  if (options.iceOptions) lines.push(`a=ice-options:${options.iceOptions}`);
  const group = options.group === undefined ? 'a=group:BUNDLE 0 1' : options.group;
  if (group) lines.push(group);
  const credentials: string[] = [];
  if (options.ufrag !== undefined) credentials.push(`a=ice-ufrag:${options.ufrag}`);
  if (options.pwd !== undefined) credentials.push(`a=ice-pwd:${options.pwd}`);
  if (options.sessionLevelCredentials) lines.push(...credentials);
  const mLine = options.mLine === undefined ? 'm=audio 9 UDP/TLS/RTP/SAVPF 111' : options.mLine;
  if (mLine) lines.push(mLine);
  const mid = options.mid === undefined ? '0' : options.mid;
  if (mid !== null) lines.push(`a=mid:${mid}`);
  if (!options.sessionLevelCredentials) lines.push(...credentials);
  for (const candidate of options.candidates ?? [TF_CANDIDATE]) {
    lines.push(`a=candidate:${candidate}`);
  }
  if (options.endOfCandidates ?? true) lines.push('a=end-of-candidates');
  return lines.join(eol) + eol;
}

/** TF1 for an offer: its own credentials and one host candidate. */
export function tf1(offer: string, extra: Partial<FragmentOptions> = {}): string {
  const { ufrag, pwd } = offerIce(offer);
  return trickleFragment({ ufrag, pwd, ...extra });
}

let restartCounter = 0;

/** Fresh ICE credentials, distinct from every fixture's and from each other. */
export function newIceCredentials(): { ufrag: string; pwd: string } {
  restartCounter += 1;
  const n = String(restartCounter).padStart(4, '0');
  return { ufrag: `Rs${n}`, pwd: `restartPassword${n}xxxxxxx` };
}

/** TF2: TF1 with new credentials and the offer's ice-options (`trickle ice2` unless given). */
export function tf2(
  credentials = newIceCredentials(),
  extra: Partial<FragmentOptions> = {},
): { body: string; ufrag: string; pwd: string } {
  return {
    body: trickleFragment({ ...credentials, iceOptions: 'trickle ice2', ...extra }),
    ...credentials,
  };
}
