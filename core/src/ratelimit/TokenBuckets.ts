/**
 * Token buckets keyed by a string (client address + bucket class), in memory.
 *
 * Written here rather than taken from a library: `rate-limiter-flexible`'s memory limiter
 * counts points in fixed windows (its `BurstyRateLimiter` only chains two of them), and
 * `hono-rate-limiter` is a fixed window too. Issue 11 asks for a token bucket — a steady
 * rate plus a burst, refilled continuously — which is a few lines of arithmetic, so the
 * dependency would add more than it saves.
 */

export interface BucketLimit {
  /** Tokens added per second (the sustained rate). */
  ratePerSecond: number;
  /** Bucket size: how many requests may come at once after a quiet period. */
  burst: number;
}

export interface TakeResult {
  allowed: boolean;
  /** Whole tokens left after this take. */
  remaining: number;
  /** When refused: seconds until one token is back (integer, rounded up, at least 1). */
  retryAfterSeconds: number;
}

interface Bucket {
  tokens: number;
  at: number;
  /** When it will be full again if nothing is taken: from then on it can be forgotten. */
  fullAt: number;
}

export interface TokenBucketsOptions {
  /** The clock in milliseconds (tests inject one). Default `performance.now`. */
  now?: () => number;
  /** Most keys kept; beyond it the oldest are dropped (a flood of addresses). Default 100000. */
  maxKeys?: number;
}

export class TokenBuckets {
  readonly #buckets = new Map<string, Bucket>();
  readonly #now: () => number;
  readonly #maxKeys: number;
  #lastSweep: number;

  constructor(options: TokenBucketsOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
    this.#maxKeys = options.maxKeys ?? 100_000;
    this.#lastSweep = this.#now();
  }

  /** Number of keys held (for tests and sweeping). */
  get size(): number {
    return this.#buckets.size;
  }

  /** Takes `cost` tokens from the bucket of `key` if it has them. */
  take(key: string, limit: BucketLimit, cost = 1): TakeResult {
    const now = this.#now();
    this.#sweep(now);
    const bucket = this.#refilled(key, limit, now);
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      this.#store(key, bucket, limit);
      return { allowed: true, remaining: Math.floor(bucket.tokens), retryAfterSeconds: 0 };
    }
    this.#store(key, bucket, limit);
    return {
      allowed: false,
      remaining: Math.floor(bucket.tokens),
      retryAfterSeconds: retryAfter(cost - bucket.tokens, limit.ratePerSecond),
    };
  }

  /** The bucket's level without taking anything. */
  peek(key: string, limit: BucketLimit): TakeResult {
    const bucket = this.#refilled(key, limit, this.#now());
    const allowed = bucket.tokens >= 1;
    return {
      allowed,
      remaining: Math.floor(bucket.tokens),
      retryAfterSeconds: allowed ? 0 : retryAfter(1 - bucket.tokens, limit.ratePerSecond),
    };
  }

  /** Gives back tokens a request took but turned out not to need (never above the burst). */
  refund(key: string, limit: BucketLimit, cost = 1): void {
    const bucket = this.#buckets.get(key);
    if (!bucket) return;
    bucket.tokens = Math.min(limit.burst, bucket.tokens + cost);
    bucket.fullAt = bucket.at + ((limit.burst - bucket.tokens) / limit.ratePerSecond) * 1000;
  }

  #refilled(key: string, limit: BucketLimit, now: number): Bucket {
    const bucket = this.#buckets.get(key);
    if (!bucket) return { tokens: limit.burst, at: now, fullAt: now };
    const elapsed = Math.max(0, now - bucket.at) / 1000;
    const tokens = Math.min(limit.burst, bucket.tokens + elapsed * limit.ratePerSecond);
    return { tokens, at: now, fullAt: bucket.fullAt };
  }

  #store(key: string, bucket: Bucket, limit: BucketLimit): void {
    bucket.fullAt = bucket.at + ((limit.burst - bucket.tokens) / limit.ratePerSecond) * 1000;
    // Delete first so the Map's insertion order is least recently used first.
    this.#buckets.delete(key);
    this.#buckets.set(key, bucket);
    while (this.#buckets.size > this.#maxKeys) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest === undefined) break;
      this.#buckets.delete(oldest);
    }
  }

  /**
   * At most once a minute, forgets the buckets that are full again: a full bucket is the
   * same as no bucket, so memory follows the addresses active in the last moments only.
   */
  #sweep(now: number): void {
    if (now - this.#lastSweep < 60_000) return;
    this.#lastSweep = now;
    for (const [key, bucket] of this.#buckets) {
      if (bucket.fullAt <= now) this.#buckets.delete(key);
    }
  }
}

/** Seconds until `missing` tokens have refilled at `ratePerSecond`: whole, at least 1. */
export function retryAfter(missing: number, ratePerSecond: number): number {
  return Math.max(1, Math.ceil(missing / ratePerSecond - 1e-9));
}
