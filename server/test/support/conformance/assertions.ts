/**
 * Shared checks of SDP answers for the WHIP/WHEP conformance suites (items A3, A8, B1, B2,
 * N1-N3 of shared/docs/whip-whep-conformance.md).
 */
import { expect } from 'vitest';
import type { SessionDescription } from 'sdp-transform';
import {
  attributePayloads,
  bundleGroup,
  mids,
  parseSdp,
  payloads,
  sessionAttrs,
  type Media,
} from './sdp.ts';
import { stunBinding } from './stun.ts';

/** RFC 8839 ice-char = ALPHA / DIGIT / "+" / "/". */
const ICE_CHARS = /^[A-Za-z0-9+/]+$/;

export function isAccepted(media: Media): boolean {
  return media.port !== 0;
}

/** The m-section that carries the BUNDLE transport: the first mid of the BUNDLE group. */
export function taggedSection(sdp: SessionDescription): Media {
  const group = bundleGroup(sdp);
  expect(group, 'answer has a=group:BUNDLE').toBeDefined();
  const tagged = sdp.media.find((m) => String(m.mid) === group![0]);
  expect(tagged, `m-section for tagged mid ${group![0]}`).toBeDefined();
  return tagged!;
}

/** Transport attributes of a section (media level, falling back to session level). */
export function transportOf(sdp: SessionDescription, media: Media) {
  const session = sessionAttrs(sdp);
  return {
    ufrag: media.iceUfrag ?? session.iceUfrag,
    pwd: media.icePwd ?? session.icePwd,
    fingerprint: media.fingerprint ?? session.fingerprint,
    setup: media.setup ?? session.setup,
  };
}

/**
 * A3: the body is a JSEP answer to `offerText`: `v=0` first, the same m-lines in the same
 * order with the same kinds and mids, only offered payload types, one DTLS fingerprint for
 * the (bundled) transport and RFC 8839-valid ICE credentials.
 */
export function expectJsepAnswer(offerText: string, answerText: string): SessionDescription {
  expect(answerText.startsWith('v=0'), 'answer begins with v=0').toBe(true);
  const offer = parseSdp(offerText);
  const answer = parseSdp(answerText);
  expect(answer.media.map((m) => m.type)).toEqual(offer.media.map((m) => m.type));
  expect(mids(answer)).toEqual(mids(offer));
  const fingerprints = new Set<string>();
  const credentials = new Set<string>();
  answer.media.forEach((media, index) => {
    const offered = payloads(offer.media[index]);
    const answered = payloads(media);
    if (!isAccepted(media)) return;
    expect(answered.length, `mid ${media.mid} has payload types`).toBeGreaterThan(0);
    for (const pt of answered)
      expect(offered, `mid ${media.mid} PT ${pt} was offered`).toContain(pt);
    for (const pt of attributePayloads(media)) {
      expect(answered, `mid ${media.mid} attribute PT ${pt} is on the m-line`).toContain(pt);
    }
    const transport = transportOf(answer, media);
    expect(transport.fingerprint, `mid ${media.mid} has a=fingerprint`).toBeDefined();
    fingerprints.add(`${transport.fingerprint!.type} ${transport.fingerprint!.hash}`);
    expect(transport.ufrag, `mid ${media.mid} has a=ice-ufrag`).toBeDefined();
    expect(transport.pwd, `mid ${media.mid} has a=ice-pwd`).toBeDefined();
    expect(transport.ufrag!.length).toBeGreaterThanOrEqual(4);
    expect(transport.ufrag!.length).toBeLessThanOrEqual(256);
    expect(transport.pwd!.length).toBeGreaterThanOrEqual(22);
    expect(transport.pwd!.length).toBeLessThanOrEqual(256);
    expect(transport.ufrag).toMatch(ICE_CHARS);
    expect(transport.pwd).toMatch(ICE_CHARS);
    credentials.add(`${transport.ufrag} ${transport.pwd}`);
  });
  expect(fingerprints.size, 'one DTLS fingerprint for the bundled transport').toBe(1);
  expect(credentials.size, 'one set of ICE credentials for the bundled transport').toBe(1);
  return answer;
}

/** Every accepted m-section has `direction`, and no session-level direction overrides it. */
export function expectDirection(sdp: SessionDescription, direction: 'recvonly' | 'sendonly'): void {
  expect(sessionAttrs(sdp).direction, 'no session-level direction').toBeUndefined();
  const accepted = sdp.media.filter(isAccepted);
  expect(accepted.length).toBeGreaterThan(0);
  for (const media of accepted) expect(media.direction, `mid ${media.mid}`).toBe(direction);
}

/**
 * B1: a=group:BUNDLE lists exactly the accepted mids, and every accepted section uses the same
 * transport (credentials, fingerprint, DTLS role, candidates).
 */
export function expectMaxBundle(sdp: SessionDescription): void {
  const accepted = sdp.media.filter(isAccepted);
  expect(bundleGroup(sdp)).toEqual(accepted.map((m) => String(m.mid)));
  const shapes = new Set(
    accepted.map((m) => {
      const t = transportOf(sdp, m);
      const candidates = (m.candidates ?? []).map((c) => `${c.transport} ${c.ip} ${c.port}`);
      return JSON.stringify([t.ufrag, t.pwd, t.fingerprint, t.setup, candidates.sort()]);
    }),
  );
  expect(shapes.size, 'all bundled sections share one transport').toBe(1);
}

/** A8: the tagged section lists the server's candidates (at least one UDP host candidate). */
export function expectCandidates(sdp: SessionDescription): NonNullable<Media['candidates']> {
  const tagged = taggedSection(sdp);
  const candidates = tagged.candidates ?? [];
  expect(candidates.length, 'candidates in the tagged m-section').toBeGreaterThan(0);
  expect(candidates.some((c) => c.transport.toLowerCase() === 'udp' && c.type === 'host')).toBe(
    true,
  );
  return candidates;
}

/**
 * Sends a STUN Binding request (as the client would for ICE) to every UDP candidate of the
 * answer with the answer's credentials; every one must answer with a success response.
 */
export async function expectCandidatesAnswerStun(
  sdp: SessionDescription,
  clientUfrag: string,
): Promise<void> {
  const tagged = taggedSection(sdp);
  const { ufrag, pwd } = transportOf(sdp, tagged);
  const udp = (tagged.candidates ?? []).filter((c) => c.transport.toLowerCase() === 'udp');
  expect(udp.length).toBeGreaterThan(0);
  for (const candidate of udp) {
    const outcome = await stunBinding({
      address: candidate.ip,
      port: candidate.port,
      serverUfrag: ufrag!,
      serverPwd: pwd!,
      clientUfrag,
    });
    expect(outcome, `STUN Binding to ${candidate.ip}:${candidate.port}`).toEqual({
      kind: 'success',
    });
  }
}

/** Parses an sdpfrag body (lines only; it is not a full SDP). */
export function fragmentAttributes(body: string): { name: string; value: string }[] {
  return body
    .split(/\r?\n/)
    .filter((line) => line.startsWith('a='))
    .map((line) => {
      const [name, ...rest] = line.slice(2).split(':');
      return { name: name, value: rest.join(':') };
    });
}
