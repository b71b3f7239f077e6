/**
 * The cluster state store, on Redis through ioredis. Key layout (all under `prefix`):
 *
 * - `{prefix}stream:<id>`: hash with the StreamRecord fields (id, name, keyHash, createdAt,
 *   updatedAt).
 * - `{prefix}streams`: sorted set of ids scored by createdAt (ms), for listing oldest first.
 * - `{prefix}streamkey:<keyHash>`: string holding the id of the stream with that key hash.
 * - `{prefix}recording:<id>`: string holding the RecordingRecord as JSON.
 * - `{prefix}recordings:<streamId>`: sorted set of the stream's recording ids by startedAt (ms).
 * - `{prefix}recordings-unfinished`: set of the ids still recording or finalizing.
 * - The webhook outbox (WebhookOutbox.ts), one queue per (target, stream) pair `<qid>`:
 *   `{prefix}webhook:event:<id>`: hash `json` (the event) and `pending` (queues holding it);
 *   `{prefix}webhook:queue:<qid>`: list of event ids, oldest first;
 *   `{prefix}webhook:q:<qid>`: hash `target`, `streamId`, `attempts`, `lastError`, `lease`
 *   (the token of the current claim); `{prefix}webhook:due`: sorted set of queue ids by the
 *   time their head is due (while leased: when the lease expires, so an expired lease makes
 *   it due again); `{prefix}webhook:dead`: list of dead letters as JSON, newest first.
 *
 * Every change that touches more than one key runs as one Lua script, so the key index never
 * disagrees with the records. The rotate and delete scripts derive the old index key from the
 * stored hash, a key they cannot declare up front: fine on standalone and Sentinel Redis; on
 * Redis Cluster use a prefix with a hash tag (e.g. `{wisp}:`) so every key shares one slot.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { ConflictError, InvalidStateError } from '../errors.ts';
import { createLogger, type Logger } from '../logger.ts';
import type {
  RecordingChanges,
  RecordingRecord,
  StateStore,
  StreamChanges,
  StreamRecord,
} from './StateStore.ts';
import {
  connectRedis,
  maskRedisUrl,
  pingRedis,
  type RedisConnectionOptions,
} from './redisConnection.ts';
import {
  applyStreamChanges,
  assertRecordingRecord,
  assertStreamRecord,
  compareRecordingsNewestFirst,
  isUnfinished,
  timestampMs,
  toRecordingRecord,
  toStreamRecord,
} from './records.ts';
import {
  MAX_DEAD_WEBHOOKS,
  assertWebhookEvent,
  toWebhookEvent,
  webhookQueueId,
  type DeadWebhook,
  type WebhookDelivery,
  type WebhookEvent,
  type WebhookOutboxStats,
  type WebhookOutcome,
} from './WebhookOutbox.ts';

export interface RedisStateStoreOptions extends RedisConnectionOptions {
  /** Prefix of every key, e.g. `wisp:`. */
  prefix: string;
}

/**
 * KEYS: stream hash, key index entry, streams zset. ARGV: id, name, keyHash, createdAt,
 * updatedAt, score, then optional field/value pairs (`record`, `visibility`).
 */
const CREATE_STREAM = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'name', ARGV[2], 'keyHash', ARGV[3],
  'createdAt', ARGV[4], 'updatedAt', ARGV[5])
for i = 7, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[6], ARGV[1])
return 0
`;

/**
 * KEYS: stream hash, new key index entry. ARGV: id, new keyHash, updatedAt, key index prefix.
 * Returns 0 when the stream is missing, -1 when the new hash belongs to another stream, else
 * the updated hash as a flat field/value list.
 */
const ROTATE_STREAM_KEY = `
local old = redis.call('HGET', KEYS[1], 'keyHash')
if not old then return 0 end
local owner = redis.call('GET', KEYS[2])
if owner and owner ~= ARGV[1] then return -1 end
redis.call('DEL', ARGV[4] .. old)
redis.call('HSET', KEYS[1], 'keyHash', ARGV[2], 'updatedAt', ARGV[3])
redis.call('SET', KEYS[2], ARGV[1])
return redis.call('HGETALL', KEYS[1])
`;

/** KEYS: stream hash, streams zset. ARGV: id, key index prefix. Returns 1 if deleted, else 0. */
const DELETE_STREAM = `
local hash = redis.call('HGET', KEYS[1], 'keyHash')
if not hash then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
local index = ARGV[2] .. hash
if redis.call('GET', index) == ARGV[1] then redis.call('DEL', index) end
return 1
`;

/**
 * KEYS: stream hash. ARGV: name ('' = unchanged), updatedAt, record ('1', '0', '' = unchanged,
 * '-' = remove), visibility ('' = unchanged). Returns 0 when the stream is missing, else the
 * updated hash.
 */
const UPDATE_STREAM = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'name', ARGV[1]) end
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[2])
if ARGV[3] == '-' then redis.call('HDEL', KEYS[1], 'record')
elseif ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'record', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'visibility', ARGV[4]) end
return redis.call('HGETALL', KEYS[1])
`;

