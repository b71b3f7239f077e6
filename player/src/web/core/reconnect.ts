/**
 * Retry and timeout behaviour of the player and the publisher, as data. Both pages reconnect on
 * their own; these numbers decide how eagerly.
 */
export interface RetryPolicy {
  /** First delay after a failure; doubled (by `factor`) on each further failure. */
  initialDelayMs: number;
  factor: number;
  maxDelayMs: number;
  /** Random spread of each delay, as a fraction (0.2 = ±20 %), so viewers do not retry in step. */
  jitter: number;
  /** Bounds for a server's `Retry-After` (409 "not live yet", 429, 503). */
  minRetryAfterMs: number;
  maxRetryAfterMs: number;
  /** Used when a 409 carries no readable `Retry-After`. */
  defaultRetryAfterMs: number;
  /** How long `disconnected` may last before we give the session up and reconnect. */
  disconnectedGraceMs: number;
  /** No new bytes for this long while playing means the stream stalled: reconnect. */
  stallTimeoutMs: number;
  /** No bytes at all this long after the answer means the session never worked: reconnect. */
  firstMediaTimeoutMs: number;
  /** ICE gathering may take this long before the offer is sent anyway (non-trickle). */
  iceGatheringTimeoutMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  initialDelayMs: 500,
  factor: 2,
  maxDelayMs: 10_000,
  jitter: 0.2,
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
};

/** The delay before retry number `failures` (0-based): exponential, capped, jittered. */
export function backoffDelayMs(
  failures: number,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  random: () => number = Math.random,
): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** failures);
  const spread = base * policy.jitter * (random() * 2 - 1);
  return Math.round(Math.max(0, base + spread));
}

/** The delay a server asked for with `Retry-After`, clamped to the policy's bounds. */
export function retryAfterDelayMs(
  seconds: number | undefined,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
): number {
  if (seconds === undefined) return policy.defaultRetryAfterMs;
  return Math.min(policy.maxRetryAfterMs, Math.max(policy.minRetryAfterMs, seconds * 1000));
}
