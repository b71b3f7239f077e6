/**
 * The one test suite of the cluster services (node registry, stream registry, control bus).
 * Every backend runs it (cluster.embedded.test.ts, cluster.redis.test.ts), so they cannot
 * drift apart in behaviour. TTLs are short and the waits real, so expiry is tested as it
 * happens in production.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Cluster, ControlEvent, NodeRecord } from '../../src/cluster/index.ts';

export interface ClusterFactory {
  /** Fresh cluster services on new, empty data (a new key prefix, a new in-memory state). */
  create(): Promise<Cluster>;
  /** Other cluster services on the same data as the last `create()`: a second process. */
  second(): Promise<Cluster>;
}

/** A node record (without lastSeen) with sensible defaults. */
export function makeNode(
  id: string,
  overrides: Partial<Omit<NodeRecord, 'lastSeen'>> = {},
): Omit<NodeRecord, 'lastSeen'> {
  return {
    id,
    roles: ['ingest', 'edge'],
    url: `https://${id}.example.com`,
    internalUrl: `http://${id}.internal:8080`,
    region: 'eu',
    state: 'serving',
    pid: 4242,
    load: { viewers: 0, streams: 0, egressKbps: 0, cpu: 0 },
    ...overrides,
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true, failing after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Collects the events a handler receives. */
function recorder(): { events: ControlEvent[]; handler: (event: ControlEvent) => void } {
  const events: ControlEvent[] = [];
  return { events, handler: (event) => events.push(event) };
}

const TTL = 300;
/** Comfortably past TTL, for timer and network jitter. */
const EXPIRED = TTL + 200;

export function describeCluster(name: string, factory: ClusterFactory): void {
  describe(`Cluster contract: ${name}`, () => {
    const opened: Cluster[] = [];

    async function fresh(): Promise<Cluster> {
      const cluster = await factory.create();
      opened.push(cluster);
      return cluster;
    }

    async function second(): Promise<Cluster> {
      const cluster = await factory.second();
      opened.push(cluster);
      return cluster;
    }

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((cluster) => cluster.close()));
    });

    describe('NodeRegistry', () => {
      it('starts empty', async () => {
        const { nodes } = await fresh();
        expect(await nodes.list()).toEqual([]);
        expect(await nodes.get('nobody')).toBeUndefined();
      });

      it('registers a node, stamping lastSeen', async () => {
        const { nodes } = await fresh();
        const before = Date.now();
        const node = makeNode('node-a', {
          relay: true,
          load: { viewers: 3, streams: 1, egressKbps: 9, cpu: 0.5 },
        });
        await nodes.heartbeat(node, 10_000);
        const got = await nodes.get('node-a');
        expect(got).toEqual({ ...node, lastSeen: expect.any(Number) });
        expect(got!.lastSeen).toBeGreaterThanOrEqual(before);
        expect(got!.lastSeen).toBeLessThanOrEqual(Date.now());
      });

      it('returns copies, not live references', async () => {
        const { nodes } = await fresh();
        const node = makeNode('node-a');
        await nodes.heartbeat(node, 10_000);
        node.roles.push('control');
        node.load.viewers = 99;
        const got = (await nodes.get('node-a'))!;
        expect(got.roles).toEqual(['ingest', 'edge']);
        got.load.viewers = 7;
        expect((await nodes.get('node-a'))!.load.viewers).toBe(0);
      });

      it('lists live nodes sorted by id, optionally by role', async () => {
        const { nodes } = await fresh();
        await nodes.heartbeat(makeNode('node-c', { roles: ['edge'] }), 10_000);
        await nodes.heartbeat(makeNode('node-a', { roles: ['ingest'] }), 10_000);
        await nodes.heartbeat(makeNode('node-b', { roles: ['edge', 'egress'] }), 10_000);
        expect((await nodes.list()).map((n) => n.id)).toEqual(['node-a', 'node-b', 'node-c']);
        expect((await nodes.list('edge')).map((n) => n.id)).toEqual(['node-b', 'node-c']);
        expect((await nodes.list('ingest')).map((n) => n.id)).toEqual(['node-a']);
        expect(await nodes.list('recorder')).toEqual([]);
      });

      it('a heartbeat replaces the record and its lastSeen', async () => {
        const { nodes } = await fresh();
        await nodes.heartbeat(makeNode('node-a'), 10_000);
        const first = (await nodes.get('node-a'))!;
        await sleep(20);
        await nodes.heartbeat(makeNode('node-a', { state: 'draining' }), 10_000);
        const next = (await nodes.get('node-a'))!;
        expect(next.state).toBe('draining');
        expect(next.lastSeen).toBeGreaterThan(first.lastSeen);
        expect(await nodes.list()).toHaveLength(1);
      });

      it('forgets a node that stops heartbeating', async () => {
        const { nodes } = await fresh();
        await nodes.heartbeat(makeNode('node-a'), TTL);
        await nodes.heartbeat(makeNode('node-b'), 10_000);
        await sleep(EXPIRED);
        expect(await nodes.get('node-a')).toBeUndefined();
        expect((await nodes.list()).map((n) => n.id)).toEqual(['node-b']);
      });

      it('keeps a heartbeating node alive past its first ttl', async () => {
        const { nodes } = await fresh();
        await nodes.heartbeat(makeNode('node-a'), TTL);
        for (let i = 0; i < 4; i++) {
          await sleep(TTL / 2);
          await nodes.heartbeat(makeNode('node-a'), TTL);
        }
        expect(await nodes.get('node-a')).toBeDefined();
        expect(await nodes.list()).toHaveLength(1);
        await sleep(EXPIRED);
        expect(await nodes.list()).toEqual([]);
      });

      it('comes back after expiry with a new heartbeat', async () => {
        const { nodes } = await fresh();
        await nodes.heartbeat(makeNode('node-a'), TTL);
        await sleep(EXPIRED);
        expect(await nodes.list()).toEqual([]);
        await nodes.heartbeat(makeNode('node-a'), TTL);
        expect((await nodes.list()).map((n) => n.id)).toEqual(['node-a']);
      });

      it('removes a node at once', async () => {
        const { nodes } = await fresh();
        await nodes.heartbeat(makeNode('node-a'), 10_000);
        await nodes.heartbeat(makeNode('node-b'), 10_000);
        await nodes.remove('node-a');
        await nodes.remove('never-registered');
        expect(await nodes.get('node-a')).toBeUndefined();
        expect((await nodes.list()).map((n) => n.id)).toEqual(['node-b']);
      });

      it('is shared with another process', async () => {
        const a = await fresh();
        const b = await second();
        await a.nodes.heartbeat(makeNode('node-a'), 10_000);
        await b.nodes.heartbeat(makeNode('node-b'), 10_000);
        expect((await b.nodes.list()).map((n) => n.id)).toEqual(['node-a', 'node-b']);
        await b.nodes.remove('node-a');
        expect((await a.nodes.list()).map((n) => n.id)).toEqual(['node-b']);
      });

      it('rejects a bad ttl or id', async () => {
        const { nodes } = await fresh();
        await expect(nodes.heartbeat(makeNode('node-a'), 0)).rejects.toThrow(TypeError);
        await expect(nodes.heartbeat(makeNode('node-a'), 1.5)).rejects.toThrow(TypeError);
        await expect(nodes.heartbeat(makeNode(''), 1000)).rejects.toThrow(TypeError);
      });
    });

    describe('StreamRegistry ownership', () => {
      it('has no owner before a claim', async () => {
        const { streams } = await fresh();
        expect(await streams.owner('s1')).toBeUndefined();
        expect(await streams.owners()).toEqual(new Map());
      });

      it('gives strictly increasing epochs', async () => {
        const { streams } = await fresh();
        const first = await streams.claim('s1', 'node-a', 10_000);
        expect(first).toEqual({ node: 'node-a', epoch: expect.any(Number) });
        expect(await streams.owner('s1')).toEqual(first);
        const again = await streams.claim('s1', 'node-a', 10_000);
        expect(again.epoch).toBeGreaterThan(first.epoch);
        expect(await streams.owner('s1')).toEqual(again);
      });

      it('keeps epochs of different streams apart', async () => {
        const { streams } = await fresh();
        const a = await streams.claim('s1', 'node-a', 10_000);
        await streams.claim('s1', 'node-a', 10_000);
        const b = await streams.claim('s2', 'node-a', 10_000);
        expect(b.epoch).toBe(a.epoch);
      });

      it('a takeover supersedes the old owner', async () => {
        const { streams } = await fresh();
        const old = await streams.claim('s1', 'node-a', 10_000);
        const next = await streams.claim('s1', 'node-b', 10_000);
        expect(next).toEqual({ node: 'node-b', epoch: expect.any(Number) });
        expect(next.epoch).toBeGreaterThan(old.epoch);
        expect(await streams.refresh('s1', old, 10_000)).toBe(false);
        expect(await streams.release('s1', old)).toBe(false);
        expect(await streams.owner('s1')).toEqual(next);
      });

      it('compares the epoch, not only the node', async () => {
        const { streams } = await fresh();
        const old = await streams.claim('s1', 'node-a', 10_000);
        const next = await streams.claim('s1', 'node-a', 10_000);
        expect(await streams.refresh('s1', old, 10_000)).toBe(false);
        expect(await streams.release('s1', old)).toBe(false);
        expect(await streams.refresh('s1', next, 10_000)).toBe(true);
        expect(await streams.owner('s1')).toEqual(next);
      });

      it('a takeover from another process supersedes too', async () => {
        const a = await fresh();
        const b = await second();
        const old = await a.streams.claim('s1', 'node-a', 10_000);
        const next = await b.streams.claim('s1', 'node-b', 10_000);
        expect(next.epoch).toBeGreaterThan(old.epoch);
        expect(await a.streams.refresh('s1', old, 10_000)).toBe(false);
        expect(await a.streams.owner('s1')).toEqual(next);
      });

      it('releases only the current owner', async () => {
        const { streams } = await fresh();
        const owner = await streams.claim('s1', 'node-a', 10_000);
        expect(await streams.release('s1', { node: 'node-b', epoch: owner.epoch })).toBe(false);
        expect(await streams.release('s1', owner)).toBe(true);
        expect(await streams.owner('s1')).toBeUndefined();
        expect(await streams.release('s1', owner)).toBe(false);
        expect(await streams.refresh('s1', owner, 10_000)).toBe(false);
        expect(await streams.owners()).toEqual(new Map());
      });

      it('expires an owner that stops refreshing', async () => {
        const { streams } = await fresh();
        const owner = await streams.claim('s1', 'node-a', TTL);
        await sleep(EXPIRED);
        expect(await streams.owner('s1')).toBeUndefined();
        expect(await streams.refresh('s1', owner, TTL)).toBe(false);
        expect(await streams.release('s1', owner)).toBe(false);
        expect(await streams.owners()).toEqual(new Map());
      });

      it('a claim after expiry still gets a higher epoch', async () => {
        const { streams } = await fresh();
        const old = await streams.claim('s1', 'node-a', TTL);
        await sleep(EXPIRED);
        const next = await streams.claim('s1', 'node-b', TTL);
        expect(next.epoch).toBeGreaterThan(old.epoch);
      });

      it('refresh keeps the owner alive', async () => {
        const { streams } = await fresh();
        const owner = await streams.claim('s1', 'node-a', TTL);
        for (let i = 0; i < 4; i++) {
          await sleep(TTL / 2);
          expect(await streams.refresh('s1', owner, TTL)).toBe(true);
        }
        expect(await streams.owner('s1')).toEqual(owner);
        await sleep(EXPIRED);
        expect(await streams.owner('s1')).toBeUndefined();
      });

      it('lists live owners by stream id', async () => {
        const { streams } = await fresh();
        const b = await streams.claim('s-b', 'node-b', 10_000);
        const a = await streams.claim('s-a', 'node-a', 10_000);
        const gone = await streams.claim('s-c', 'node-a', 10_000);
        await streams.claim('s-d', 'node-a', TTL);
        await streams.release('s-c', gone);
        await sleep(EXPIRED);
        const owners = await streams.owners();
        expect(owners).toEqual(
          new Map([
            ['s-a', a],
            ['s-b', b],
          ]),
        );
        expect([...owners.keys()]).toEqual(['s-a', 's-b']);
        // A stream that expired can be claimed again and is listed again.
        const back = await streams.claim('s-d', 'node-b', 10_000);
        expect((await streams.owners()).get('s-d')).toEqual(back);
      });

      it('rejects a bad ttl or id', async () => {
        const { streams } = await fresh();
        await expect(streams.claim('s1', 'node-a', 0)).rejects.toThrow(TypeError);
        await expect(streams.claim('', 'node-a', 1000)).rejects.toThrow(TypeError);
        await expect(streams.claim('s1', '', 1000)).rejects.toThrow(TypeError);
        const owner = await streams.claim('s1', 'node-a', 10_000);
        await expect(streams.refresh('s1', owner, -1)).rejects.toThrow(TypeError);
        const copy = { node: 'edge-a', parent: 'node-a', viewers: 0, hops: 1 };
        await expect(streams.putCopy('s1', copy, Number.NaN)).rejects.toThrow(TypeError);
      });
    });

    describe('StreamRegistry copies', () => {
      it('has no copies at first', async () => {
        const { streams } = await fresh();
        expect(await streams.copies('s1')).toEqual([]);
      });

      it('puts, updates and lists copies sorted by node', async () => {
        const { streams } = await fresh();
        await streams.putCopy(
          's1',
          { node: 'edge-b', parent: 'ingest-1', viewers: 2, hops: 1 },
          10_000,
        );
        await streams.putCopy(
          's1',
          { node: 'edge-a', parent: 'edge-b', viewers: 0, hops: 2 },
          10_000,
        );
        await streams.putCopy(
          's2',
          { node: 'edge-c', parent: 'ingest-2', viewers: 1, hops: 1 },
          10_000,
        );
        await streams.putCopy(
          's1',
          { node: 'edge-b', parent: 'ingest-1', viewers: 5, hops: 1 },
          10_000,
        );
        expect(await streams.copies('s1')).toEqual([
          { node: 'edge-a', parent: 'edge-b', viewers: 0, hops: 2 },
          { node: 'edge-b', parent: 'ingest-1', viewers: 5, hops: 1 },
        ]);
        expect(await streams.copies('s2')).toEqual([
          { node: 'edge-c', parent: 'ingest-2', viewers: 1, hops: 1 },
        ]);
      });

      it('expires a copy that is not refreshed, and keeps one that is', async () => {
        const { streams } = await fresh();
        const kept = { node: 'edge-a', parent: 'ingest-1', viewers: 1, hops: 1 };
        await streams.putCopy('s1', kept, TTL);
        await streams.putCopy(
          's1',
          { node: 'edge-b', parent: 'ingest-1', viewers: 1, hops: 1 },
          TTL,
        );
        for (let i = 0; i < 4; i++) {
          await sleep(TTL / 2);
          await streams.putCopy('s1', kept, TTL);
        }
        expect(await streams.copies('s1')).toEqual([kept]);
        await sleep(EXPIRED);
        expect(await streams.copies('s1')).toEqual([]);
        await streams.putCopy('s1', kept, TTL);
        expect(await streams.copies('s1')).toEqual([kept]);
      });

      it('a short ttl does not cut a longer one short', async () => {
        const { streams } = await fresh();
        await streams.putCopy(
          's1',
          { node: 'edge-a', parent: 'ingest-1', viewers: 1, hops: 1 },
          10_000,
        );
        await streams.putCopy(
          's1',
          { node: 'edge-b', parent: 'ingest-1', viewers: 1, hops: 1 },
          TTL,
        );
        await sleep(EXPIRED);
        expect((await streams.copies('s1')).map((c) => c.node)).toEqual(['edge-a']);
      });

      it('removes a copy at once', async () => {
        const a = await fresh();
        const b = await second();
        await a.streams.putCopy(
          's1',
          { node: 'edge-a', parent: 'ingest-1', viewers: 1, hops: 1 },
          10_000,
        );
        await a.streams.putCopy(
          's1',
          { node: 'edge-b', parent: 'ingest-1', viewers: 1, hops: 1 },
          10_000,
        );
        await b.streams.removeCopy('s1', 'edge-a');
        await b.streams.removeCopy('s1', 'edge-z');
        await b.streams.removeCopy('s9', 'edge-a');
        expect(await a.streams.copies('s1')).toEqual([
          { node: 'edge-b', parent: 'ingest-1', viewers: 1, hops: 1 },
        ]);
      });
    });

    describe('ControlBus', () => {
      const live: ControlEvent = { type: 'streamLive', streamId: 's1', node: 'node-a', epoch: 3 };

      it('delivers an event to subscribers in this and other processes, once each', async () => {
        const a = await fresh();
        const b = await second();
        const onA = recorder();
        const onA2 = recorder();
        const onB = recorder();
        a.bus.subscribe(onA.handler);
        a.bus.subscribe(onA2.handler);
        b.bus.subscribe(onB.handler);
        await a.bus.publish(live);
        await waitFor(() => onA.events.length + onA2.events.length + onB.events.length === 3);
        await sleep(50);
        expect(onA.events).toEqual([live]);
        expect(onA2.events).toEqual([live]);
        expect(onB.events).toEqual([live]);

        const offline: ControlEvent = {
          type: 'streamOffline',
          streamId: 's1',
          node: 'node-a',
          epoch: 3,
          reason: 'publisher left',
        };
        await b.bus.publish(offline);
        await waitFor(() => onA.events.length === 2 && onB.events.length === 2);
        expect(onA.events[1]).toEqual(offline);
        expect(onB.events[1]).toEqual(offline);
      });

      it('never delivers inside publish', async () => {
        const { bus } = await fresh();
        const onBus = recorder();
        bus.subscribe(onBus.handler);
        const publishing = bus.publish({ type: 'keyRotated', streamId: 's1' });
        expect(onBus.events).toEqual([]);
        await publishing;
        await waitFor(() => onBus.events.length === 1);
      });

      it('stops delivering after unsubscribe', async () => {
        const a = await fresh();
        const b = await second();
        const kept = recorder();
        const dropped = recorder();
        b.bus.subscribe(kept.handler);
        const off = b.bus.subscribe(dropped.handler);
        await a.bus.publish({ type: 'keyRotated', streamId: 's1' });
        await waitFor(() => kept.events.length === 1 && dropped.events.length === 1);
        off();
        off();
        await a.bus.publish({ type: 'streamDeleted', streamId: 's1' });
        await waitFor(() => kept.events.length === 2);
        await sleep(50);
        expect(dropped.events).toHaveLength(1);
      });

      it('keeps delivering to others when a handler throws', async () => {
        const { bus } = await fresh();
        const before = recorder();
        const after = recorder();
        bus.subscribe(before.handler);
        bus.subscribe(() => {
          throw new Error('handler bug');
        });
        bus.subscribe(after.handler);
        await bus.publish({ type: 'keyRotated', streamId: 's1' });
        await bus.publish({ type: 'keyRotated', streamId: 's2' });
        await waitFor(() => after.events.length === 2);
        expect(before.events).toHaveLength(2);
      });

      it('delivers events in publish order', async () => {
        const a = await fresh();
        const b = await second();
        const onA = recorder();
        const onB = recorder();
        a.bus.subscribe(onA.handler);
        b.bus.subscribe(onB.handler);
        const sent: ControlEvent[] = Array.from({ length: 50 }, (_, i) => ({
          type: 'keyRotated',
          streamId: `s${i}`,
        }));
        await Promise.all(sent.map((event) => a.bus.publish(event)));
        await waitFor(() => onA.events.length === 50 && onB.events.length === 50);
        expect(onA.events).toEqual(sent);
        expect(onB.events).toEqual(sent);
      });

      it('gives each handler its own copy of the event', async () => {
        const { bus } = await fresh();
        const seen: string[] = [];
        bus.subscribe((event) => {
          event.streamId = 'mutated';
        });
        bus.subscribe((event) => seen.push(event.streamId));
        const event: ControlEvent = { type: 'streamDeleted', streamId: 's1' };
        await bus.publish(event);
        await waitFor(() => seen.length === 1);
        expect(seen).toEqual(['s1']);
        expect(event.streamId).toBe('s1');
      });

      it('rejects a malformed event', async () => {
        const { bus } = await fresh();
        const bad = { type: 'nonsense', streamId: 's1' } as unknown as ControlEvent;
        await expect(bus.publish(bad)).rejects.toThrow(TypeError);
      });

      it('drops the subscriptions of a closed cluster only', async () => {
        const a = await fresh();
        const b = await second();
        const onA = recorder();
        const onB = recorder();
        a.bus.subscribe(onA.handler);
        b.bus.subscribe(onB.handler);
        await b.close();
        await a.bus.publish(live);
        await waitFor(() => onA.events.length === 1);
        await sleep(50);
        expect(onB.events).toEqual([]);
      });
    });
  });
}
