/**
 * How every Redis client of the platform connects (the state store, the cluster registries
 * and the bus's subscriber): lazy connect with a bounded first attempt, so a wrong
 * `REDIS_URL` fails start-up with a clear, credential-free error instead of retrying
 * forever; once connected, capped-backoff reconnects, command timeouts, and no blind
 * re-sending of writes that were in flight when the connection dropped.
 */
import type { Redis, RedisOptions } from 'ioredis';
import type { Logger } from '../logger.ts';

export interface RedisConnectionOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS). */
  url: string;
  /** Give up connecting (at create and on each reconnect attempt) after this long. Default 5000. */
  connectTimeoutMs?: number;
  /** Fail a command that got no reply after this long. Default 5000. */
  commandTimeoutMs?: number;
  /** Reconnect attempts a queued command waits through before it fails. Default 3. */
  maxRetriesPerRequest?: number;
  /** Upper bound of the delay between reconnect attempts. Default 2000. */
  maxReconnectDelayMs?: number;
}

/** The URL with any credentials masked, for logs and error messages. */
export function maskRedisUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/**
 * Creates a client with `create` (a new one, or a duplicate of another) and connects it.
 * Rejects with `cannot connect to Redis at <masked url>: <reason>` when the first attempt
 * fails.
 */
export async function connectRedis(
  create: (options: RedisOptions) => Redis,
  options: RedisConnectionOptions,
  log: Logger,
): Promise<Redis> {
  const maxReconnectDelayMs = options.maxReconnectDelayMs ?? 2000;
  let connected = false;
  let lastError: Error | undefined;
  const redis = create({
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? 5000,
    commandTimeout: options.commandTimeoutMs ?? 5000,
    maxRetriesPerRequest: options.maxRetriesPerRequest ?? 3,
    // A write in flight when the connection drops must fail, not run twice after reconnect.
    autoResendUnfulfilledCommands: false,
    retryStrategy: (attempt) => (connected ? Math.min(attempt * 200, maxReconnectDelayMs) : null),
  });
  redis.on('error', (error: Error) => {
    lastError = error;
    if (connected) log.warn({ err: error }, 'redis connection error');
  });
  redis.on('ready', () => {
    if (connected) log.info('redis connection restored');
  });
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    // The rejection only says the connection closed; the error event before it says why.
    const reason = lastError?.message ?? (error as Error).message;
    throw new Error(`cannot connect to Redis at ${maskRedisUrl(options.url)}: ${reason}`, {
      cause: error,
    });
  }
  connected = true;
  return redis;
}

/**
 * Whether `redis` answers a PING within `timeoutMs`: false at once when the connection is not
 * `ready` (connecting, reconnecting, closed), so a health check never queues behind a dead
 * connection. What `/readyz` and `wisp_redis_up` use.
 */
export async function pingRedis(redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status !== 'ready') return false;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([
      redis.ping().then(
        (reply) => reply === 'PONG',
        () => false,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
