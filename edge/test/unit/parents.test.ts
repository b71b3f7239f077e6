import { describe, expect, it } from 'vitest';
import type { NodeRecord, StreamCopy } from '@wisp/core';
import { chooseParent } from '../../src/parents.ts';

function node(id: string, extra: Partial<NodeRecord> = {}): NodeRecord {
  return {
    id,
    roles: [id.startsWith('ingest') ? 'ingest' : 'edge'],
    url: `http://${id}`,
    internalUrl: `http://${id}`,
    region: 'default',
    state: 'serving',
    pid: 1,
    load: { viewers: 0, streams: 0, egressKbps: 0, cpu: 0 },
    lastSeen: Date.now(),
    ...extra,
  };
}

const copy = (n: string, parent: string, hops: number): StreamCopy => ({
  node: n,
  parent,
  hops,
  viewers: 1,
});

const owner = { node: 'ingest-1', epoch: 1 };
const base = { self: 'edge-9', owner, fanout: 2, maxDepth: 3 };

describe('chooseParent', () => {
  it('nothing when the stream has no live owner', () => {
    expect(chooseParent({ ...base, owner: undefined, nodes: [node('ingest-1')], copies: [] })).toBe(
      undefined,
    );
    expect(chooseParent({ ...base, nodes: [node('edge-1')], copies: [] })).toBe(undefined);
  });

  it('the ingest while it feeds fewer than PIPE_FANOUT nodes, then a carrying edge', () => {
    const nodes = [node('ingest-1'), node('edge-1'), node('edge-2'), node('edge-9')];
    expect(chooseParent({ ...base, nodes, copies: [copy('edge-1', 'ingest-1', 1)] })?.id).toBe(
      'ingest-1',
    );
    const full = [copy('edge-1', 'ingest-1', 1), copy('edge-2', 'ingest-1', 1)];
    expect(chooseParent({ ...base, nodes, copies: full })?.id).toBe('edge-1');
  });

  it('respects CASCADE_MAX_DEPTH, falling back to the ingest over its fan-out', () => {
    const nodes = [node('ingest-1'), node('edge-1'), node('edge-2'), node('edge-9')];
    const copies = [copy('edge-1', 'ingest-1', 1), copy('edge-2', 'ingest-1', 1)];
    expect(chooseParent({ ...base, maxDepth: 1, nodes, copies })?.id).toBe('ingest-1');
  });

  it('skips draining and vanished carriers and itself', () => {
    const nodes = [node('ingest-1'), node('edge-1', { state: 'draining' }), node('edge-9')];
    const copies = [
      copy('edge-1', 'ingest-1', 1),
      copy('edge-3', 'ingest-1', 1), // not in the live list
      copy('edge-9', 'ingest-1', 1),
    ];
    expect(chooseParent({ ...base, nodes, copies })?.id).toBe('ingest-1');
  });

  it('with relays, edges pull through a relay; relays pull from the ingest', () => {
    const nodes = [
      node('ingest-1'),
      node('relay-1', { relay: true, load: { viewers: 0, streams: 3, egressKbps: 0, cpu: 0 } }),
      node('relay-2', { relay: true }),
      node('edge-9'),
    ];
    expect(chooseParent({ ...base, nodes, copies: [] })?.id).toBe('relay-2');
    const carried = [copy('relay-1', 'ingest-1', 1)];
    expect(chooseParent({ ...base, nodes, copies: carried })?.id).toBe('relay-1');
    expect(chooseParent({ ...base, self: 'relay-2', nodes, copies: carried })?.id).toBe('ingest-1');
  });

  it('passes over relays and edges above their soft level, never the ingest', () => {
    const limits = {
      viewers: { soft: 10, hard: 20 },
      egressKbps: { soft: 1000, hard: 2000 },
      cpu: { soft: 0.7, hard: 0.9 },
    };
    const busy = { viewers: 0, streams: 1, egressKbps: 0, cpu: 0.75 };
    const nodes = [
      node('ingest-1', { limits, load: { ...busy, cpu: 0.95 } }),
      node('relay-1', { relay: true, limits, load: busy }),
      node('relay-2', { relay: true, limits }),
      node('edge-1', { limits, load: { ...busy, cpu: 0, viewers: 12 } }),
      node('edge-9'),
    ];
    // relay-1 carries the stream but is above soft: the idle relay-2 pulls it instead.
    expect(chooseParent({ ...base, nodes, copies: [copy('relay-1', 'ingest-1', 1)] })?.id).toBe(
      'relay-2',
    );
    // Without relays: the ingest is over its fan-out and the only carrier above soft, so the
    // ingest anyway.
    const flat = nodes.filter((n) => !n.relay);
    const copies = [copy('edge-1', 'ingest-1', 1), copy('edge-2', 'ingest-1', 1)];
    expect(chooseParent({ ...base, nodes: flat, copies })?.id).toBe('ingest-1');
  });
});
