/**
 * HTTP-only WHIP and WHEP sessions under load: POST a canned offer, expect 201 with an answer
 * and a `Location`, then DELETE that location and expect 200. No ICE or DTLS ever happens, so
 * this measures the signalling plane alone: authentication, SDP parsing and answering, and the
 * mediasoup transports, producers and consumers the server creates and closes per session.
 */
import {
  runLoad,
  type LoadOptions,
  type LoadResult,
  type LoadTask,
  type LoadTaskResult,
} from './loadDriver.ts';
import { expectStatus, locationOf, request } from './loopbackHttp.ts';

/** The bounds of one measured level; the warm-up uses the same timeout. */
export interface LevelLimits {
  maxTasks: number;
  maxDurationMs: number;
  taskTimeoutMs: number;
  /** Tasks run (and discarded) before measuring, so JIT and pools are warm. */
  warmupTasks: number;
}

export interface WhipLoadOptions {
  /** `{PUBLIC_URL}/whip`. */
  whipUrl: string;
  /**
   * One stream key per worker at least: two sessions on one key would be a publisher takeover
   * (the second replaces the first), which is not what this measures.
   */
  streamKeys: readonly string[];
  offerSdp: string;
  concurrency: number;
  limits: LevelLimits;
}

export interface WhepLoadOptions {
  /** `{PUBLIC_URL}/whep/:id` of a live stream. */
  whepUrl: string;
  offerSdp: string;
  concurrency: number;
  limits: LevelLimits;
}

const SDP_HEADERS = { 'Content-Type': 'application/sdp' };

/** Runs `task` for the warm-up (results discarded), then for the measurement. */
export async function runLevel(
  task: LoadTask,
  concurrency: number,
  limits: LevelLimits,
): Promise<LoadResult> {
  const base: Omit<LoadOptions, 'maxTasks'> = {
    concurrency,
    maxDurationMs: limits.maxDurationMs,
    taskTimeoutMs: limits.taskTimeoutMs,
    task,
  };
  if (limits.warmupTasks > 0) await runLoad({ ...base, maxTasks: limits.warmupTasks });
  return runLoad({ ...base, maxTasks: limits.maxTasks });
}

/** POST an offer (201 + Location), then DELETE the session (200). */
export async function setupAndTeardown(
  endpoint: string,
  offerSdp: string,
  token: string | undefined,
  signal: AbortSignal,
  what: string,
): Promise<LoadTaskResult> {
  const auth: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  const post = await request(endpoint, {
    method: 'POST',
    headers: { ...SDP_HEADERS, ...auth },
    body: offerSdp,
    signal,
  });
  expectStatus(post, 201, `${what} POST`);
  const location = locationOf(post, endpoint, `${what} POST`);
  const del = await request(location, { method: 'DELETE', headers: auth, signal });
  expectStatus(del, 200, `${what} DELETE`);
  return {
    ok: true,
    status: post.status,
    requests: 2,
    phases: { setup: post.ms, teardown: del.ms },
  };
}

export async function runWhipLoad(options: WhipLoadOptions): Promise<LoadResult> {
  const { whipUrl, streamKeys, offerSdp, concurrency, limits } = options;
  if (streamKeys.length < concurrency) {
    throw new TypeError(
      `need ${concurrency} stream keys (one per worker), got ${streamKeys.length}`,
    );
  }
  return runLevel(
    ({ worker, signal }) => setupAndTeardown(whipUrl, offerSdp, streamKeys[worker], signal, 'WHIP'),
    concurrency,
    limits,
  );
}

export async function runWhepLoad(options: WhepLoadOptions): Promise<LoadResult> {
  const { whepUrl, offerSdp, concurrency, limits } = options;
  return runLevel(
    ({ signal }) => setupAndTeardown(whepUrl, offerSdp, undefined, signal, 'WHEP'),
    concurrency,
    limits,
  );
}

/**
 * Opens one HTTP-only session (POST -> 201) and returns a function that DELETEs it (-> 200).
 * Used for the publisher the WHEP sessions watch (the stream is live from the 201 on) and for
 * the viewer that keeps it watched. Without ICE the server closes such a session once
 * `SESSION_CONNECT_TIMEOUT_MS` (30 s by default) has passed.
 */
export async function openHttpOnlySession(
  endpoint: string,
  offerSdp: string,
  token: string | undefined,
  timeoutMs: number,
  what: string,
): Promise<() => Promise<void>> {
  const auth: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  const post = await request(endpoint, {
    method: 'POST',
    headers: { ...SDP_HEADERS, ...auth },
    body: offerSdp,
    signal: AbortSignal.timeout(timeoutMs),
  });
  expectStatus(post, 201, `${what} POST`);
  const location = locationOf(post, endpoint, `${what} POST`);
  return async () => {
    const del = await request(location, {
      method: 'DELETE',
      headers: auth,
      signal: AbortSignal.timeout(timeoutMs),
    });
    expectStatus(del, 200, `${what} DELETE`);
  };
}