/**
 * KEYS: recording key, unfinished set. ARGV: id, JSON, unfinished ('1'/'0'), mode ('create'
 * or 'update'), then the per-stream index keys and the score. Create fails (0) when the
 * record exists, update (0) when it does not.
 */
const PUT_RECORDING = `
local exists = redis.call('EXISTS', KEYS[1]) == 1
if ARGV[4] == 'create' and exists then return 0 end
if ARGV[4] == 'update' and not exists then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[3] == '1' then redis.call('SADD', KEYS[2], ARGV[1])
else redis.call('SREM', KEYS[2], ARGV[1]) end
for i = 6, #ARGV do redis.call('ZADD', ARGV[i], ARGV[5], ARGV[1]) end
return 1
`;

/** KEYS: recording key, unfinished set. ARGV: id, key prefix of the per-stream indexes. */
const DELETE_RECORDING = `
local json = redis.call('GET', KEYS[1])
if not json then return 0 end
local record = cjson.decode(json)
for _, streamId in ipairs(record.streamIds) do
  redis.call('ZREM', ARGV[2] .. streamId, ARGV[1])
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return 1
`;

/**
 * KEYS: event key, due zset. ARGV: prefix, event id, event JSON, now, target count, then
 * (queue id, target, stream id) per target. Returns 0 when the event is already queued.
 */
const ENQUEUE_WEBHOOK = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local n = tonumber(ARGV[5])
if n == 0 then return 1 end
redis.call('HSET', KEYS[1], 'json', ARGV[3], 'pending', n)
for i = 0, n - 1 do
  local qid = ARGV[6 + i * 3]
  if redis.call('RPUSH', ARGV[1] .. 'webhook:queue:' .. qid, ARGV[2]) == 1 then
    redis.call('HSET', ARGV[1] .. 'webhook:q:' .. qid,
      'target', ARGV[7 + i * 3], 'streamId', ARGV[8 + i * 3], 'attempts', 0)
    redis.call('ZADD', KEYS[2], ARGV[4], qid)
  end
end
return 1
`;

/**
 * KEYS: due zset. ARGV: prefix, now, limit, lease expiry, lease token base. Leases the heads
 * of the due queues; returns one {queue id, target, event JSON, attempts, last error, lease}
 * per claimed delivery.
 */
const CLAIM_WEBHOOKS = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for i, qid in ipairs(ids) do
  local qkey = ARGV[1] .. 'webhook:queue:' .. qid
  local meta = ARGV[1] .. 'webhook:q:' .. qid
  local eventId = redis.call('LINDEX', qkey, 0)
  if not eventId then
    redis.call('ZREM', KEYS[1], qid)
    redis.call('DEL', meta)
  else
    local json = redis.call('HGET', ARGV[1] .. 'webhook:event:' .. eventId, 'json')
    if not json then
      redis.call('LPOP', qkey)
    else
      local lease = ARGV[5] .. ':' .. i
      redis.call('HSET', meta, 'lease', lease)
      redis.call('ZADD', KEYS[1], ARGV[4], qid)
      local m = redis.call('HMGET', meta, 'target', 'attempts', 'lastError')
      out[#out + 1] = { qid, m[1] or '', json, m[2] or '0', m[3] or '', lease }
    end
  end
end
return out
`;

/**
 * KEYS: due zset, dead list. ARGV: prefix, queue id, lease, event id, outcome ('delivered',
 * 'retry', 'dead'), retry at, error, now, dead-letter JSON, dead letters kept. Returns 0
 * when the lease is not the current one.
 */
