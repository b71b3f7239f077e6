/**
 * The HTTP half of WHIP (RFC 9725) and WHEP (draft-ietf-wish-whep) for the browser, shared by
 * both clients: the offer POST (following 307 redirects itself), the trickle / ICE-restart
 * PATCH with the session's ETag, the DELETE, and the Link and Retry-After headers.
 */
import { warn } from './log.ts';

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
  /** The absolute URL of the session resource, to PATCH and DELETE. */
  resourceUrl: string;
  /** The session's ETag (for `If-Match` on PATCH), when the server sent one. */
  etag: string | undefined;
  /** The session's ICE servers from the 201's `Link` headers (TURN credentials for it). */
  iceServers: RTCIceServer[];
  /** Every Link of the 201, with its URI resolved against the URL that answered. */
  links: ParsedLink[];
}

export interface PostOfferOptions {
  /** Sent as `Authorization: Bearer <token>` (the stream key for WHIP). */
  token?: string;
  signal?: AbortSignal;
  /** At most this many redirects are followed. Default 10 (as simple-whep-client does). */
  maxRedirects?: number;
}

export interface ParsedLink {
  uri: string;
  /** Lower-cased `rel` values. */
  rel: string[];
  /** Parameters by lower-cased name. */
  params: Map<string, string>;
}

