import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectRedisCluster,
  createCluster,
  RedisControlBus,
  RedisNodeRegistry,
  RedisStreamRegistry,
  type Cluster,
  type ControlEvent,
} from '../../src/cluster/index.ts';
import { configureLogging } from '../../src/logger.ts';
import { describeCluster, makeNode, sleep, waitFor } from '../support/clusterSuite.ts';
import { startRedisServer, type RunningRedisServer } from '../support/redisServer.ts';
import { startRestartableRedis } from '../support/restartableRedis.ts';

configureLogging('silent');

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
describeCluster('redis', {
  create() {
    currentPrefix = uniquePrefix();
    return createCluster({ kind: 'redis', url: server.url, prefix: currentPrefix });
  },
  second: () => createCluster({ kind: 'redis', url: server.url, prefix: currentPrefix }),
});

describe('redis cluster on Redis', () => {
  it('is what createCluster picks for the redis kind', async () => {
    const cluster = await createCluster({ kind: 'redis', url: server.url, prefix: uniquePrefix() });
    expect(cluster.nodes).toBeInstanceOf(RedisNodeRegistry);
    expect(cluster.streams).toBeInstanceOf(RedisStreamRegistry);
    expect(cluster.bus).toBeInstanceOf(RedisControlBus);
    await cluster.close();
    await cluster.close();
  });

  it('uses the documented key layout', async () => {
    const prefix = uniquePrefix();
    const cluster = await connectRedisCluster({ url: server.url, prefix });
    const redis = new Redis(server.url);
    const sub = new Redis(server.url);
    try {
      const node = makeNode('node-a');
      await cluster.nodes.heartbeat(node, 10_000);
      const owner = await cluster.streams.claim('s1', 'node-a', 10_000);
      await cluster.streams.putCopy(
        's1',
        { node: 'edge-a', parent: 'node-a', viewers: 4, hops: 1 },
        8000,
      );
      expect((await redis.keys(`${prefix}*`)).sort()).toEqual(
        [
          `${prefix}live`,
          `${prefix}node:node-a`,
          `${prefix}nodes`,
          `${prefix}stream:s1:copies`,
          `${prefix}stream:s1:epoch`,
          `${prefix}stream:s1:src`,
        ].sort(),
      );

      const stored = JSON.parse((await redis.get(`${prefix}node:node-a`))!);
      expect(stored).toEqual({ ...node, lastSeen: expect.any(Number) });
      expect(await redis.pttl(`${prefix}node:node-a`)).toBeGreaterThan(9000);
      expect(await redis.zrange(`${prefix}nodes`, 0, '-1', 'WITHSCORES')).toEqual([
        'node-a',
        String(stored.lastSeen),
      ]);

      expect(JSON.parse((await redis.get(`${prefix}stream:s1:src`))!)).toEqual(owner);
      expect(await redis.pttl(`${prefix}stream:s1:src`)).toBeGreaterThan(9000);
      expect(await redis.get(`${prefix}stream:s1:epoch`)).toBe(String(owner.epoch));
      expect(await redis.pttl(`${prefix}stream:s1:epoch`)).toBe(-1);
      expect(await redis.smembers(`${prefix}live`)).toEqual(['s1']);

      const copy = JSON.parse((await redis.hget(`${prefix}stream:s1:copies`, 'edge-a'))!);
      expect(copy).toEqual({
        parent: 'node-a',
        viewers: 4,
        hops: 1,
        expiresAt: expect.any(Number),
      });
      expect(copy.expiresAt).toBeGreaterThan(Date.now() + 7000);
      const copiesTtl = await redis.pttl(`${prefix}stream:s1:copies`);
      expect(copiesTtl).toBeGreaterThan(7000);
      expect(copiesTtl).toBeLessThanOrEqual(8000);
      // A longer ttl stretches the hash's expiry; a shorter one leaves it alone.
      await cluster.streams.putCopy(
        's1',
        { node: 'edge-b', parent: 'node-a', viewers: 0, hops: 1 },
        20_000,
      );
      await cluster.streams.putCopy(
        's1',
        { node: 'edge-c', parent: 'node-a', viewers: 0, hops: 1 },
        1000,
      );
      expect(await redis.pttl(`${prefix}stream:s1:copies`)).toBeGreaterThan(19_000);

      const received: string[] = [];
      sub.on('message', (channel: string, message: string) => received.push(channel, message));
      await sub.subscribe(`${prefix}events`);
      const event: ControlEvent = { type: 'keyRotated', streamId: 's1' };
      await cluster.bus.publish(event);
      await waitFor(() => received.length === 2);
      expect(received[0]).toBe(`${prefix}events`);
      expect(JSON.parse(received[1])).toEqual(event);

      await cluster.streams.release('s1', owner);
      await cluster.nodes.remove('node-a');
      await cluster.streams.removeCopy('s1', 'edge-a');
      await cluster.streams.removeCopy('s1', 'edge-b');
      await cluster.streams.removeCopy('s1', 'edge-c');
      // Only the epoch counter stays, so a later claim still goes up.
      expect(await redis.keys(`${prefix}*`)).toEqual([`${prefix}stream:s1:epoch`]);
    } finally {
      redis.disconnect();
      sub.disconnect();
      await cluster.close();
    }
  });

  it('prunes index entries whose keys have expired', async () => {
    const prefix = uniquePrefix();
    const cluster = await connectRedisCluster({ url: server.url, prefix });
    const redis = new Redis(server.url);
    try {
      await cluster.nodes.heartbeat(makeNode('node-a'), 100);
      await cluster.streams.claim('s1', 'node-a', 100);
      await cluster.streams.putCopy(
        's1',
        { node: 'edge-a', parent: 'node-a', viewers: 0, hops: 1 },
        100,
      );
      await cluster.streams.putCopy(
        's1',
        { node: 'edge-b', parent: 'node-a', viewers: 0, hops: 1 },
        5000,
      );
      await sleep(200);
      expect(await redis.zcard(`${prefix}nodes`)).toBe(1);
      expect(await cluster.nodes.list()).toEqual([]);
      expect(await redis.zcard(`${prefix}nodes`)).toBe(0);
      expect(await cluster.streams.owners()).toEqual(new Map());
      expect(await redis.scard(`${prefix}live`)).toBe(0);
      expect((await cluster.streams.copies('s1')).map((c) => c.node)).toEqual(['edge-b']);
      expect(await redis.hkeys(`${prefix}stream:s1:copies`)).toEqual(['edge-b']);
    } finally {
      redis.disconnect();
      await cluster.close();
    }
  });

  it('ignores malformed data and messages instead of throwing', async () => {
    const prefix = uniquePrefix();
    const cluster = await connectRedisCluster({ url: server.url, prefix });
    const redis = new Redis(server.url);
    try {
      await redis.set(`${prefix}node:bad`, 'not json');
      await redis.zadd(`${prefix}nodes`, Date.now(), 'bad');
      expect(await cluster.nodes.get('bad')).toBeUndefined();
      expect(await cluster.nodes.list()).toEqual([]);
      const events: ControlEvent[] = [];
      cluster.bus.subscribe((event) => events.push(event));
      await redis.publish(`${prefix}events`, '{"type":"bogus"}');
      await redis.publish(`${prefix}events`, 'garbage');
      await cluster.bus.publish({ type: 'streamDeleted', streamId: 's1' });
      await waitFor(() => events.length === 1);
      expect(events).toEqual([{ type: 'streamDeleted', streamId: 's1' }]);
    } finally {
      redis.disconnect();
      await cluster.close();
    }
  });

  it('keeps subscriptions and data through a redis-server restart', async () => {
    const restartable = await startRestartableRedis();
    const prefix = uniquePrefix();
    const options = { url: restartable.url, prefix, maxReconnectDelayMs: 100 };
    const clusters: Cluster[] = [];
    const probe = new Redis(restartable.url, { maxRetriesPerRequest: null });
    probe.on('error', () => undefined);
    try {
      const a = await connectRedisCluster(options);
      clusters.push(a);
      const b = await connectRedisCluster(options);
      clusters.push(b);
      const onA: ControlEvent[] = [];
      const onB: ControlEvent[] = [];
      a.bus.subscribe((event) => onA.push(event));
      b.bus.subscribe((event) => onB.push(event));
      await a.nodes.heartbeat(makeNode('node-a'), 60_000);
      const before = await a.streams.claim('s1', 'node-a', 60_000);

      await restartable.restart({ downMs: 300 });

      // Both subscriber connections subscribe again by themselves.
      await waitFor(
        async () => {
          const [, count] = (await probe.pubsub('NUMSUB', `${prefix}events`)) as [string, number];
          return count === 2;
        },
        10_000,
        'both buses to resubscribe',
      );
      const event: ControlEvent = { type: 'keyRotated', streamId: 's1' };
      await waitFor(
        async () => {
          try {
            await b.nodes.heartbeat(makeNode('node-b'), 60_000);
            return true;
          } catch {
            return false;
          }
        },
        10_000,
        'the command connection to come back',
      );
      await b.bus.publish(event);
      await waitFor(() => onA.length === 1 && onB.length === 1, 5000, 'the event');
      expect(onA).toEqual([event]);
      expect(onB).toEqual([event]);

      // The data survived (append-only file), and heartbeats keep working.
      expect(await a.nodes.get('node-a')).toBeDefined();
      await a.nodes.heartbeat(makeNode('node-a'), 60_000);
      expect((await b.nodes.list()).map((n) => n.id)).toEqual(['node-a', 'node-b']);
      expect(await b.streams.owner('s1')).toEqual(before);
      expect(await a.streams.refresh('s1', before, 60_000)).toBe(true);
      const after = await b.streams.claim('s1', 'node-b', 60_000);
      expect(after.epoch).toBeGreaterThan(before.epoch);
    } finally {
      probe.disconnect();
      await Promise.all(clusters.map((cluster) => cluster.close()));
      await restartable.stop();
    }
  });

  it('fails fast with a clear error when Redis is unreachable', async () => {
    const down = await startRedisServer();
    await down.stop();
    const started = Date.now();
    await expect(
      createCluster({
        kind: 'redis',
        url: down.url,
        prefix: uniquePrefix(),
        connectTimeoutMs: 2000,
      }),
    ).rejects.toThrow(`cannot connect to Redis at ${down.url}`);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('masks credentials in the connection error', async () => {
    const down = await startRedisServer();
    await down.stop();
    const url = `redis://user:s3cret@127.0.0.1:${down.port}`;
    const error: unknown = await connectRedisCluster({ url, prefix: 'x:' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain('redis://***@127.0.0.1');
    expect((error as Error).message).not.toContain('s3cret');
  });
});
