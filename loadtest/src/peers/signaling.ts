/**
 * How a peer exchanges its offer for an answer. By default it is the WHIP/WHEP POST; tests
 * inject a `SignalFn` instead to connect two peers in-process without any server.
 */
import { postSdp } from './whipClient.ts';

/** Exchanges an SDP offer for an SDP answer, e.g. by handing it to an in-process peer. */
export type SignalFn = (offerSdp: string) => Promise<string>;

export interface SignalingTarget {
  /** The WHIP or WHEP endpoint. Ignored when `signal` is given. */
  url?: string | undefined;
  /** Bearer token for the POST and the DELETE. */
  token?: string | undefined;
  signal?: SignalFn | undefined;
  headers?: Record<string, string> | undefined;
  timeoutMs?: number | undefined;
}

export interface Negotiated {
  answerSdp: string;
  /** The session resource (absolute URL); undefined with an injected `signal`. */
  location: string | undefined;
  etag: string | undefined;
  headers: Record<string, string>;
}

export async function negotiate(offerSdp: string, target: SignalingTarget): Promise<Negotiated> {
  if (target.signal) {
    const answer = await target.signal(offerSdp);
    return { answerSdp: answer, location: undefined, etag: undefined, headers: {} };
  }
  if (!target.url) throw new TypeError('Either a URL or a signal function is required');
  const result = await postSdp(target.url, offerSdp, {
    token: target.token,
    headers: target.headers,
    timeoutMs: target.timeoutMs,
  });
  return {
    answerSdp: result.answer,
    location: result.location,
    etag: result.etag,
    headers: result.headers,
  };
}

/** Removes candidate lines, so an offer carries none whatever the stack gathered already. */
export function stripCandidates(sdp: string): string {
  return sdp
    .split(/\r?\n/)
    .filter((line) => !line.startsWith('a=candidate:') && line !== 'a=end-of-candidates')
    .join('\r\n');
}