const LINK = /<([^>]*)>((?:\s*;\s*[\w*-]+\s*(?:=\s*(?:"(?:[^"\\]|\\.)*"|[^;,]*))?)*)/g;
const LINK_PARAM = /;\s*([\w*-]+)\s*(?:=\s*(?:"((?:[^"\\]|\\.)*)"|([^;,]*)))?/g;

/** The Links of a header (RFC 8288), tolerant of the ways servers write them. */
export function parseLinks(header: string | null, base?: string): ParsedLink[] {
  const links: ParsedLink[] = [];
  for (const [, uri = '', rawParams = ''] of (header ?? '').matchAll(LINK)) {
    const params = new Map<string, string>();
    for (const [, name = '', quoted, token] of rawParams.matchAll(LINK_PARAM)) {
      params.set(name.toLowerCase(), quoted?.replace(/\\(.)/g, '$1') ?? token?.trim() ?? '');
    }
    let resolved = uri.trim();
    // ICE URIs (stun:, turn:) are not hierarchical: leave them as written.
    if (base && !/^(stuns?|turns?):/i.test(resolved)) {
      try {
        resolved = new URL(resolved, base).href;
      } catch {
        // Keep it as written; the caller decides what to do with a URI it cannot use.
      }
    }
    const rel = (params.get('rel') ?? '').toLowerCase().split(/\s+/).filter(Boolean);
    links.push({ uri: resolved, rel, params });
  }
  return links;
}

/**
 * The `Link: <uri>; rel="ice-server"; username="…"; credential="…"` servers of a WHIP/WHEP
 * response (RFC 9725 §4.6), as `RTCPeerConnection` takes them. Other Links are skipped.
 */
export function parseIceServerLinks(header: string | null): RTCIceServer[] {
  return iceServersOf(parseLinks(header));
}

function iceServersOf(links: ParsedLink[]): RTCIceServer[] {
  const servers: RTCIceServer[] = [];
  for (const link of links) {
    if (!link.rel.includes('ice-server') || !/^(stuns?|turns?):/i.test(link.uri)) continue;
    const server: RTCIceServer = { urls: link.uri };
    const username = link.params.get('username');
    const credential = link.params.get('credential');
    if (username !== undefined) server.username = username;
    if (credential !== undefined) server.credential = credential;
    servers.push(server);
  }
  return servers;
}

/** The URI of the first Link with relation `rel`, if any. */
export function findLink(links: ParsedLink[], rel: string): string | undefined {
  return links.find((link) => link.rel.includes(rel.toLowerCase()))?.uri;
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

/**
 * Resolves once ICE gathering is complete, or after `timeoutMs`, whichever comes first. With
 * `firstCandidate`, already once the first candidate exists: gathering every interface took
 * about 300 ms of a viewer's start in Chromium here, and an ICE-lite server (wisp's SFU) needs
 * none of them; the rest can trickle.
 */
export async function waitForIceGathering(
  pc: RTCPeerConnection,
  timeoutMs: number,
  options: { firstCandidate?: boolean } = {},
): Promise<void> {
  const ready = (): boolean =>
    pc.iceGatheringState === 'complete' ||
    (options.firstCandidate === true && /^a=candidate:/m.test(pc.localDescription?.sdp ?? ''));
  if (ready()) return;
  await new Promise<void>((resolve) => {
    const finish = (): void => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', onChange);
      pc.removeEventListener('icecandidate', onChange);
      resolve();
    };
    const onChange = (): void => {
      if (ready()) finish();
    };
    const timer = setTimeout(finish, timeoutMs);
    pc.addEventListener('icegatheringstatechange', onChange);
    pc.addEventListener('icecandidate', onChange);
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
export async function errorDetail(response: Response): Promise<string> {
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

async function errorFrom(response: Response): Promise<SignalingError> {
  const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
  return new SignalingError(await errorDetail(response), response.status, retryAfter);
}

/**
 * Whether this runtime hides the answer of a `redirect: 'manual'` fetch. Browsers do (an
 * "opaqueredirect" response: status 0, no headers, so no Location); Node and Deno do not.
 * Learned from the first redirect seen, so a browser pays for the manual try only once.
 */
let opaqueRedirects = false;

/** For tests: forget what was learned about the runtime. */
export function resetRedirectMode(): void {
  opaqueRedirects = false;
}

function authorizationOf(headers: HeadersInit | undefined): string | undefined {
  return new Headers(headers).get('authorization') ?? undefined;
}

/**
 * A fetch that follows 307/308 itself and keeps `Authorization` on every hop. Browsers drop
 * `Authorization` when a redirect crosses origins (whatwg/fetch#1544), so a publish redirected
 * to an ingest on another host would arrive without its stream key. Where the runtime shows
 * manual redirects, each `Location` is resolved against the URL that sent it and requested
 * with the same headers. Where it hides them (browsers), the browser follows, and an answer of
 * 401/403 from another origin after a redirect is asked again there, with the header, at the
 * URL the redirect led to (`response.url`). 301/302/303 are refused: WHIP and WHEP allow only
 * 307 (and 308), which keep the method and body.
 */
export async function fetchFollowingRedirects(
  url: string,
  init: RequestInit,
  maxRedirects = 10,
): Promise<{ response: Response; url: string }> {
  let current = url;
  const authorization = authorizationOf(init.headers);
  for (let hop = 0; hop <= maxRedirects; hop++) {
    if (!opaqueRedirects) {
      const response = await fetch(current, { ...init, redirect: 'manual' });
      if (response.type !== 'opaqueredirect') {
        if (response.status < 300 || response.status > 399) return { response, url: current };
        await response.body?.cancel().catch(() => undefined);
        if (response.status !== 307 && response.status !== 308) {
          throw new SignalingError(
            `${current} answered ${response.status}; WHIP and WHEP redirect only with 307`,
            response.status,
          );
        }
        const location = response.headers.get('location');
        if (!location) throw new SignalingError('a redirect without Location', response.status);
        current = new URL(location, current).href;
        continue;
      }
      opaqueRedirects = true;
    }
    const response = await fetch(current, { ...init, redirect: 'follow' });
    const answered = response.url || current;
    const crossedOrigin = new URL(answered).origin !== new URL(current).origin;
    if (
      response.redirected &&
      crossedOrigin &&
      authorization !== undefined &&
      (response.status === 401 || response.status === 403)
    ) {
      await response.body?.cancel().catch(() => undefined);
      current = answered;
      continue;
    }
    return { response, url: answered };
  }
  throw new SignalingError(`more than ${maxRedirects} redirects from ${url}`, 0);
}

/**
 * POSTs an SDP offer and returns the answer and the session. Redirects are followed as
 * `fetchFollowingRedirects` says; the Location and Links are resolved against the URL that
 * finally answered, because a relative Location is relative to the endpoint, not to the page.
 */
export async function postOffer(
  endpoint: string,
  offer: string,
  options: PostOfferOptions = {},
): Promise<OfferAnswer> {
  const headers: Record<string, string> = { 'Content-Type': 'application/sdp' };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  let response: Response;
  let answeredUrl: string;
  try {
    ({ response, url: answeredUrl } = await fetchFollowingRedirects(
      endpoint,
      {
        method: 'POST',
        headers,
        body: offer,
        cache: 'no-store',
        ...(options.signal ? { signal: options.signal } : {}),
      },
      options.maxRedirects,
    ));
  } catch (error) {
    if (options.signal?.aborted || error instanceof SignalingError) throw error;
    throw new SignalingError(`cannot reach ${endpoint}: ${String(error)}`, 0);
  }
  if (response.status !== 201) throw await errorFrom(response);
  const location = response.headers.get('location');
  const answer = await response.text();
  if (!location) {
    throw new SignalingError('the server sent no Location for the session', response.status);
  }
  if (!answer.trim()) throw new SignalingError('the server sent an empty answer', response.status);
  const links = parseLinks(response.headers.get('link'), answeredUrl);
  return {
    answer,
    resourceUrl: new URL(location, answeredUrl).href,
    etag: response.headers.get('etag') ?? undefined,
    iceServers: iceServersOf(links),
    links,
  };
}

export interface PatchResult {
  status: number;
  /** The new ETag after an ICE restart (200). */
  etag: string | undefined;
  /** The answer fragment of an ICE restart; empty for a trickle (204). */
  body: string;
}

/**
 * PATCHes an `application/trickle-ice-sdpfrag` to the session (RFC 9725 §4.3): trickled
 * candidates (204) or an ICE restart (200, new ETag). `If-Match` carries the session's ETag;
 * the server answers 412 when it no longer matches (the session was restarted elsewhere), and
 * the caller then starts a new session.
 */
export async function patchSession(
  resourceUrl: string,
  fragment: string,
  options: { etag?: string; token?: string; signal?: AbortSignal } = {},
): Promise<PatchResult> {
  const headers: Record<string, string> = {
    'Content-Type': 'application/trickle-ice-sdpfrag',
    'If-Match': options.etag ?? '*',
  };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  let response: Response;
  try {
    response = await fetch(resourceUrl, {
      method: 'PATCH',
      headers,
      body: fragment,
      cache: 'no-store',
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw new SignalingError(`cannot reach ${resourceUrl}: ${String(error)}`, 0);
  }
  if (response.status !== 200 && response.status !== 204) throw await errorFrom(response);
  return {
    status: response.status,
    etag: response.headers.get('etag') ?? undefined,
    body: response.status === 200 ? await response.text() : '',
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
