/**
 * The HTTP calls of the signalling benchmark: plain `fetch` that refuses any host but the
 * loopback interface (the benchmark starts its own platform on 127.0.0.1 and must never send
 * load anywhere else), reads the whole body so connections are reused, and reports the
 * status instead of throwing on non-2xx answers.
 */
import { LoadTaskError } from './loadDriver.ts';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: string;
  /** From sending the request to the end of the body. */
  ms: number;
}

/** Throws a `TypeError` unless `url` is http(s) on the loopback interface. */
export function assertLoopback(url: string): URL {
  const parsed = new URL(url);
  if (!['http:', 'https:'].includes(parsed.protocol) || !LOOPBACK_HOSTS.has(parsed.hostname)) {
    throw new TypeError(`the signalling benchmark only talks to loopback, not ${parsed.origin}`);
  }
  return parsed;
}

/**
 * One request. A network error or an abort becomes a `LoadTaskError` with status `network`
 * or `timeout`, so the load driver can count it.
 */
export async function request(
  url: string,
  init: { method: string; headers?: Record<string, string>; body?: string; signal: AbortSignal },
): Promise<HttpAnswer> {
  assertLoopback(url);
  const began = performance.now();
  try {
    const response = await fetch(url, { ...init, redirect: 'manual' });
    const body = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body,
      ms: performance.now() - began,
    };
  } catch (error) {
    const status = init.signal.aborted ? 'timeout' : 'network';
    const reason = error instanceof Error ? error.message : String(error);
    throw new LoadTaskError(status, `${init.method} ${url} failed: ${reason}`);
  }
}

/** Throws a `LoadTaskError` carrying the status unless it is `expected`. */
export function expectStatus(answer: HttpAnswer, expected: number, what: string): void {
  if (answer.status !== expected) {
    throw new LoadTaskError(
      answer.status,
      `${what} returned ${answer.status} (expected ${expected}): ${answer.body.slice(0, 200)}`,
    );
  }
}

/** The `Location` of a 201, resolved against the request URL. */
export function locationOf(answer: HttpAnswer, requestUrl: string, what: string): string {
  const location = answer.headers.get('location');
  if (!location) throw new LoadTaskError('no-location', `${what} answered without a Location`);
  return new URL(location, requestUrl).toString();
}
