/**
 * `application/trickle-ice-sdpfrag` bodies (RFC 8840, RFC 9725 §4.3) for the WHEP/WHIP
 * clients: trickled candidates, the offer side of an ICE restart, and applying the server's
 * restart answer to the remote description. Pure string functions, so they are unit tested.
 */

const CRLF = '\r\n';

export interface IceCredentials {
  ufrag: string;
  pwd: string;
}

/** The first media section's mid, kind and protocol, and the ICE credentials of an SDP. */
export function firstSection(sdp: string): { mid: string; kind: string; protocol: string } {
  const m = /^m=(\w+) \d+ (\S+)/m.exec(sdp);
  const mid = /^a=mid:(\S+)/m.exec(sdp);
  return { kind: m?.[1] ?? 'audio', protocol: m?.[2] ?? 'UDP/TLS/RTP/SAVPF', mid: mid?.[1] ?? '0' };
}

export function iceCredentials(sdp: string): IceCredentials | undefined {
  const ufrag = /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1];
  const pwd = /^a=ice-pwd:(\S+)/m.exec(sdp)?.[1];
  return ufrag && pwd ? { ufrag, pwd } : undefined;
}

/** The `candidate:...` values (without `a=`) of an SDP or fragment. */
export function candidatesOf(sdp: string): string[] {
  return [...sdp.matchAll(/^a=(candidate:[^\r\n]+)/gm)].map((match) => match[1]);
}

/**
 * A trickle fragment: the session's ICE credentials, the first (bundled) section and the
 * candidates, with `a=end-of-candidates` once gathering is complete.
 */
export function trickleFragment(
  localSdp: string,
  candidates: string[],
  endOfCandidates: boolean,
): string {
  const credentials = iceCredentials(localSdp);
  const section = firstSection(localSdp);
  const lines: string[] = [];
  if (credentials) lines.push(`a=ice-ufrag:${credentials.ufrag}`, `a=ice-pwd:${credentials.pwd}`);
  lines.push(`m=${section.kind} 9 ${section.protocol} 0`, `a=mid:${section.mid}`);
  for (const candidate of candidates) lines.push(`a=${candidate.replace(/^a=/, '')}`);
  if (endOfCandidates) lines.push('a=end-of-candidates');
  return lines.join(CRLF) + CRLF;
}

/** The offer of an ICE restart: the new credentials and whatever candidates exist yet. */
export function iceRestartFragment(localSdp: string): string {
  return trickleFragment(localSdp, candidatesOf(localSdp), false);
}

/**
 * The remote description after the server answered an ICE restart with `fragment`: its new
 * ufrag, pwd and candidates replace the old ones in every media section. Everything else
 * (codecs, DTLS fingerprint, ice-lite) stays as negotiated.
 */
export function applyIceRestartAnswer(remoteSdp: string, fragment: string): string {
  const credentials = iceCredentials(fragment);
  if (!credentials) throw new TypeError('the ICE restart answer has no ice-ufrag/ice-pwd');
  const candidates = candidatesOf(fragment);
  const lines = remoteSdp.split(/\r?\n/).filter((line) => line !== '');
  const out: string[] = [];
  let inMedia = false;
  const flushCandidates = (): void => {
    if (!inMedia) return;
    for (const candidate of candidates) out.push(`a=${candidate}`);
    out.push('a=end-of-candidates');
  };
  for (const line of lines) {
    if (line.startsWith('m=')) {
      flushCandidates();
      inMedia = true;
      out.push(line);
      continue;
    }
    if (line.startsWith('a=candidate:') || line === 'a=end-of-candidates') continue;
    if (line.startsWith('a=ice-ufrag:')) out.push(`a=ice-ufrag:${credentials.ufrag}`);
    else if (line.startsWith('a=ice-pwd:')) out.push(`a=ice-pwd:${credentials.pwd}`);
    else out.push(line);
  }
  flushCandidates();
  return out.join(CRLF) + CRLF;
}