const COMPLETE_WEBHOOK = `
local meta = ARGV[1] .. 'webhook:q:' .. ARGV[2]
if redis.call('HGET', meta, 'lease') ~= ARGV[3] then return 0 end
local qkey = ARGV[1] .. 'webhook:queue:' .. ARGV[2]
if redis.call('LINDEX', qkey, 0) ~= ARGV[4] then return 0 end
redis.call('HDEL', meta, 'lease')
if ARGV[5] == 'retry' then
  redis.call('HINCRBY', meta, 'attempts', 1)
  redis.call('HSET', meta, 'lastError', ARGV[7])
  redis.call('ZADD', KEYS[1], ARGV[6], ARGV[2])
  return 1
end
if ARGV[5] == 'dead' then
  redis.call('LPUSH', KEYS[2], ARGV[9])
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[10]) - 1)
end
redis.call('LPOP', qkey)
local ekey = ARGV[1] .. 'webhook:event:' .. ARGV[4]
if redis.call('HINCRBY', ekey, 'pending', -1) <= 0 then redis.call('DEL', ekey) end
if redis.call('LLEN', qkey) > 0 then
  redis.call('HSET', meta, 'attempts', 0)
  redis.call('HDEL', meta, 'lastError')
  redis.call('ZADD', KEYS[1], ARGV[8], ARGV[2])
else
  redis.call('DEL', meta)
  redis.call('ZREM', KEYS[1], ARGV[2])
end
return 1
`;

/** The Lua scripts above, registered on the connection with `defineCommand`. */
interface ScriptCommands {
  wispEnqueueWebhook(...keysAndArgs: (string | number)[]): Promise<number>;
  wispClaimWebhooks(...keysAndArgs: (string | number)[]): Promise<string[][]>;
  wispCompleteWebhook(...keysAndArgs: (string | number)[]): Promise<number>;
  wispUpdateStream(...keysAndArgs: string[]): Promise<number | string[]>;
  wispPutRecording(...keysAndArgs: (string | number)[]): Promise<number>;
  wispDeleteRecording(...keysAndArgs: string[]): Promise<number>;
  wispCreateStream(...keysAndArgs: (string | number)[]): Promise<number>;
  wispRotateStreamKey(...keysAndArgs: string[]): Promise<number | string[]>;
  wispDeleteStream(...keysAndArgs: string[]): Promise<number>;
}

type ScriptedRedis = Redis & ScriptCommands;

export class RedisStateStore implements StateStore {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;
  readonly #log: Logger;
  #closing: Promise<void> | undefined;

