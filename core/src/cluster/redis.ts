/**
 * The cluster registries and control bus on Redis through ioredis: the three adapters share
 * one connection for commands, and the bus has a dedicated second one (`duplicate()`) in
 * subscriber mode. Key layout (all under `prefix`):
 *
 * - `{prefix}node:<id>`: string, the NodeRecord as JSON, `SET ... PX ttl` by every heartbeat.
 * - `{prefix}nodes`: sorted set of node ids scored by lastSeen (ms), the index `list` reads
 *   (then MGETs the node keys). The node key is the truth: an id whose key has expired is
 *   pruned from the index on read. `remove` deletes both.
 * - `{prefix}stream:<id>:src`: string, the current owner as JSON `{"node","epoch"}`, with the
 *   PX ttl of the claim or the last refresh.
 * - `{prefix}stream:<id>:epoch`: INCR counter of claims, without TTL, so an epoch never goes
 *   back even after the owner expired (it is a few bytes per stream ever published).
 * - `{prefix}live`: set of stream ids with an owner, added by claim, removed by release, and
 *   pruned on read (`owners`) of ids whose `:src` key has expired.
 * - `{prefix}stream:<id>:copies`: hash node id -> JSON `{"parent","viewers","hops",
 *   "expiresAt"}`;
 *   expired entries are filtered out (and HDEL'd) on read, and the hash itself gets a PEXPIRE
 *   of the longest TTL put into it, so it goes away when every copy has.
 * - `{prefix}events`: pub/sub channel of the control bus, one JSON ControlEvent per message.
 *
 * claim, refresh and release are Lua scripts (compare-and-set on node and epoch); pruning is
 * a script too, removing an index entry only if its key is still gone, so a read racing a
 * heartbeat or claim never drops a live entry. lastSeen and copy expiry use the local clock
 * (`Date.now()`, nodes are NTP-synced); key TTLs are Redis's own.
 */
import { Redis } from 'ioredis';
import { createLogger, type Logger } from '../logger.ts';
import { isControlEvent, type ControlBus, type ControlEvent } from './ControlBus.ts';
import { compareIds, deliver } from './embedded.ts';
import {
  connectRedis,
  maskRedisUrl,
  pingRedis,
  type RedisConnectionOptions,
} from '../store/redisConnection.ts';
import { assertClusterId, assertTtlMs } from './NodeRegistry.ts';
import type { NodeRecord, NodeRegistry, NodeRole } from './NodeRegistry.ts';
import type { StreamCopy, StreamOwner, StreamRegistry } from './StreamRegistry.ts';

export interface RedisClusterOptions extends RedisConnectionOptions {
  /** Prefix of every key and of the channel, e.g. `wisp:`. */
  prefix: string;
}

/** KEYS: node key, nodes zset. ARGV: id. Drops the index entry if the node key is gone. */
const PRUNE_NODE = `
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('ZREM', KEYS[2], ARGV[1]) end
return 0
`;

/** KEYS: src, epoch counter, live set. ARGV: node, ttl, stream id. Returns the new epoch. */
const CLAIM_STREAM = `
local epoch = redis.call('INCR', KEYS[2])
local value = '{"node":' .. cjson.encode(ARGV[1]) .. ',"epoch":' .. string.format('%d', epoch) .. '}'
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
redis.call('SADD', KEYS[3], ARGV[3])
return epoch
`;

/** Lua prelude: whether the owner in `raw` is node ARGV[1] with epoch ARGV[2]. */
const IS_CURRENT = `
local function current(raw)
  if not raw then return false end
  local owner = cjson.decode(raw)
  return owner.node == ARGV[1] and owner.epoch == tonumber(ARGV[2])
end
`;

/** KEYS: src. ARGV: node, epoch, ttl. Returns 1 if refreshed, 0 when superseded or expired. */
const REFRESH_STREAM = `${IS_CURRENT}
if not current(redis.call('GET', KEYS[1])) then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

/** KEYS: src, live set. ARGV: node, epoch, stream id. Returns 1 if released, else 0. */
const RELEASE_STREAM = `${IS_CURRENT}
if not current(redis.call('GET', KEYS[1])) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[3])
return 1
`;

/** KEYS: src, live set. ARGV: stream id. Drops the live entry if the owner key is gone. */
const PRUNE_LIVE = `
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[1]) end
return 0
`;

/** KEYS: copies hash. ARGV: node, entry JSON, ttl. Keeps the hash alive for the longest TTL. */
const PUT_COPY = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 0
`;

