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
  /** The session's ICE servers from the 201's `Link` headers (TURN credentials for it). */
  iceServers: RTCIceServer[];
}

export interface PostOfferOptions {
  /** Sent as `Authorization: Bearer <token>` (the stream key for WHIP). */
  token?: string;
  signal?: AbortSignal;
}

const LINK = /<([^>]*)>((?:\s*;\s*[\w*-]+\s*(?:=\s*(?:"(?:[^"\\]|\\.)*"|[^;,]*))?)*)/g;
const LINK_PARAM = /;\s*([\w*-]+)\s*(?:=\s*(?:"((?:[^"\\]|\\.)*)"|([^;,]*)))?/g;

/**
 * The `Link: <uri>; rel="ice-server"; username="…"; credential="…"` servers of a WHIP/WHEP
 * response (RFC 9725 §4.6), as `RTCPeerConnection` takes them. Other Links are skipped.
 */
export function parseIceServerLinks(header: string | null): RTCIceServer[] {
  const servers: RTCIceServer[] = [];
  for (const [, uri = '', rawParams = ''] of (header ?? '').matchAll(LINK)) {
    const params = new Map<string, string>();
    for (const [, name = '', quoted, token] of rawParams.matchAll(LINK_PARAM)) {
      params.set(name.toLowerCase(), quoted?.replace(/\\(.)/g, '$1') ?? token?.trim() ?? '');
    }
    const url = uri.trim();
    const rel = (params.get('rel') ?? '').toLowerCase().split(/\s+/);
    if (!rel.includes('ice-server') || !/^(stuns?|turns?):/i.test(url)) continue;
    const server: RTCIceServer = { urls: url };
    const username = params.get('username');
    const credential = params.get('credential');
    if (username !== undefined) server.username = username;
    if (credential !== undefined) server.credential = credential;
    servers.push(server);
  }
  return servers;
}

/**
 * Asks the endpoint for its ICE servers with a plain OPTIONS, before the peer connection
 * exists (RFC 9725 §4.6). TURN servers come only to a caller who may publish (the stream key
 * as `token`) or watch (a public stream). Never fails the session: an OPTIONS that does not
 * answer within `timeoutMs` (default 2 s) or answers an error means no ICE servers.
 */
export async function fetchIceServers(
  endpoint: string,
  options: { token?: string; signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<RTCIceServer[]> {
  const headers: Record<string, string> = {};
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), options.timeoutMs ?? 2000);
  const onAbort = (): void => abort.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    options.signal?.throwIfAborted();
    const response = await fetch(endpoint, {
      method: 'OPTIONS',
      headers,
      cache: 'no-store',
      signal: abort.signal,
    });
    return response.ok ? parseIceServerLinks(response.headers.get('link')) : [];
  } catch (error) {
    if (options.signal?.aborted) throw error;
    warn(`cannot read the ICE servers of ${endpoint}`, error);
    return [];
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * A peer connection with these ICE servers, or with none when the browser refuses them (a URI
 * it cannot parse must not cost the session: host candidates still work on most networks).
 */
export function createPeerConnection(iceServers: RTCIceServer[]): RTCPeerConnection {
  try {
    return new RTCPeerConnection({ iceServers });
  } catch (error) {
    warn('ICE servers refused, connecting without them', error);
    return new RTCPeerConnection();
  }
}

/**
 * Hands the session's own ICE servers (from the 201) to its peer connection, so an ICE
 * restart gathers with credentials issued for this session rather than those of the OPTIONS.
 */
export function useSessionIceServers(pc: RTCPeerConnection, iceServers: RTCIceServer[]): void {
  if (iceServers.length === 0) return;
  try {
    pc.setConfiguration({ ...pc.getConfiguration(), iceServers });
  } catch (error) {
    warn('cannot apply the session ICE servers', error);
  }
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
  return {
    answer,
    resourceUrl: new URL(location, response.url || endpoint).href,
    iceServers: parseIceServerLinks(response.headers.get('link')),
  };
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
