/**
 * Retry and timeout behaviour of the player and the publisher, as data.
 *
 * `ReconnectPolicy` has LiveKit's shape (client-sdk-js `ReconnectPolicy`): the player asks it
 * for the delay before the next attempt and stops when it answers null. The default backs off
 * exponentially with jitter, so a thousand players that lose one edge at the same instant come
 * back spread over a window instead of in one burst.
 */

export interface ReconnectContext {
  /** Attempts made since the last success (0 before the first retry). */
  readonly retryCount: number;
  /** Milliseconds since the first failure of this run. */
  readonly elapsedMs: number;
  /** What failed last. */
  readonly retryReason?: Error;
  /** The URL the attempt goes to. */
  readonly serverUrl?: string;
}

export interface ReconnectPolicy {
  /** Delay before the next attempt in ms, or null to stop trying. */
  nextRetryDelayInMs(context: ReconnectContext): number | null;
}

export interface BackoffOptions {
  /** First delay; multiplied by `factor` on each further failure. Default 500 ms. */
  initialDelayMs?: number;
  /** Default 2. */
  factor?: number;
  /** Default 10 s. */
  maxDelayMs?: number;
  /**
   * Spread of each delay as a fraction of it: 0.5 draws from [0.5 d, 1.5 d]. Default 0.5.
   * Wide on purpose: a retry storm after an edge dies is worse than a slower single viewer.
   */
  jitter?: number;
  /** Stop after this many retries. Default: never (a live viewer wants the stream back). */
  maxRetries?: number;
  /** Stop once this much time went by since the first failure. Default: never. */
  maxElapsedMs?: number;
  random?: () => number;
}

export class BackoffReconnectPolicy implements ReconnectPolicy {
  readonly #initial: number;
  readonly #factor: number;
  readonly #max: number;
  readonly #jitter: number;
  readonly #maxRetries: number;
  readonly #maxElapsed: number;
  readonly #random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.#initial = options.initialDelayMs ?? 500;
    this.#factor = options.factor ?? 2;
    this.#max = options.maxDelayMs ?? 10_000;
    this.#jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
    this.#maxRetries = options.maxRetries ?? Infinity;
    this.#maxElapsed = options.maxElapsedMs ?? Infinity;
    this.#random = options.random ?? Math.random;
    if (!(this.#initial >= 0) || !(this.#factor >= 1) || !(this.#max >= this.#initial)) {
      throw new TypeError('backoff needs 0 <= initialDelayMs <= maxDelayMs and factor >= 1');
    }
  }

  nextRetryDelayInMs(context: ReconnectContext): number | null {
    if (context.retryCount >= this.#maxRetries || context.elapsedMs >= this.#maxElapsed) {
      return null;
    }
    const base = Math.min(this.#max, this.#initial * this.#factor ** context.retryCount);
    return Math.round(jittered(base, this.#jitter, this.#random));
  }
}

/** `value` spread uniformly over [value × (1 − jitter), value × (1 + jitter)]. */
export function jittered(value: number, jitter: number, random: () => number = Math.random) {
  return Math.max(0, value * (1 - jitter + 2 * jitter * random()));
}

/** The delay a server asked for with `Retry-After`, clamped, and spread by +0..`jitter`. */
export function retryAfterDelayMs(
  seconds: number | undefined,
  timings: Pick<PlayerTimings, 'minRetryAfterMs' | 'maxRetryAfterMs' | 'defaultRetryAfterMs'>,
  jitter = 0.2,
  random: () => number = Math.random,
): number {
  const asked =
    seconds === undefined
      ? timings.defaultRetryAfterMs
      : Math.min(timings.maxRetryAfterMs, Math.max(timings.minRetryAfterMs, seconds * 1000));
  // Never earlier than asked (the server said when), but not all at the same instant either.
  return Math.round(asked * (1 + jitter * random()));
}

/** Timeouts of a session and of the status polling. */
export interface PlayerTimings {
  /** Bounds for a server's `Retry-After` (409 "not live yet", 429, 503). */
  minRetryAfterMs: number;
  maxRetryAfterMs: number;
  /** Used when a 409 carries no readable `Retry-After`, and between status polls while waiting. */
  defaultRetryAfterMs: number;
  /** How long `disconnected` may last, after an ICE restart was tried, before a new session. */
  disconnectedGraceMs: number;
  /** No new bytes for this long while playing means the stream stalled: new session. */
  stallTimeoutMs: number;
  /** No bytes at all this long after the answer means the session never worked. */
  firstMediaTimeoutMs: number;
  /**
   * The offer leaves with the first candidate (or when gathering completes); without any, after
   * this long anyway. Later candidates trickle (when the server is not ICE-lite).
   */
  iceGatheringTimeoutMs: number;
  /** How often viewers and recordings are refreshed while live or replaying. */
  statusRefreshMs: number;
  /**
   * After a live stream ends, how long the recording of that broadcast may take to become
   * ready before the newest ready recording replays instead.
   */
  replayWaitMs: number;
  /**
   * After a live stream ends without a recording of its own, how long to keep waiting before
   * an older recording replays: a publisher who drops and comes back should find its viewers
   * still waiting, not watching last week's show.
   */
  offlineGraceMs: number;
}

export const DEFAULT_TIMINGS: PlayerTimings = {
  minRetryAfterMs: 1_000,
  maxRetryAfterMs: 60_000,
  defaultRetryAfterMs: 2_000,
  disconnectedGraceMs: 3_000,
  // Short: a stream carries audio and video packets many times a second, and in a cluster a
  // dead edge should cost its viewers as little picture as possible (they come back through
  // the front door on another edge).
  stallTimeoutMs: 2_000,
  firstMediaTimeoutMs: 10_000,
  iceGatheringTimeoutMs: 1_000,
  statusRefreshMs: 15_000,
  replayWaitMs: 60_000,
  offlineGraceMs: 15_000,
};

/** The publisher's retry after a dropped session: like OBS, it keeps trying until stopped. */
export const DEFAULT_PUBLISH_POLICY: ReconnectPolicy = new BackoffReconnectPolicy({
  jitter: 0.2,
});