/** KEYS: copies hash. ARGV: node, entry JSON. Drops the entry only if it was not refreshed. */
const PRUNE_COPY = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
`;

/** The Lua scripts above, registered on the shared connection with `defineCommand`. */
interface ScriptCommands {
  wispClusterPruneNode(nodeKey: string, nodesKey: string, id: string): Promise<number>;
  wispClusterClaim(...keysAndArgs: (string | number)[]): Promise<number>;
  wispClusterRefresh(...keysAndArgs: (string | number)[]): Promise<number>;
  wispClusterRelease(...keysAndArgs: (string | number)[]): Promise<number>;
  wispClusterPruneLive(srcKey: string, liveKey: string, streamId: string): Promise<number>;
  wispClusterPutCopy(...keysAndArgs: (string | number)[]): Promise<number>;
  wispClusterPruneCopy(copiesKey: string, node: string, entry: string): Promise<number>;
}

type ScriptedRedis = Redis & ScriptCommands;

type Handler = (event: ControlEvent) => void;

/** A copy entry as stored in the copies hash. */
interface StoredCopy {
  parent: string;
  viewers: number;
  hops: number;
  expiresAt: number;
}

export class RedisNodeRegistry implements NodeRegistry {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;
  readonly #log: Logger;

  /** The registry on a connected client; keys go under `prefix`. */
  constructor(redis: Redis, prefix: string) {
    this.#redis = redis as ScriptedRedis;
    this.#prefix = prefix;
    this.#log = createLogger('RedisNodeRegistry', { prefix });
    redis.defineCommand('wispClusterPruneNode', { numberOfKeys: 2, lua: PRUNE_NODE });
  }

  async heartbeat(node: Omit<NodeRecord, 'lastSeen'>, ttlMs: number): Promise<void> {
    assertClusterId(node.id, 'node id');
    assertTtlMs(ttlMs);
    const record: NodeRecord = { ...node, lastSeen: Date.now() };
    await exec(
      this.#redis
        .multi()
        .set(this.#nodeKey(node.id), JSON.stringify(record), 'PX', ttlMs)
        .zadd(this.#nodesKey(), record.lastSeen, node.id),
    );
  }

  async get(id: string): Promise<NodeRecord | undefined> {
    return this.#parse(await this.#redis.get(this.#nodeKey(id)));
  }

  async list(role?: NodeRole): Promise<NodeRecord[]> {
    const ids = await this.#redis.zrange(this.#nodesKey(), 0, '-1');
    if (ids.length === 0) return [];
    const values = await this.#redis.mget(ids.map((id) => this.#nodeKey(id)));
    const records: NodeRecord[] = [];
    const gone: Promise<number>[] = [];
    ids.forEach((id, index) => {
      const record = this.#parse(values[index] ?? null);
      if (!record) {
        gone.push(this.#redis.wispClusterPruneNode(this.#nodeKey(id), this.#nodesKey(), id));
      } else if (role === undefined || record.roles.includes(role)) {
        records.push(record);
      }
    });
    await Promise.all(gone);
    return records.sort((a, b) => compareIds(a.id, b.id));
  }

  async remove(id: string): Promise<void> {
    await exec(this.#redis.multi().del(this.#nodeKey(id)).zrem(this.#nodesKey(), id));
  }

  /** The record in a node key's value; a malformed one is logged and counts as absent. */
  #parse(raw: string | null): NodeRecord | undefined {
    if (raw === null) return undefined;
    const value = parseJson(raw) as Partial<NodeRecord> | undefined;
    if (typeof value?.id !== 'string' || !Array.isArray(value.roles)) {
      this.#log.warn({ raw }, 'ignoring a malformed node record');
      return undefined;
    }
    return value as NodeRecord;
  }

  #nodeKey(id: string): string {
    return `${this.#prefix}node:${id}`;
  }

  #nodesKey(): string {
    return `${this.#prefix}nodes`;
  }
}

export class RedisStreamRegistry implements StreamRegistry {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;
  readonly #log: Logger;

  /** The registry on a connected client; keys go under `prefix`. */
  constructor(redis: Redis, prefix: string) {
    this.#redis = redis as ScriptedRedis;
    this.#prefix = prefix;
    this.#log = createLogger('RedisStreamRegistry', { prefix });
    redis.defineCommand('wispClusterClaim', { numberOfKeys: 3, lua: CLAIM_STREAM });
    redis.defineCommand('wispClusterRefresh', { numberOfKeys: 1, lua: REFRESH_STREAM });
    redis.defineCommand('wispClusterRelease', { numberOfKeys: 2, lua: RELEASE_STREAM });
    redis.defineCommand('wispClusterPruneLive', { numberOfKeys: 2, lua: PRUNE_LIVE });
    redis.defineCommand('wispClusterPutCopy', { numberOfKeys: 1, lua: PUT_COPY });
    redis.defineCommand('wispClusterPruneCopy', { numberOfKeys: 1, lua: PRUNE_COPY });
  }