  private constructor(redis: ScriptedRedis, prefix: string, log: Logger) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#log = log;
  }

  /**
   * Connects and returns the store. Rejects (instead of retrying forever) when Redis cannot
   * be reached within `connectTimeoutMs`; once connected, a lost connection is retried with
   * capped backoff and commands fail after `maxRetriesPerRequest` attempts.
   */
  static async create(options: RedisStateStoreOptions): Promise<RedisStateStore> {
    const log = createLogger('RedisStateStore', {
      url: maskRedisUrl(options.url),
      prefix: options.prefix,
    });
    const redis = (await connectRedis(
      (redisOptions) => new Redis(options.url, redisOptions),
      options,
      log,
    )) as ScriptedRedis;
    redis.defineCommand('wispCreateStream', { numberOfKeys: 3, lua: CREATE_STREAM });
    redis.defineCommand('wispRotateStreamKey', { numberOfKeys: 2, lua: ROTATE_STREAM_KEY });
    redis.defineCommand('wispDeleteStream', { numberOfKeys: 2, lua: DELETE_STREAM });
    redis.defineCommand('wispUpdateStream', { numberOfKeys: 1, lua: UPDATE_STREAM });
    redis.defineCommand('wispPutRecording', { numberOfKeys: 2, lua: PUT_RECORDING });
    redis.defineCommand('wispDeleteRecording', { numberOfKeys: 2, lua: DELETE_RECORDING });
    redis.defineCommand('wispEnqueueWebhook', { numberOfKeys: 2, lua: ENQUEUE_WEBHOOK });
    redis.defineCommand('wispClaimWebhooks', { numberOfKeys: 1, lua: CLAIM_WEBHOOKS });
    redis.defineCommand('wispCompleteWebhook', { numberOfKeys: 2, lua: COMPLETE_WEBHOOK });
    log.info('redis state store connected');
    return new RedisStateStore(redis, options.prefix, log);
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  async createStream(record: StreamRecord): Promise<void> {
    this.#assertOpen();
    assertStreamRecord(record);
    const result = await this.#redis.wispCreateStream(
      this.#streamKey(record.id),
      this.#indexKey(record.keyHash),
      this.#listKey(),
      record.id,
      record.name,
      record.keyHash,
      record.createdAt,
      record.updatedAt,
      timestampMs(record.createdAt),
      ...(record.record === undefined ? [] : ['record', record.record ? '1' : '0']),
      ...(record.visibility === undefined ? [] : ['visibility', record.visibility]),
    );
    if (result === 1) throw new ConflictError(`stream ${record.id} already exists`);
    if (result === 2) throw new ConflictError('a stream with this key already exists');
  }

  async getStream(id: string): Promise<StreamRecord | undefined> {
    this.#assertOpen();
    return toStreamRecord(await this.#redis.hgetall(this.#streamKey(id)));
  }

  async listStreams(): Promise<StreamRecord[]> {
    this.#assertOpen();
    const ids = await this.#redis.zrange(this.#listKey(), 0, '-1');
    if (ids.length === 0) return [];
    const pipeline = this.#redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.#streamKey(id));
    const replies = (await pipeline.exec()) ?? [];
    const records: StreamRecord[] = [];
    for (const [error, value] of replies) {
      if (error) throw error;
      // A stream deleted between the two round trips simply drops out of the list.
      const record = toStreamRecord(value);
      if (record) records.push(record);
    }
    return records;
  }

  async findStreamByKeyHash(keyHash: string): Promise<StreamRecord | undefined> {
    this.#assertOpen();
    const id = await this.#redis.get(this.#indexKey(keyHash));
    if (id === null) return undefined;
    const record = await this.getStream(id);
    // The key may have been rotated between the two round trips; the record is the truth.
    return record?.keyHash === keyHash ? record : undefined;
  }

  async rotateStreamKey(id: string, newKeyHash: string): Promise<StreamRecord | undefined> {
    this.#assertOpen();
    if (typeof newKeyHash !== 'string' || newKeyHash === '') {
      throw new TypeError('newKeyHash must be a non-empty string');
    }
    const result = await this.#redis.wispRotateStreamKey(
      this.#streamKey(id),
      this.#indexKey(newKeyHash),
      id,
      newKeyHash,
      new Date().toISOString(),
      this.#indexKey(''),
    );
    if (result === 0) return undefined;
    if (result === -1) throw new ConflictError('a stream with this key already exists');
    if (!Array.isArray(result)) throw new Error(`unexpected reply from rotate script: ${result}`);
    return toStreamRecord(pairs(result));
  }

  async updateStream(id: string, changes: StreamChanges): Promise<StreamRecord | undefined> {
    this.#assertOpen();
    // Validates the changes the way the embedded store does.
    const checked = applyStreamChanges(
      { id, name: 'x', keyHash: 'x', createdAt: '', updatedAt: '' },
      changes,
    );
    const record =
      changes.record === null
        ? '-'
        : changes.record === undefined
          ? ''
          : changes.record
            ? '1'
            : '0';
    const result = await this.#redis.wispUpdateStream(
      this.#streamKey(id),
      changes.name === undefined ? '' : checked.name,
      checked.updatedAt,
      record,
      changes.visibility ?? '',
    );
    if (result === 0) return undefined;
    if (!Array.isArray(result)) throw new Error(`unexpected reply from update script: ${result}`);
    return toStreamRecord(pairs(result));
  }

  async createRecording(record: RecordingRecord): Promise<void> {
    this.#assertOpen();
    assertRecordingRecord(record);
    if ((await this.#putRecording(record, 'create')) === 0) {
      throw new ConflictError(`recording ${record.id} already exists`);
    }
  }

  async getRecording(id: string): Promise<RecordingRecord | undefined> {
    this.#assertOpen();
    return parseRecording(await this.#redis.get(this.#recordingKey(id)));
  }

  async listRecordings(streamId: string): Promise<RecordingRecord[]> {
    this.#assertOpen();
    const ids = await this.#redis.zrange(this.#recordingIndexKey(streamId), 0, '-1');
    return (await this.#getRecordings(ids)).sort(compareRecordingsNewestFirst);
  }

  async listUnfinishedRecordings(): Promise<RecordingRecord[]> {
    this.#assertOpen();
    const ids = await this.#redis.smembers(this.#unfinishedKey());
    return (await this.#getRecordings(ids)).sort(compareRecordingsNewestFirst);
  }

  async updateRecording(
    id: string,
    changes: RecordingChanges,
  ): Promise<RecordingRecord | undefined> {
    this.#assertOpen();
    // One writer per recording (its recorder); the script refuses to resurrect a deleted one.
    const current = await this.getRecording(id);
    if (!current) return undefined;
    const updated = { ...current, ...changes, updatedAt: new Date().toISOString() };
    assertRecordingRecord(updated);
    return (await this.#putRecording(updated, 'update')) === 0 ? undefined : updated;
  }

  async deleteRecording(id: string): Promise<boolean> {
    this.#assertOpen();
    const result = await this.#redis.wispDeleteRecording(
      this.#recordingKey(id),
      this.#unfinishedKey(),
      id,
      this.#recordingIndexKey(''),
    );
    return result === 1;
  }

  #putRecording(record: RecordingRecord, mode: 'create' | 'update'): Promise<number> {
    return this.#redis.wispPutRecording(
      this.#recordingKey(record.id),
      this.#unfinishedKey(),
      record.id,
      JSON.stringify(record),
      isUnfinished(record) ? '1' : '0',
      mode,
      timestampMs(record.startedAt),
      ...record.streamIds.map((streamId) => this.#recordingIndexKey(streamId)),
    );
  }

  async #getRecordings(ids: string[]): Promise<RecordingRecord[]> {
    if (ids.length === 0) return [];
    const values = await this.#redis.mget(ids.map((id) => this.#recordingKey(id)));
    // A recording deleted between the two round trips simply drops out of the list.
    return values.map(parseRecording).filter((r): r is RecordingRecord => r !== undefined);
  }

  async deleteStream(id: string): Promise<boolean> {
    this.#assertOpen();
    const result = await this.#redis.wispDeleteStream(
      this.#streamKey(id),
      this.#listKey(),
      id,
      this.#indexKey(''),
    );
    return result === 1;
  }

  ping(timeoutMs: number): Promise<boolean> {
    return this.#closing ? Promise.resolve(false) : pingRedis(this.#redis, timeoutMs);
  }

  async enqueueWebhook(event: WebhookEvent, targets: readonly string[]): Promise<boolean> {
    this.#assertOpen();
    assertWebhookEvent(event);
    const unique = [...new Set(targets)];
    const result = await this.#redis.wispEnqueueWebhook(
      `${this.#prefix}webhook:event:${event.id}`,
      this.#dueKey(),
      this.#prefix,
      event.id,
      JSON.stringify(event),
      Date.now(),
      unique.length,
      ...unique.flatMap((target) => [
        webhookQueueId(target, event.data.streamId),
        target,
        event.data.streamId,
      ]),
    );
    return result === 1;
  }

  async claimWebhookDeliveries(options: {
    now: number;
    limit: number;
    leaseMs: number;
  }): Promise<WebhookDelivery[]> {
    this.#assertOpen();
    if (options.limit <= 0) return [];
    const rows = await this.#redis.wispClaimWebhooks(
      this.#dueKey(),
      this.#prefix,
      options.now,
      options.limit,
      options.now + options.leaseMs,
      randomUUID(),
    );
    const deliveries: WebhookDelivery[] = [];
    for (const [queue, target, json, attempts, lastError, lease] of rows) {
      const event = parseJson(json, toWebhookEvent);
      if (!event) {
        this.#log.error({ queue }, 'unreadable webhook event skipped');
        continue;
      }
      deliveries.push({
        queue,
        target,
        event,
        attempts: Number(attempts) || 0,
        ...(lastError ? { lastError } : {}),
        lease,
      });
    }
    return deliveries;
  }

  async completeWebhookDelivery(
    delivery: WebhookDelivery,
    outcome: WebhookOutcome,
  ): Promise<boolean> {
    this.#assertOpen();
    const now = Date.now();
    const dead: DeadWebhook | undefined =
      outcome.kind === 'dead'
        ? {
            target: delivery.target,
            event: delivery.event,
            attempts: delivery.attempts + 1,
            error: outcome.error,
            deadAt: new Date(now).toISOString(),
          }
        : undefined;
    const result = await this.#redis.wispCompleteWebhook(
      this.#dueKey(),
      `${this.#prefix}webhook:dead`,
      this.#prefix,
      delivery.queue,
      delivery.lease,
      delivery.event.id,
      outcome.kind,
      outcome.kind === 'retry' ? outcome.retryAt : 0,
      outcome.kind === 'delivered' ? '' : outcome.error,
      now,
      dead ? JSON.stringify(dead) : '',
      MAX_DEAD_WEBHOOKS,
    );
    return result === 1;
  }

  async listDeadWebhooks(limit = 100): Promise<DeadWebhook[]> {
    this.#assertOpen();
    const rows = await this.#redis.lrange(`${this.#prefix}webhook:dead`, 0, limit - 1);
    return rows
      .map((row) => parseJson(row, toDeadWebhook))
      .filter((d): d is DeadWebhook => d !== undefined);
  }

  async webhookOutboxStats(): Promise<WebhookOutboxStats> {
    this.#assertOpen();
    const queues = await this.#redis.zrange(this.#dueKey(), 0, '-1');
    const pipeline = this.#redis.pipeline();
    for (const qid of queues) pipeline.llen(`${this.#prefix}webhook:queue:${qid}`);
    pipeline.llen(`${this.#prefix}webhook:dead`);
    const replies = (await pipeline.exec()) ?? [];
    const counts = replies.map(([error, value]) => {
      if (error) throw error;
      return Number(value);
    });
    const dead = counts.pop() ?? 0;
    return { pending: counts.reduce((a, b) => a + b, 0), dead };
  }

  /** Quits the connection (waiting for pending replies). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#quit();
    return this.#closing;
  }

  async #quit(): Promise<void> {
    try {
      // Without a live connection, QUIT would only wait in the offline queue: just drop it.
      if (this.#redis.status === 'ready') await this.#redis.quit();
      else this.#redis.disconnect();
    } catch {
      // The connection is already gone (or going); make sure it stays that way.
      this.#redis.disconnect();
    }
    this.#log.info('redis state store closed');
  }

  #assertOpen(): void {
    if (this.#closing) throw new InvalidStateError('RedisStateStore is closed');
  }

  #streamKey(id: string): string {
    return `${this.#prefix}stream:${id}`;
  }

  #indexKey(keyHash: string): string {
    return `${this.#prefix}streamkey:${keyHash}`;
  }

  #listKey(): string {
    return `${this.#prefix}streams`;
  }

  #recordingKey(id: string): string {
    return `${this.#prefix}recording:${id}`;
  }

  #recordingIndexKey(streamId: string): string {
    return `${this.#prefix}recordings:${streamId}`;
  }

  #unfinishedKey(): string {
    return `${this.#prefix}recordings-unfinished`;
  }

  #dueKey(): string {
    return `${this.#prefix}webhook:due`;
  }
}

function pairs(flat: string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]] = flat[i + 1];
  return fields;
}

function parseRecording(json: string | null): RecordingRecord | undefined {
  if (json === null) return undefined;
  try {
    return toRecordingRecord(JSON.parse(json));
  } catch {
    return undefined;
  }
}

function parseJson<T>(json: string, convert: (value: unknown) => T | undefined): T | undefined {
  try {
    return convert(JSON.parse(json));
  } catch {
    return undefined;
  }
}

function toDeadWebhook(value: unknown): DeadWebhook | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const event = toWebhookEvent(v.event);
  if (!event || typeof v.target !== 'string' || typeof v.error !== 'string') return undefined;
  return {
    target: v.target,
    event,
    attempts: typeof v.attempts === 'number' ? v.attempts : 0,
    error: v.error,
    deadAt: typeof v.deadAt === 'string' ? v.deadAt : '',
  };
}
