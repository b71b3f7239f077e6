import { describe, expect, it } from 'vitest';
import { loadLevel, type NodeLimits, type NodeLoad, type NodeRecord } from '@wisp/core';
import { Allocator } from '../../src/allocation.ts';

const limits: NodeLimits = {
  viewers: { soft: 3, hard: 5 },
  egressKbps: { soft: 10_000, hard: 20_000 },
  cpu: { soft: 0.7, hard: 0.9 },
};
const idle: NodeLoad = { viewers: 0, streams: 0, egressKbps: 0, cpu: 0 };
const T0 = 1_000_000;

function node(id: string, extra: Partial<NodeRecord> = {}): NodeRecord {
  return {
    id,
    roles: [id.startsWith('ingest') ? 'ingest' : 'edge'],
    url: `http://${id}`,
    internalUrl: `http://${id}`,
    region: 'default',
    state: 'serving',
    pid: 1,
    load: idle,
    limits,
    lastSeen: T0,
    ...extra,
  };
}

const edges = [node('edge-1'), node('edge-2'), node('edge-3')];

/** Places `count` viewers (of `stream(i)`) with no heartbeat in between; ids in order. */
function place(
  allocator: Allocator,
  count: number,
  stream: (i: number) => string = () => 's1',
  candidates: NodeRecord[] = edges,
  region?: string,
): (string | undefined)[] {
  const out: (string | undefined)[] = [];
  for (let i = 0; i < count; i++) {
    out.push(allocator.pickEdge(stream(i), candidates, new Set(), region)?.id);
  }
  return out;
}

function tally(ids: (string | undefined)[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const id of ids) counts[id ?? 'refused'] = (counts[id ?? 'refused'] ?? 0) + 1;
  return counts;
}

const clock = () => {
  let now = T0 + 1;
  return { now: () => now++ };
};

describe('loadLevel', () => {
  it('is the highest level any one measure reached', () => {
    expect(loadLevel(idle, limits)).toBe('normal');
    expect(loadLevel({ ...idle, viewers: 3 }, limits)).toBe('soft');
    expect(loadLevel({ ...idle, egressKbps: 20_000 }, limits)).toBe('hard');
    expect(loadLevel({ ...idle, cpu: 0.75 }, limits)).toBe('soft');
    expect(loadLevel({ ...idle, viewers: 1, cpu: 0.95 }, limits)).toBe('hard');
    expect(loadLevel({ ...idle, viewers: 10_000 }, undefined)).toBe('normal');
  });
});

