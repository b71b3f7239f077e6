import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashStreamKey } from '../../src/keys.ts';
import { createStateStore } from '../../src/store/index.ts';
import { RedisStateStore } from '../../src/store/RedisStateStore.ts';
import { startRedisServer, type RunningRedisServer } from '../support/redisServer.ts';
import { describeStateStore, makeRecord, makeWebhookEvent } from '../support/storeSuite.ts';
import { configureLogging } from '../../src/logger.ts';

configureLogging('warn');

let server: RunningRedisServer;

beforeAll(async () => {
  server = await startRedisServer();
});

afterAll(async () => {
  await server?.stop();
});

function uniquePrefix(): string {
  return `test:${randomUUID()}:`;
}

let currentPrefix = '';
describeStateStore('RedisStateStore', {
  create() {
    currentPrefix = uniquePrefix();
    return RedisStateStore.create({ url: server.url, prefix: currentPrefix });
  },
  reopen: () => RedisStateStore.create({ url: server.url, prefix: currentPrefix }),
});

describe('RedisStateStore on Redis', () => {
  it('uses the documented key layout', async () => {
    const prefix = uniquePrefix();
    const store = await RedisStateStore.create({ url: server.url, prefix });
    const redis = new Redis(server.url);
    try {
      const record = makeRecord();
      await store.createStream(record);
      expect((await redis.keys(`${prefix}*`)).sort()).toEqual(
        [
          `${prefix}stream:${record.id}`,
          `${prefix}streamkey:${record.keyHash}`,
          `${prefix}streams`,
        ].sort(),
      );
      expect(await redis.hgetall(`${prefix}stream:${record.id}`)).toEqual({ ...record });
      expect(await redis.get(`${prefix}streamkey:${record.keyHash}`)).toBe(record.id);
      expect(await redis.zrange(`${prefix}streams`, 0, '-1', 'WITHSCORES')).toEqual([
        record.id,
        String(Date.parse(record.createdAt)),
      ]);

      const newHash = hashStreamKey('rotated');
      await store.rotateStreamKey(record.id, newHash);
      expect(await redis.exists(`${prefix}streamkey:${record.keyHash}`)).toBe(0);
      expect(await redis.get(`${prefix}streamkey:${newHash}`)).toBe(record.id);

      await store.deleteStream(record.id);
      expect(await redis.keys(`${prefix}*`)).toEqual([]);
    } finally {
      redis.disconnect();
      await store.close();
    }
  });

  it('keeps the webhook outbox in its documented keys and leaves none once delivered', async () => {
    const prefix = uniquePrefix();
    const store = await RedisStateStore.create({ url: server.url, prefix });
    const redis = new Redis(server.url);
    try {
      const event = makeWebhookEvent('s1');
      await store.enqueueWebhook(event, ['http://127.0.0.1:9/hook']);
      const keys = (await redis.keys(`${prefix}*`)).sort();
      expect(
        keys.map((k) => k.slice(prefix.length).replace(/:[0-9a-f]{16}:/, ':<target>:')),
      ).toEqual([
        `webhook:due`,
        `webhook:event:${event.id}`,
        `webhook:q:<target>:s1`,
        `webhook:queue:<target>:s1`,
      ]);
      expect(JSON.parse((await redis.hget(`${prefix}webhook:event:${event.id}`, 'json'))!)).toEqual(
        event,
      );
      const [delivery] = await store.claimWebhookDeliveries({
        now: Date.now() + 1,
        limit: 1,
        leaseMs: 1000,
      });
      await store.completeWebhookDelivery(delivery, { kind: 'delivered' });
      expect(await redis.keys(`${prefix}*`)).toEqual([]);
    } finally {
      redis.disconnect();
      await store.close();
    }
  });

  it('keeps different prefixes apart', async () => {
    const [a, b] = await Promise.all([
      RedisStateStore.create({ url: server.url, prefix: uniquePrefix() }),
      RedisStateStore.create({ url: server.url, prefix: uniquePrefix() }),
    ]);
    const record = makeRecord();
    await a.createStream(record);
    expect(await b.getStream(record.id)).toBeUndefined();
    await b.createStream(record);
    await Promise.all([a.close(), b.close()]);
  });

  it('fails fast with a clear error when Redis is unreachable', async () => {
    const down = await startRedisServer();
    await down.stop();
    const started = Date.now();
    await expect(
      RedisStateStore.create({ url: down.url, prefix: uniquePrefix(), connectTimeoutMs: 2000 }),
    ).rejects.toThrow(`cannot connect to Redis at ${down.url}`);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('masks credentials in the connection error', async () => {
    const down = await startRedisServer();
    await down.stop();
    const url = `redis://user:s3cret@127.0.0.1:${down.port}`;
    const error: unknown = await RedisStateStore.create({ url, prefix: 'x:' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain('redis://***@127.0.0.1');
    expect((error as Error).message).not.toContain('s3cret');
  });

  it('is what createStateStore picks for the redis kind', async () => {
    const store = await createStateStore({
      store: { kind: 'redis', redisUrl: server.url, redisPrefix: uniquePrefix() },
      dataDir: '/nonexistent',
    });
    expect(store).toBeInstanceOf(RedisStateStore);
    await store.close();
  });
});
