/**
 * Per-client rate limits on the public entry points (issue 11): one token bucket per client
 * address (IPv6: per /64) and bucket class, in this process's memory. docs/operations.md
 * ("Rate limits") describes the classes, the defaults and what they mean in a cluster.
 *
 * The middleware runs before any route, so a refused request costs a Map lookup and creates
 * nothing. It also resolves the client address once (`c.var.clientAddress`), which the WHIP
 * route passes to the publish hook, so the hook and the limits agree on who the client is.
 */
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import type { RateLimitConfig } from '../config.ts';
import { TooManyRequestsError } from '../errors.ts';
import { parseBearer, safeEqual } from '../keys.ts';
import { moduleLogger } from '../logger.ts';
import { addressMatcher, clientAddress, limitKeyOf, type AddressMatcher } from './clientAddress.ts';
import { TokenBuckets } from './TokenBuckets.ts';

const log = moduleLogger('RateLimiter');

declare module 'hono' {
  interface ContextVariableMap {
    /** Set by the rate limiter: the client's address (after `TRUST_PROXY`), when known. */
    clientAddress: string | undefined;
  }
}

/** The limited request classes; `adminAuth` counts wrong admin tokens. Bounded metric label. */
export type BucketClass = 'whip' | 'whep' | 'session' | 'api' | 'admin' | 'adminAuth';
export const BUCKET_CLASSES: readonly BucketClass[] = [
  'whip',
  'whep',
  'session',
  'api',
  'admin',
  'adminAuth',
];

/**
 * Which bucket a request draws from, by method and path; undefined: not limited (player
 * pages, `/metrics`, health, node-to-node calls, and DELETE of a session, so a client can
 * always hang up). `/api` requests are `admin` or `api` by their token (decided later).
 */
export function classify(
  method: string,
  path: string,
): 'whip' | 'whep' | 'session' | 'api' | undefined {
  if (path === '/api' || path.startsWith('/api/')) return 'api';
  if (method === 'POST') {
    if (path === '/whip') return 'whip';
    if (/^\/whep\/[^/]+\/?$/.test(path)) return 'whep';
    // WHEP session sub-resources: layer selection and the events channel.
    if (/^\/whep\/[^/]+\/[^/]+\/.+$/.test(path)) return 'session';
    return undefined;
  }
  if (method === 'PATCH' && /^\/(whip\/[^/]+|whep\/[^/]+\/[^/]+)\/?$/.test(path)) return 'session';
  return undefined;
}

export interface RateLimiterOptions {
  config: RateLimitConfig;
  /** `ADMIN_TOKEN`: a request to `/api` carrying it draws from the `admin` bucket. */
  adminToken: string;
  /** Counts refusals (`wisp_rate_limited_total{bucket}`). */
  onLimited?: (bucket: BucketClass) => void;
  /** The clock in ms (tests). */
  now?: () => number;
}

export class RateLimiter {
  readonly #config: RateLimitConfig;
  readonly #adminToken: string;
  readonly #buckets: TokenBuckets;
  readonly #trust: AddressMatcher;
  readonly #exempt: AddressMatcher;
  readonly #onLimited: (bucket: BucketClass) => void;
  /** 401s being held back right now (at most `maxDelayedFailures`). */
  #delayed = 0;

  constructor(options: RateLimiterOptions) {
    this.#config = options.config;
    this.#adminToken = options.adminToken;
    this.#buckets = new TokenBuckets({ now: options.now });
    this.#trust = addressMatcher(options.config.trustProxy);
    this.#exempt = addressMatcher(options.config.exempt);
    this.#onLimited = options.onLimited ?? (() => {});
  }

  /** The Hono middleware (`app.use('*', ...)`, after CORS so a 429 carries its headers). */
  middleware(): MiddlewareHandler {
    return async (c, next) => {
      const address = this.#addressOf(c);
      c.set('clientAddress', address);
      const config = this.#config;
      const kind = config.enabled && address ? classify(c.req.method, c.req.path) : undefined;
      if (!kind || !address || this.#exempt(address, 0)) return next();
      const key = limitKeyOf(address);
      if (kind !== 'api') {
        this.#take(kind, key);
        return next();
      }
      const token = parseBearer(c.req.header('authorization'));
      if (token !== undefined && safeEqual(token, this.#adminToken)) {
        this.#take('admin', key);
        return next();
      }
      this.#take('api', key);
      if (token === undefined) return next();
      // A bearer that is not the admin token: an attempt at guessing it, unless the route
      // takes other credentials. Draw from the strict bucket first (this also bounds how many
      // guesses can be in flight at once), give the token back if it was not refused.
      this.#take('adminAuth', key);
      await next();
      if (c.res.status !== 401) {
        this.#buckets.refund(`adminAuth|${key}`, config.adminAuth);
        return;
      }
      await this.#slowDown(key);
    };
  }

  #addressOf(c: Context): string | undefined {
    let peer: string | undefined;
    try {
      peer = getConnInfo(c).remote.address;
    } catch {
      return undefined; // Not served by Node's HTTP server (app.request() in unit tests).
    }
    if (!peer) return undefined;
    return clientAddress(peer, c.req.header('x-forwarded-for'), this.#trust);
  }

  #take(kind: BucketClass, key: string): void {
    const limit = this.#config[kind];
    const result = this.#buckets.take(`${kind}|${key}`, limit);
    if (result.allowed) return;
    this.#onLimited(kind);
    log.debug({ bucket: kind, client: key }, 'rate limited');
    throw new TooManyRequestsError(kind, result.retryAfterSeconds);
  }

  /**
   * Holds a 401 for a wrong admin token back: `ADMIN_AUTH_FAILURE_DELAY_MS` doubled for every
   * recent failure of the address, at most 16 times that. No more than
   * `maxDelayedFailures` are held at once; beyond that they are answered at once (the
   * strict bucket still refuses the surplus with 429), so a flood cannot pin the server.
   */
  async #slowDown(key: string): Promise<void> {
    const { adminAuth, failureDelayMs, maxDelayedFailures } = this.#config;
    if (failureDelayMs === 0 || this.#delayed >= maxDelayedFailures) return;
    const level = this.#buckets.peek(`adminAuth|${key}`, adminAuth);
    const failures = Math.max(1, adminAuth.burst - level.remaining);
    const delay = failureDelayMs * 2 ** Math.min(4, failures - 1);
    this.#delayed += 1;
    try {
      await new Promise((resolve) => setTimeout(resolve, delay));
    } finally {
      this.#delayed -= 1;
    }
  }
}
