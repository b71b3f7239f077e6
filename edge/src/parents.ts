/**
 * Where an edge pulls a stream from: the tree a stream takes through the cluster. Pure, over
 * a snapshot of the registries, so it is tested without a cluster.
 *
 * - An edge in a cluster that has relays (`EDGE_RELAY=true` nodes) pulls through a relay: one
 *   that already carries the stream and feeds fewer than `PIPE_FANOUT` nodes, else the relay
 *   carrying the fewest streams (it pulls the stream first). The ingest then feeds relays
 *   only: its egress stays at (relays x bitrate) however many edges there are.
 * - Otherwise (or for a relay itself) the stream's ingest, while it feeds fewer than
 *   `PIPE_FANOUT` nodes; else a node that carries the stream and has room, at most
 *   `CASCADE_MAX_DEPTH` - 1 pipes from the ingest, relays first, then the shallowest, then
 *   the least busy; else the ingest anyway (over its fan-out, rather than refusing viewers).
 *
 * A relay or edge above its soft level (core `limits.ts`) feeds no new node: it is passed
 * over as a parent, as if it were full. The ingest never is (it is the only source).
 *
 * Fan-out counts come from the registry and lag by a heartbeat, so two edges pulling at
 * the same moment can put one node a pipe over its fan-out.
 */
import { loadLevel, type NodeRecord, type StreamCopy, type StreamOwner } from '@wisp/core';

export interface ParentChoiceInput {
  self: string;
  owner: StreamOwner | undefined;
  /** Nodes seen recently (the registry's live list). */
  nodes: readonly NodeRecord[];
  /** Nodes carrying a copy of the stream. */
  copies: readonly StreamCopy[];
  fanout: number;
  maxDepth: number;
}

export function chooseParent(input: ParentChoiceInput): NodeRecord | undefined {
  const { self, owner, nodes, copies, fanout, maxDepth } = input;
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const ownerNode = owner ? byId.get(owner.node) : undefined;
  if (!ownerNode) return undefined;
  const children = (id: string) => copies.filter((c) => c.parent === id && c.node !== self).length;
  const serving = (n: NodeRecord | undefined): n is NodeRecord =>
    n !== undefined &&
    n.id !== self &&
    n.state === 'serving' &&
    loadLevel(n.load, n.limits) === 'normal';
  const carrying = copies
    .map((copy) => ({ copy, node: byId.get(copy.node) }))
    .filter(
      (c): c is { copy: StreamCopy; node: NodeRecord } =>
        serving(c.node) && c.copy.hops < maxDepth && children(c.copy.node) < fanout,
    );
  const selfNode = byId.get(self);
  const relays = nodes.filter((n) => n.relay && serving(n));
  if (!selfNode?.relay && relays.length > 0 && maxDepth >= 2) {
    const carryingRelay = carrying
      .filter((c) => c.node.relay)
      .sort((a, b) => children(a.copy.node) - children(b.copy.node))[0];
    if (carryingRelay) return carryingRelay.node;
    const carried = new Set(copies.map((c) => c.node));
    const idle = relays
      .filter((r) => !carried.has(r.id))
      .sort((a, b) => a.load.streams - b.load.streams || a.id.localeCompare(b.id))[0];
    if (idle) return idle;
  }
  if (children(ownerNode.id) < fanout) return ownerNode;
  const best = carrying.sort(
    (a, b) =>
      Number(Boolean(b.node.relay)) - Number(Boolean(a.node.relay)) ||
      a.copy.hops - b.copy.hops ||
      children(a.copy.node) - children(b.copy.node),
  )[0];
  return best?.node ?? ownerNode;
}