  async claim(streamId: string, node: string, ttlMs: number): Promise<StreamOwner> {
    assertClusterId(streamId, 'stream id');
    assertClusterId(node, 'node id');
    assertTtlMs(ttlMs);
    const epoch = await this.#redis.wispClusterClaim(
      this.#key(streamId, 'src'),
      this.#key(streamId, 'epoch'),
      this.#liveKey(),
      node,
      ttlMs,
      streamId,
    );
    return { node, epoch: Number(epoch) };
  }

  async refresh(streamId: string, owner: StreamOwner, ttlMs: number): Promise<boolean> {
    assertTtlMs(ttlMs);
    const result = await this.#redis.wispClusterRefresh(
      this.#key(streamId, 'src'),
      owner.node,
      owner.epoch,
      ttlMs,
    );
    return result === 1;
  }

  async release(streamId: string, owner: StreamOwner): Promise<boolean> {
    const result = await this.#redis.wispClusterRelease(
      this.#key(streamId, 'src'),
      this.#liveKey(),
      owner.node,
      owner.epoch,
      streamId,
    );
    return result === 1;
  }

  async owner(streamId: string): Promise<StreamOwner | undefined> {
    return this.#parseOwner(await this.#redis.get(this.#key(streamId, 'src')));
  }

  async owners(): Promise<Map<string, StreamOwner>> {
    const ids = (await this.#redis.smembers(this.#liveKey())).sort(compareIds);
    const result = new Map<string, StreamOwner>();
    if (ids.length === 0) return result;
    const values = await this.#redis.mget(ids.map((id) => this.#key(id, 'src')));
    const gone: Promise<number>[] = [];
    ids.forEach((id, index) => {
      const owner = this.#parseOwner(values[index] ?? null);
      if (owner) result.set(id, owner);
      else gone.push(this.#redis.wispClusterPruneLive(this.#key(id, 'src'), this.#liveKey(), id));
    });
    await Promise.all(gone);
    return result;
  }

  async putCopy(streamId: string, copy: StreamCopy, ttlMs: number): Promise<void> {
    assertClusterId(streamId, 'stream id');
    assertClusterId(copy.node, 'node id');
    assertTtlMs(ttlMs);
    const entry: StoredCopy = {
      parent: copy.parent,
      viewers: copy.viewers,
      hops: copy.hops,
      expiresAt: Date.now() + ttlMs,
    };
    await this.#redis.wispClusterPutCopy(
      this.#key(streamId, 'copies'),
      copy.node,
      JSON.stringify(entry),
      ttlMs,
    );
  }

  async removeCopy(streamId: string, node: string): Promise<void> {
    await this.#redis.hdel(this.#key(streamId, 'copies'), node);
  }

  async copies(streamId: string): Promise<StreamCopy[]> {
    const key = this.#key(streamId, 'copies');
    const entries = await this.#redis.hgetall(key);
    const now = Date.now();
    const copies: StreamCopy[] = [];
    const gone: Promise<number>[] = [];
    for (const [node, raw] of Object.entries(entries)) {
      const entry = parseJson(raw) as Partial<StoredCopy> | undefined;
      if (typeof entry?.expiresAt === 'number' && entry.expiresAt > now) {
        const { parent, viewers, hops } = entry;
        copies.push({ node, parent: String(parent), viewers: Number(viewers), hops: Number(hops) });
      } else {
        if (typeof entry?.expiresAt !== 'number') {
          this.#log.warn({ streamId, node, raw }, 'dropping a malformed copy entry');
        }
        gone.push(this.#redis.wispClusterPruneCopy(key, node, raw));
      }
    }
    await Promise.all(gone);
    return copies.sort((a, b) => compareIds(a.node, b.node));
  }

  /** The owner in a `:src` value; a malformed one is logged and counts as absent. */
  #parseOwner(raw: string | null): StreamOwner | undefined {
    if (raw === null) return undefined;
    const value = parseJson(raw) as Partial<StreamOwner> | undefined;
    if (typeof value?.node !== 'string' || typeof value.epoch !== 'number') {
      this.#log.warn({ raw }, 'ignoring a malformed stream owner');
      return undefined;
    }
    return { node: value.node, epoch: value.epoch };
  }

  #key(streamId: string, part: 'src' | 'epoch' | 'copies'): string {
    return `${this.#prefix}stream:${streamId}:${part}`;
  }

  #liveKey(): string {
    return `${this.#prefix}live`;
  }
}

/**
 * The bus on Redis pub/sub. The dedicated subscriber connection is subscribed to the channel
 * once, at create, and fans each message out to this process's handlers; ioredis subscribes
 * again by itself after a reconnect (`autoResubscribe`), so handlers never need to.
 */
