/**
 * Serving a recording's files over HTTP from any RecordingStorage, the way players and CDNs
 * expect (RFC 9110): `Content-Type` by extension, `Content-Length`, `Accept-Ranges: bytes`,
 * a strong `ETag`, `Last-Modified`, the caller's `Cache-Control`; `304` for a matching
 * `If-None-Match` (or `If-Modified-Since`); `206` with `Content-Range` for a single range
 * (`bytes=a-b`, `a-`, `-n`; `If-Range` honoured); `416` with `Content-Range: bytes *\/size`
 * when it is unsatisfiable; HEAD answers the same headers without a body.
 *
 *   app.on(['GET', 'HEAD'], '/vod/:rec/:file', async (c) => {
 *     const key = `${c.req.param('rec')}/${c.req.param('file')}`;
 *     const live = ...;
 *     return (
 *       (await vodResponse(storage, key, c.req.raw, { cacheControl: cacheControlFor(key, { live }) })) ??
 *       notFound()
 *     );
 *   });
 *
 * Several ranges in one request (`bytes=0-1,5-6`), another unit or a malformed header are
 * ignored (answered 200 with the whole object), as RFC 9110 §14.2 allows.
 */
import { Readable } from 'node:stream';
import { assertKey } from './keys.ts';
import {
  RangeNotSatisfiableError,
  type ByteRange,
  type RecordingStorage,
  type StoredObject,
} from './RecordingStorage.ts';

/** What vodResponse reads of a request: a fetch Request, or its method and headers. */
export interface VodRequest {
  /** `GET` (default) or `HEAD`. */
  method?: string;
  headers: Headers | Record<string, string | undefined>;
}

export interface VodResponseOptions {
  /** The `Cache-Control` of a 200, 206 or 304 (see cacheControlFor for the defaults). */
  cacheControl: string;
}

/**
 * The HTTP response for the object `key`, or undefined when there is none (nor can be: an
 * invalid key reads as missing), for the caller to answer 404 in its own format.
 */
export async function vodResponse(
  storage: RecordingStorage,
  key: string,
  request: Request | VodRequest,
  options: VodResponseOptions,
): Promise<Response | undefined> {
  try {
    assertKey(key);
  } catch {
    return undefined;
  }
  const header = headerReader(request.headers);
  const head = (request.method ?? 'GET').toUpperCase() === 'HEAD';
  const range = parseRangeHeader(header('range'));
  const ifRange = header('if-range');

  let object: StoredObject | undefined;
  try {
    object = await storage.get(key, range);
  } catch (error) {
    if (!(error instanceof RangeNotSatisfiableError)) throw error;
    // Conditions come before the range (RFC 9110 §13.2.2): they need the object itself.
    if (header('if-none-match') || header('if-modified-since') || ifRange) {
      const whole = await storage.get(key);
      if (!whole) return undefined;
      const answer = notModified(whole, header, options);
      if (answer) return answer;
      if (ifRange && !ifRangeMatches(ifRange, whole)) return full(whole, head, options);
      whole.body.destroy();
    }
    return unsatisfiable(error.size, head);
  }
  if (!object) return undefined;
  const answer = notModified(object, header, options);
  if (answer) return answer;
  if (object.range && ifRange && !ifRangeMatches(ifRange, object)) {
    object.body.destroy();
    const whole = await storage.get(key);
    return whole && full(whole, head, options);
  }
  return full(object, head, options);
}

/**
 * The single range of a `Range` header; undefined for none, several, another unit or bad
 * syntax (all of which mean: answer with the whole object).
 */
export function parseRangeHeader(value: string | undefined): ByteRange | undefined {
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(value ?? '');
  if (!match) return undefined;
  const [, first, last] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    return Number.isSafeInteger(suffix) ? { suffix } : undefined;
  }
  const start = Number(first);
  if (!Number.isSafeInteger(start)) return undefined;
  if (last === '') return { start };
  // An end past MAX_SAFE_INTEGER still means "to the end".
  const end = Number(last);
  if (end < start) return undefined;
  return Number.isSafeInteger(end) ? { start, end } : { start };
}

type HeaderReader = (name: string) => string | undefined;

function headerReader(headers: VodRequest['headers']): HeaderReader {
  if (headers instanceof Headers) return (name) => headers.get(name) ?? undefined;
  const lower = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return (name) => lower.get(name) ?? undefined;
}

function validators(object: StoredObject, options: VodResponseOptions): Headers {
  return new Headers({
    ETag: object.etag,
    'Last-Modified': object.lastModified.toUTCString(),
    'Cache-Control': options.cacheControl,
  });
}

/** 304 when the client's copy is current; undefined otherwise. */
function notModified(
  object: StoredObject,
  header: HeaderReader,
  options: VodResponseOptions,
): Response | undefined {
  const ifNoneMatch = header('if-none-match');
  let fresh: boolean;
  if (ifNoneMatch !== undefined) {
    const tags = ifNoneMatch.split(',').map((tag) => tag.trim().replace(/^W\//, ''));
    fresh = tags.includes('*') || tags.includes(object.etag.replace(/^W\//, ''));
  } else {
    const since = Date.parse(header('if-modified-since') ?? '');
    fresh = !Number.isNaN(since) && seconds(object.lastModified) <= since / 1000;
  }
  if (!fresh) return undefined;
  object.body.destroy();
  return new Response(null, { status: 304, headers: validators(object, options) });
}

/** If-Range holds a strong ETag or an HTTP date; either must match exactly. */
function ifRangeMatches(value: string, object: StoredObject): boolean {
  const tag = value.trim();
  if (tag.startsWith('"')) return tag === object.etag;
  if (tag.startsWith('W/')) return false;
  const date = Date.parse(tag);
  return !Number.isNaN(date) && date / 1000 === seconds(object.lastModified);
}

function seconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/** 200 with the object, or 206 with the range it holds. */
function full(object: StoredObject, head: boolean, options: VodResponseOptions): Response {
  const headers = validators(object, options);
  headers.set('Content-Type', object.contentType);
  headers.set('Accept-Ranges', 'bytes');
  let status = 200;
  let length = object.size;
  if (object.range) {
    const { start, end } = object.range;
    status = 206;
    length = end - start + 1;
    headers.set('Content-Range', `bytes ${start}-${end}/${object.size}`);
  }
  headers.set('Content-Length', String(length));
  if (head) {
    object.body.destroy();
    return new Response(null, { status, headers });
  }
  const body = Readable.toWeb(object.body) as unknown as ReadableStream<Uint8Array>;
  return new Response(body, { status, headers });
}

function unsatisfiable(size: number, head: boolean): Response {
  const headers = new Headers({ 'Content-Range': `bytes */${size}`, 'Accept-Ranges': 'bytes' });
  if (head) return new Response(null, { status: 416, headers });
  headers.set('Content-Type', 'application/problem+json');
  const problem = {
    type: 'https://wisp.dev/problems/range-not-satisfiable',
    title: 'Range Not Satisfiable',
    status: 416,
    detail: `the requested range is outside the object (size ${size})`,
  };
  return new Response(JSON.stringify(problem), { status: 416, headers });
}
