/**
 * HTTP helpers shared by every component's routes: the one error-mapping point, body reading
 * with limits and content-type checks. Routes throw AppErrors; `onError` maps them.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { requestId } from 'hono/request-id';
import {
  AppError,
  PayloadTooLargeError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
  ValidationError,
} from './errors.ts';
import { parseBearer, safeEqual } from './keys.ts';
import { moduleLogger } from './logger.ts';

const log = moduleLogger('http');

declare module 'hono' {
  interface ContextVariableMap {
    /** Set by `requestLogging()`: the request's `X-Request-Id` (the client's, or a new one). */
    requestId: string;
  }
}

/**
 * Gives every request an id (the client's `X-Request-Id` when it sends a sane one, else a
 * new UUID), echoed in the response's `X-Request-Id` and put on the log lines about the
 * request: the unhandled-error line, and at `LOG_LEVEL=debug` one line per request (method,
 * path, status, ms). Nothing per request at info level.
 */
export function requestLogging(): MiddlewareHandler {
  const assignId = requestId();
  return async function requestLogging(c, next) {
    const start = performance.now();
    await assignId(c, next);
    if (log.isLevelEnabled('debug')) {
      log.debug(
        {
          requestId: c.get('requestId'),
          method: c.req.method,
          path: c.req.path,
          status: c.res.status,
          ms: Math.round((performance.now() - start) * 10) / 10,
        },
        'request',
      );
    }
  };
}

/** Hono `onError` handler: AppError -> RFC 9457 problem+json; anything else -> logged 500. */
export function onError(error: Error, c: Context): Response {
  const problem =
    error instanceof AppError
      ? error
      : new AppError(500, 'Internal Server Error', 'an unexpected error occurred');
  if (!(error instanceof AppError)) {
    log.error(
      { err: error, requestId: c.get('requestId'), method: c.req.method, path: c.req.path },
      'unhandled error',
    );
  }
  const body = {
    type: problem.type,
    title: problem.title,
    status: problem.status,
    detail: problem.message,
    instance: c.req.path,
    ...problem.details,
  };
  // Hono merges headers set on c.res before the error back into the error response, so
  // remove those that describe a created resource from c.res itself.
  c.res.headers.delete('Location');
  c.res.headers.delete('ETag');
  const headers = new Headers(c.res.headers);
  for (const [name, value] of Object.entries(problem.headers)) headers.set(name, value);
  headers.set('Content-Type', 'application/problem+json');
  return new Response(JSON.stringify(body), { status: problem.status, headers });
}

/** The media type of a request, lower-cased, without parameters (`application/sdp`). */
export function mediaType(c: Context): string | undefined {
  const raw = c.req.header('content-type');
  if (!raw) return undefined;
  return raw.split(';')[0].trim().toLowerCase();
}

export function requireContentType(
  c: Context,
  expected: string,
  accept?: { post?: string; patch?: string },
): void {
  const actual = mediaType(c);
  if (actual !== expected) {
    throw new UnsupportedMediaTypeError(
      `Content-Type must be ${expected}, got ${actual ?? 'none'}`,
      accept,
    );
  }
}

/**
 * Reads the request body as UTF-8 text, refusing (413) anything over `limit` bytes without
 * buffering more than that, whether or not Content-Length is present or honest.
 */
export async function readTextBody(c: Context, limit: number): Promise<string> {
  const declared = c.req.header('content-length');
  if (declared !== undefined && Number(declared) > limit) throw new PayloadTooLargeError(limit);
  const stream = c.req.raw.body;
  if (!stream) return '';
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch {
      throw new ValidationError('the request body was cut off (client disconnected)');
    }
    const { done, value } = chunk;
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw new PayloadTooLargeError(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads and parses a JSON body (`application/json` required, size-limited). */
export async function readJsonBody(c: Context, limit: number): Promise<unknown> {
  requireContentType(c, 'application/json');
  const text = await readTextBody(c, limit);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ValidationError('request body is not valid JSON');
  }
}

/**
 * CORS for every WHIP/WHEP/API response (every node sends the same): browsers need Location, ETag and Link exposed (C5);
 * preflights list Authorization, Content-Type and If-Match explicitly, since `*` does not
 * cover Authorization (C3), and are answered without authentication (C4).
 */
export function cors(origin: string): MiddlewareHandler {
  return async function corsMiddleware(c, next) {
    await next();
    c.res.headers.set('Access-Control-Allow-Origin', origin);
    c.res.headers.set(
      'Access-Control-Expose-Headers',
      'Location, ETag, Link, Accept-Patch, Accept-Post, Retry-After, WWW-Authenticate',
    );
    if (origin !== '*') c.res.headers.append('Vary', 'Origin');
  };
}

/**
 * Requires `Authorization: Bearer <adminToken>`, compared in constant time. A missing (or
 * non-bearer) credential gets a bare challenge, a wrong one `error="invalid_token"`
 * (RFC 6750 §3.1).
 */
export function adminAuth(adminToken: string): MiddlewareHandler {
  if (adminToken === '') throw new TypeError('adminToken must not be empty');
  return async function adminAuth(c, next) {
    const token = parseBearer(c.req.header('authorization'));
    if (token === undefined) throw new UnauthorizedError('an admin bearer token is required');
    if (!safeEqual(token, adminToken)) {
      throw new UnauthorizedError('the admin bearer token is not valid', true);
    }
    await next();
  };
}

/** Responses carry stream keys (create, rotate) or stream metadata: never cache them. */
export const noStore: MiddlewareHandler = async function noStore(c, next) {
  await next();
  c.header('Cache-Control', 'no-store');
};