export class RedisControlBus implements ControlBus {
  readonly #redis: Redis;
  readonly #channel: string;
  readonly #log: Logger;
  readonly #handlers = new Set<Handler>();

  private constructor(redis: Redis, channel: string, log: Logger) {
    this.#redis = redis;
    this.#channel = channel;
    this.#log = log;
  }

  /**
   * The bus publishing on `redis` and listening on `subscriber`, a connection of its own that
   * it puts in subscriber mode; resolves once the subscription is in place, so an event
   * published after that reaches this bus.
   */
  static async create(redis: Redis, subscriber: Redis, prefix: string): Promise<RedisControlBus> {
    const channel = `${prefix}events`;
    const bus = new RedisControlBus(redis, channel, createLogger('RedisControlBus', { prefix }));
    subscriber.on('message', (from: string, message: string) => {
      if (from === channel) bus.#receive(message);
    });
    await subscriber.subscribe(channel);
    return bus;
  }

  async publish(event: ControlEvent): Promise<void> {
    if (!isControlEvent(event)) throw new TypeError('not a well-formed control event');
    await this.#redis.publish(this.#channel, JSON.stringify(event));
  }

  subscribe(handler: (event: ControlEvent) => void): () => void {
    // Wrapped, so the same function subscribed twice is two subscriptions.
    const subscription: Handler = (event) => handler(event);
    this.#handlers.add(subscription);
    return () => {
      this.#handlers.delete(subscription);
    };
  }

  /** Drops every subscription. Idempotent. */
  close(): void {
    this.#handlers.clear();
  }

  #receive(message: string): void {
    const event = parseJson(message);
    if (!isControlEvent(event)) {
      this.#log.warn({ message }, 'ignoring a malformed control event');
      return;
    }
    for (const handler of [...this.#handlers]) {
      if (this.#handlers.has(handler)) deliver(handler, event);
    }
  }
}

/** The three Redis adapters on their shared connections. */
export interface RedisCluster {
  nodes: RedisNodeRegistry;
  streams: RedisStreamRegistry;
  bus: RedisControlBus;
  /** Quits both connections (waiting for pending replies). Idempotent. */
  close(): Promise<void>;
  /** Whether the command connection answers a PING in time and the subscriber is connected. */
  ping(timeoutMs: number): Promise<boolean>;
}

/**
 * Connects (a command connection and a subscriber connection) and returns the adapters.
 * Rejects, instead of retrying forever, when Redis cannot be reached within
 * `connectTimeoutMs`; once connected, a lost connection is retried with capped backoff and
 * commands fail after `maxRetriesPerRequest` attempts.
 */
export async function connectRedisCluster(options: RedisClusterOptions): Promise<RedisCluster> {
  const url = maskRedisUrl(options.url);
  const log = createLogger('RedisCluster', { url, prefix: options.prefix });
  const redis = await connectRedis(
    (redisOptions) => new Redis(options.url, redisOptions),
    options,
    log,
  );
  let subscriber: Redis | undefined;
  let bus: RedisControlBus;
  try {
    subscriber = await connectRedis((redisOptions) => redis.duplicate(redisOptions), options, log);
    bus = await RedisControlBus.create(redis, subscriber, options.prefix);
  } catch (error) {
    subscriber?.disconnect();
    redis.disconnect();
    throw error;
  }
  const connections = [redis, subscriber];
  let closing: Promise<void> | undefined;
  log.info('redis cluster connected');
  return {
    nodes: new RedisNodeRegistry(redis, options.prefix),
    streams: new RedisStreamRegistry(redis, options.prefix),
    bus,
    ping(timeoutMs) {
      if (closing || subscriber?.status !== 'ready') return Promise.resolve(false);
      return pingRedis(redis, timeoutMs);
    },
    close() {
      closing ??= (async () => {
        bus.close();
        await Promise.all(connections.map(quit));
        log.info('redis cluster closed');
      })();
      return closing;
    },
  };
}

async function quit(redis: Redis): Promise<void> {
  try {
    // Without a live connection, QUIT would only wait in the offline queue: just drop it.
    if (redis.status === 'ready') await redis.quit();
    else redis.disconnect();
  } catch {
    // The connection is already gone (or going); make sure it stays that way.
    redis.disconnect();
  }
}

/** Runs a MULTI transaction and throws the first command error. */
async function exec(transaction: ReturnType<Redis['multi']>): Promise<void> {
  const replies = await transaction.exec();
  if (replies === null) throw new Error('redis transaction was aborted');
  for (const [error] of replies) if (error) throw error;
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}
