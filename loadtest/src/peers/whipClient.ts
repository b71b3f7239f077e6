/**
 * Tiny WHIP/WHEP HTTP helpers over the global `fetch` (RFC 9725 and the WHEP draft share the
 * same resource model: POST an offer, get `201 Created` with an answer and a `Location`; DELETE
 * that location to end the session). Both the publishers and the viewers use them.
 */
import type { Logger } from '@wisp/core';
import { SignalingError } from './errors.ts';

export interface PostSdpOptions {
  /** Sent as `Authorization: Bearer <token>` when set (OBS sends it only if non-empty). */
  token?: string;
  /** Extra request headers (e.g. `User-Agent`). */
  headers?: Record<string, string>;
  /** Whole-request timeout including redirects. Default 8000 ms, the timeout OBS uses. */
  timeoutMs?: number;
  /** How many 307/308 redirects to follow. Default 10. */
  maxRedirects?: number;
}

export interface PostSdpResult {
  /** Always 201 (anything else throws). */
  status: number;
  /** The session resource, resolved to an absolute URL against the URL that answered. */
  location: string;
  /** The `ETag` header, if any (used for ICE restarts; OBS ignores it). */
  etag: string | undefined;
  /** The SDP answer, with any bytes before `v=0` removed as OBS does. */
  answer: string;
  /** All response headers, names lower-cased (repeated headers joined with ", "). */
  headers: Record<string, string>;
  /** The URL that finally answered, after redirects. */
  effectiveUrl: string;
}

export interface DeleteSessionOptions {
  /** Whole-request timeout. Default 8000 ms. */
  timeoutMs?: number;
  headers?: Record<string, string>;
}

const DEFAULT_TIMEOUT_MS = 8000;
const BODY_EXCERPT_CHARS = 2000;

/**
 * POSTs an SDP offer and returns the answer. Throws a `SignalingError` (with status and body)
 * unless the final response is exactly 201 with a non-empty body and a `Location` header.
 *
 * Redirects are followed by hand, not by fetch: a 307/308 re-sends the POST, body and bearer
 * to the new URL even across origins, like OBS (`CURLOPT_FOLLOWLOCATION` with
 * `CURLOPT_UNRESTRICTED_AUTH`), whereas fetch drops `Authorization` on cross-origin redirects.
 */
export async function postSdp(
  url: string,
  offerSdp: string,
  options: PostSdpOptions = {},
): Promise<PostSdpResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxRedirects = options.maxRedirects ?? 10;
  const signal = AbortSignal.timeout(timeoutMs);
  const headers: Record<string, string> = {
    'Content-Type': 'application/sdp',
    ...options.headers,
  };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;

  let currentUrl = url;
  for (let hop = 0; ; hop++) {
    const response = await send(currentUrl, 'POST', headers, offerSdp, signal, timeoutMs);
    const body = await readBody(response, currentUrl, signal, timeoutMs);
    const location = response.headers.get('location');

    if ((response.status === 307 || response.status === 308) && location) {
      if (hop >= maxRedirects) {
        throw new SignalingError(`POST ${url}: more than ${maxRedirects} redirects`, 0);
      }
      currentUrl = new URL(location, currentUrl).toString();
      continue;
    }

    if (response.status !== 201) {
      throw new SignalingError(
        `POST ${currentUrl} returned ${response.status} (expected 201): ${excerpt(body)}`,
        response.status,
        excerpt(body),
      );
    }
    const start = body.indexOf('v=0');
    if (start < 0) {
      throw new SignalingError(
        `POST ${currentUrl} returned 201 without an SDP answer: ${excerpt(body)}`,
        response.status,
        excerpt(body),
      );
    }
    if (!location) {
      throw new SignalingError(
        `POST ${currentUrl} returned 201 without a Location header`,
        response.status,
        excerpt(body),
      );
    }
    return {
      status: response.status,
      location: new URL(location, currentUrl).toString(),
      etag: response.headers.get('etag') ?? undefined,
      answer: body.slice(start),
      headers: Object.fromEntries(response.headers.entries()),
      effectiveUrl: currentUrl,
    };
  }
}

/**
 * DELETEs a session resource and returns the status. Non-2xx statuses are returned, not thrown
 * (OBS only logs them); a network error or timeout throws a `SignalingError` with status 0.
 */
export async function deleteSession(
  location: string,
  token?: string,
  options: DeleteSessionOptions = {},
): Promise<number> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const signal = AbortSignal.timeout(timeoutMs);
  const headers: Record<string, string> = { ...options.headers };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await send(location, 'DELETE', headers, undefined, signal, timeoutMs);
  // The body is read (and discarded) so the connection can be reused or closed cleanly.
  await readBody(response, location, signal, timeoutMs);
  return response.status;
}

/**
 * `deleteSession` for a peer's `close()`: never throws, logs a warning unless the answer is
 * 200, and returns the status (undefined after a network error or timeout).
 */
export async function deleteSessionQuietly(
  location: string,
  token: string | undefined,
  options: DeleteSessionOptions,
  logger: Logger,
): Promise<number | undefined> {
  try {
    const status = await deleteSession(location, token, options);
    if (status !== 200)
      logger.warn({ status, location }, 'DELETE of the session did not return 200');
    return status;
  } catch (error) {
    logger.warn({ err: error, location }, 'DELETE of the session failed');
    return undefined;
  }
}

async function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<Response> {
  try {
    return await fetch(url, { method, headers, body, signal, redirect: 'manual' });
  } catch (error) {
    throw networkError(method, url, error, timeoutMs);
  }
}

async function readBody(
  response: Response,
  url: string,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<string> {
  try {
    return await response.text();
  } catch (error) {
    throw networkError(signal.aborted ? 'read (timeout)' : 'read', url, error, timeoutMs);
  }
}

function networkError(method: string, url: string, error: unknown, timeoutMs: number) {
  const reason =
    error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
      ? `timed out after ${timeoutMs} ms`
      : error instanceof Error
        ? `${error.message}${error.cause instanceof Error ? ` (${error.cause.message})` : ''}`
        : String(error);
  return new SignalingError(`${method} ${url} failed: ${reason}`, 0);
}

function excerpt(body: string): string {
  return body.length > BODY_EXCERPT_CHARS ? `${body.slice(0, BODY_EXCERPT_CHARS)}…` : body;
}
