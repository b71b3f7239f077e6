/**
 * The HTTP half of WHIP (RFC 9725) and WHEP (draft-ietf-wish-whep) for the browser, shared by
 * both clients. We do not trickle: the offer is sent once ICE gathering finishes (or after a
 * short timeout), and the server's answer carries all of its candidates.
 */

import { warn } from './dom.ts';

/** A failed signalling exchange. `status` is 0 when the request never got an HTTP answer. */
export class SignalingError extends Error {
  readonly status: number;
  /** Seconds from a `Retry-After` header, when the server sent one. */
  readonly retryAfterSeconds: number | undefined;

  constructor(message: string, status: number, retryAfterSeconds?: number) {
    super(message);
    this.name = 'SignalingError';
    this.status = status;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export interface OfferAnswer {
  answer: string;
  /** The absolute URL of the session resource, to DELETE when done. */
  resourceUrl: string;
}

export interface PostOfferOptions {
  /** Sent as `Authorization: Bearer <token>` (the stream key for WHIP). */
  token?: string;
  signal?: AbortSignal;
}

/** Resolves once ICE gathering is complete, or after `timeoutMs`, whichever comes first. */
export async function waitForIceGathering(pc: RTCPeerConnection, timeoutMs: number): Promise<void> {
  if (pc.iceGatheringState === 'complete') return;
  await new Promise<void>((resolve) => {
    const finish = (): void => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', onChange);
      resolve();
    };
    const onChange = (): void => {
      if (pc.iceGatheringState === 'complete') finish();
    };
    const timer = setTimeout(finish, timeoutMs);
    pc.addEventListener('icegatheringstatechange', onChange);
  });
}

/**
 * Parses `Retry-After` (RFC 9110 §10.2.3): either delay-seconds or an HTTP-date. Returns
 * undefined when the header is absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

/** Reads a short human-readable reason from an error response (problem+json or text). */
async function errorDetail(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  const type = response.headers.get('content-type') ?? '';
  if (type.includes('json')) {
    try {
      const body = JSON.parse(text) as { detail?: unknown; title?: unknown };
      if (typeof body.detail === 'string') return body.detail;
      if (typeof body.title === 'string') return body.title;
    } catch {
      // Fall through to the raw text below.
    }
  }
  return text.slice(0, 200) || response.statusText || `HTTP ${response.status}`;
}

/**
 * POSTs an SDP offer and returns the answer and the session URL. Redirects (a 307 to another
 * node) are followed by fetch; the Location is resolved against the URL that finally answered,
 * because a relative Location is relative to the endpoint, not to the page (R.4).
 */
export async function postOffer(
  endpoint: string,
  offer: string,
  options: PostOfferOptions = {},
): Promise<OfferAnswer> {
  const headers: Record<string, string> = { 'Content-Type': 'application/sdp' };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  let response: Response;
  try {
    response = await fetch(endpoint, {
      method: 'POST',
      headers,
      body: offer,
      cache: 'no-store',
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw new SignalingError(`cannot reach ${endpoint}: ${String(error)}`, 0);
  }
  if (response.status !== 201) {
    const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
    throw new SignalingError(await errorDetail(response), response.status, retryAfter);
  }
  const location = response.headers.get('location');
  const answer = await response.text();
  if (!location) {
    throw new SignalingError('the server sent no Location for the session', response.status);
  }
  if (!answer.trim()) throw new SignalingError('the server sent an empty answer', response.status);
  return { answer, resourceUrl: new URL(location, response.url || endpoint).href };
}

/**
 * DELETEs a session resource. Never throws: the session ends on our side either way, and the
 * server expires sessions whose peer went away. `keepalive` lets the request outlive the page
 * (pagehide), which `sendBeacon` cannot do because it only POSTs.
 */
export async function deleteResource(
  resourceUrl: string,
  options: { token?: string; keepalive?: boolean; timeoutMs?: number } = {},
): Promise<void> {
  const headers: Record<string, string> = {};
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  try {
    await fetch(resourceUrl, {
      method: 'DELETE',
      headers,
      keepalive: options.keepalive ?? false,
      signal: AbortSignal.timeout(options.timeoutMs ?? 3000),
    });
  } catch (error) {
    warn('DELETE of the session failed', error);
  }
}