describe('Allocator.pickEdge', () => {
  it('least-used: the carrying edge up to soft, then new edges pull, then even up to hard', () => {
    const ids = place(new Allocator({ policy: 'least-used', ...clock() }), 16);
    expect(ids.slice(0, 9)).toEqual([
      ...Array<string>(3).fill('edge-1'),
      ...Array<string>(3).fill('edge-2'),
      ...Array<string>(3).fill('edge-3'),
    ]);
    // Between soft and hard: viewers of a stream they carry, the least used first.
    expect(ids.slice(9, 15)).toEqual(['edge-1', 'edge-2', 'edge-3', 'edge-1', 'edge-2', 'edge-3']);
    expect(ids[15]).toBeUndefined(); // all at the hard level
  });

  it('packing: fills one edge to its hard level before the next', () => {
    const ids = place(new Allocator({ policy: 'packing', ...clock() }), 16);
    expect(tally(ids.slice(0, 5))).toEqual({ 'edge-1': 5 });
    expect(tally(ids.slice(5, 10))).toEqual({ 'edge-2': 5 });
    expect(tally(ids.slice(10, 15))).toEqual({ 'edge-3': 5 });
    expect(ids[15]).toBeUndefined();
  });

  it('round-robin: streams no edge carries go round the edges in id order', () => {
    const ids = place(new Allocator({ policy: 'round-robin', ...clock() }), 6, (i) => `s${i}`);
    expect(ids).toEqual(['edge-1', 'edge-2', 'edge-3', 'edge-1', 'edge-2', 'edge-3']);
  });

  it('random: any edge of the tier, as the random source says', () => {
    const values = [0.99, 0.0, 0.5, 0.7];
    const allocator = new Allocator({
      policy: 'random',
      random: () => values.shift()!,
      ...clock(),
    });
    expect(place(allocator, 4, (i) => `s${i}`)).toEqual(['edge-3', 'edge-1', 'edge-2', 'edge-3']);
  });

  it('least-used spreads the viewers of many streams evenly', () => {
    const ids = place(new Allocator({ policy: 'least-used', ...clock() }), 9, (i) => `s${i}`);
    expect(tally(ids)).toEqual({ 'edge-1': 3, 'edge-2': 3, 'edge-3': 3 });
  });

  it('prefers an edge that carries the stream over an emptier one', () => {
    const loaded = [node('edge-1', { load: { ...idle, viewers: 2 } }), node('edge-2')];
    const allocator = new Allocator({ policy: 'least-used', ...clock() });
    expect(allocator.pickEdge('s1', loaded, new Set(['edge-1']), undefined)?.id).toBe('edge-1');
    // A stream edge-1 doesn't carry goes to the least used.
    expect(allocator.pickEdge('s2', loaded, new Set(['edge-1']), undefined)?.id).toBe('edge-2');
  });

  it('CPU or egress past a level counts like viewers', () => {
    const busy = [
      node('edge-1', { load: { ...idle, cpu: 0.95 } }), // hard: nothing new
      node('edge-2', { load: { ...idle, egressKbps: 15_000 } }), // soft: carried streams only
      node('edge-3', { load: { ...idle, cpu: 0.2 } }),
    ];
    const allocator = new Allocator({ policy: 'least-used', ...clock() });
    expect(allocator.pickEdge('s1', busy, new Set(['edge-1', 'edge-2']), undefined)?.id).toBe(
      'edge-3',
    );
    const noRoom = busy.slice(0, 2);
    expect(allocator.pickEdge('s1', noRoom, new Set(['edge-2']), undefined)?.id).toBe('edge-2');
    expect(allocator.pickEdge('s9', noRoom, new Set(), undefined)).toBeUndefined();
  });

  it('region affinity: the region first, other regions when it has no room', () => {
    const regional = [
      node('edge-1', { region: 'us' }),
      node('edge-2', { region: 'eu' }),
      node('edge-3', { region: 'eu' }),
    ];
    const allocator = new Allocator({ policy: 'least-used', ...clock() });
    const eu = place(allocator, 10, (i) => `s${i}`, regional, 'eu');
    // eu has room for 2 x 3 streams below soft, then takes no new pulls: us gets the rest.
    expect(tally(eu)).toEqual({ 'edge-2': 3, 'edge-3': 3, 'edge-1': 3, refused: 1 });
    expect(eu.slice(0, 6).every((id) => id !== 'edge-1')).toBe(true);
    // A region no node is in: any node.
    expect(
      new Allocator({ policy: 'least-used' }).pickEdge('x', regional, new Set(), 'ap')?.id,
    ).toBe('edge-1');
  });

  it('forgets its own placements once a heartbeat reports them', () => {
    let now = T0 + 1;
    const allocator = new Allocator({ policy: 'least-used', now: () => now });
    const one = [node('edge-1')];
    expect(place(allocator, 5, (i) => `s${i}`, one)).toEqual([
      'edge-1',
      'edge-1',
      'edge-1',
      undefined,
      undefined,
    ]);
    // The heartbeat after those: 1 of the 3 viewers left meanwhile.
    now += 100;
    const beat = [node('edge-1', { lastSeen: now, load: { ...idle, viewers: 2 } })];
    now += 1;
    expect(allocator.pickEdge('s7', beat, new Set(), undefined)?.id).toBe('edge-1');
    expect(allocator.pickEdge('s8', beat, new Set(), undefined)).toBeUndefined();
  });

  it('forgets placements after pendingMs even without a heartbeat', () => {
    let now = T0 + 1;
    const allocator = new Allocator({ policy: 'least-used', now: () => now, pendingMs: 1000 });
    const one = [node('edge-1')];
    place(allocator, 3, (i) => `s${i}`, one);
    expect(allocator.pickEdge('s9', one, new Set(), undefined)).toBeUndefined();
    now += 2000;
    expect(allocator.pickEdge('s9', one, new Set(), undefined)?.id).toBe('edge-1');
  });

  it('a node without limits is never full', () => {
    const unlimited = [node('edge-1', { limits: undefined, load: { ...idle, viewers: 1e6 } })];
    expect(
      new Allocator({ policy: 'packing' }).pickEdge('s', unlimited, new Set(), undefined)?.id,
    ).toBe('edge-1');
  });
});

describe('Allocator.pickIngest', () => {
  const ingests = [
    node('ingest-1', { load: { ...idle, streams: 2 } }),
    node('ingest-2', { load: { ...idle, streams: 1, cpu: 0.8 } }), // soft: no new streams
    node('ingest-3', { load: { ...idle, streams: 4 } }),
  ];

  it('the ingest holding the stream, whatever its level (a reconnect is a takeover)', () => {
    const allocator = new Allocator({ policy: 'least-used', ...clock() });
    expect(allocator.pickIngest('s', ingests, 'ingest-2', undefined)?.id).toBe('ingest-2');
  });

  it('a new stream: below soft only, fewest streams (least-used) or most (packing)', () => {
    expect(
      new Allocator({ policy: 'least-used', ...clock() }).pickIngest(
        's',
        ingests,
        undefined,
        undefined,
      )?.id,
    ).toBe('ingest-1');
    expect(
      new Allocator({ policy: 'packing', ...clock() }).pickIngest(
        's',
        ingests,
        undefined,
        undefined,
      )?.id,
    ).toBe('ingest-3');
    const least = new Allocator({ policy: 'least-used', ...clock() });
    // Its own placements count: ingest-1 goes from 2 to 4 streams, ties with ingest-3 (the
    // id decides), then ingest-3 has fewer.
    const ids = ['a', 'b', 'c', 'd'].map(
      (s) => least.pickIngest(s, ingests, undefined, undefined)?.id,
    );
    expect(ids).toEqual(['ingest-1', 'ingest-1', 'ingest-1', 'ingest-3']);
  });

  it('none below soft: undefined', () => {
    const hot = ingests.map((n) => ({ ...n, load: { ...n.load, cpu: 0.8 } }));
    expect(
      new Allocator({ policy: 'round-robin' }).pickIngest('s', hot, undefined, undefined),
    ).toBeUndefined();
  });
});
