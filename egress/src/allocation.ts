/**
 * Where the front door sends a viewer or a publisher: a choice among the live nodes of a role
 * by `ALLOCATION_POLICY`, under each node's two-level thresholds (core `limits.ts`), with
 * region affinity and, for viewers, the edges already carrying the stream first.
 *
 * A viewer of stream S, from region R:
 * 1. Candidates: serving, recently seen edges (not relays) below their hard level, counting
 *    the viewers this front door has sent since each node's last heartbeat (so a burst between
 *    two heartbeats does not all land on the node that looked emptiest).
 * 2. Region: the steps below among the edges in R first; if none of them can take the viewer,
 *    among all of them (the nearest region is not known; any is better than a refusal).
 * 3. Tiers, the first non-empty one wins:
 *    - `least-used`, `round-robin`, `random`: edges carrying S below their soft level; then
 *      edges not carrying S below their soft level (they pull it); then edges carrying S
 *      between soft and hard (new viewers of a stream they have, but no new pulls);
 *    - `packing`: edges carrying S below their hard level (fill them); then edges below soft.
 * 4. The policy picks in the tier: `least-used` the fewest viewers (then the lowest
 *    utilisation, then the id), `packing` the most viewers (then the id), `round-robin` the next
 *    in id order, `random` any.
 * Nothing left: undefined, and the front door answers 503 with a jittered Retry-After.
 *
 * A publisher: the ingest already holding the stream (a reconnect is a local takeover), else
 * the policy among ingests below their soft level (a new stream), region first; least-used
 * and packing count streams instead of viewers.
 *
 * The pending counts are this front door's own: several front doors see each other's
 * placements one heartbeat late (and the edge's own hard-level guard catches the overshoot).
 */
import type { AllocationPolicy, NodeLoad, NodeRecord } from '@wisp/core';
import { loadLevel, utilisation } from '@wisp/core';

export interface AllocatorOptions {
  policy: AllocationPolicy;
  /** For `random` (tests pass a seeded one). Default Math.random. */
  random?: () => number;
  /** Clock, ms since the epoch (the registry's `lastSeen` clock). Default Date.now. */
  now?: () => number;
  /** Placements older than this are forgotten even without a newer heartbeat. Default 10 s. */
  pendingMs?: number;
}

interface Placement {
  at: number;
  streamId: string;
}

export class Allocator {
  readonly policy: AllocationPolicy;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #pendingMs: number;
  /** Node id -> placements this front door made there (viewers for edges, streams for ingests). */
  readonly #pending = new Map<string, Placement[]>();
  #cursor = 0;

  constructor(options: AllocatorOptions) {
    this.policy = options.policy;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
    this.#pendingMs = options.pendingMs ?? 10_000;
  }

  /**
   * The edge for a viewer of `streamId`, or undefined when every candidate is full. `edges`
   * are the candidates (serving, fresh, not relays); `carrying` the nodes with a copy of the
   * stream (the ingest that owns it is not an edge and is not among them).
   */
  pickEdge(
    streamId: string,
    edges: readonly NodeRecord[],
    carrying: ReadonlySet<string>,
    region: string | undefined,
  ): NodeRecord | undefined {
    const views = edges.map((node) => this.#view(node, streamId, carrying.has(node.id), 'viewers'));
    const open = views.filter((v) => v.level !== 'hard');
    for (const pool of regionFirst(open, region)) {
      const tiers =
        this.policy === 'packing'
          ? [pool.filter((v) => v.carrying), pool.filter((v) => v.level === 'normal')]
          : [
              pool.filter((v) => v.carrying && v.level === 'normal'),
              pool.filter((v) => !v.carrying && v.level === 'normal'),
              pool.filter((v) => v.carrying),
            ];
      const tier = tiers.find((t) => t.length > 0);
      if (!tier) continue;
      const chosen = this.#choose(tier, (v) => v.load.viewers);
      this.#place(chosen.node, streamId);
      return chosen.node;
    }
    return undefined;
  }

  /**
   * The ingest for a publisher of `streamId`: `owner` (the node holding it now) when it is
   * among the candidates, else a node below its soft level; undefined when there is none.
   */
  pickIngest(
    streamId: string,
    ingests: readonly NodeRecord[],
    owner: string | undefined,
    region: string | undefined,
  ): NodeRecord | undefined {
    const holder = ingests.find((n) => n.id === owner);
    if (holder) return holder;
    const views = ingests.map((node) => this.#view(node, streamId, false, 'streams'));
    const open = views.filter((v) => v.level === 'normal');
    const pool = regionFirst(open, region).find((p) => p.length > 0);
    if (!pool) return undefined;
    const chosen = this.#choose(pool, (v) => v.load.streams);
    this.#place(chosen.node, streamId);
    return chosen.node;
  }

  /**
   * The node as this front door sees it: its heartbeat load plus what was sent there since
   * (viewers to an edge, new streams to an ingest).
   */
  #view(
    node: NodeRecord,
    streamId: string,
    carrying: boolean,
    placing: 'viewers' | 'streams',
  ): NodeView {
    const placed = this.#placedSince(node);
    const extra = placed.length;
    const perViewerKbps = node.load.viewers > 0 ? node.load.egressKbps / node.load.viewers : 0;
    const load: NodeLoad =
      placing === 'viewers'
        ? {
            ...node.load,
            viewers: node.load.viewers + extra,
            egressKbps: node.load.egressKbps + extra * perViewerKbps,
          }
        : { ...node.load, streams: node.load.streams + extra };
    return {
      node,
      load,
      level: loadLevel(load, node.limits),
      // A viewer sent there since its last heartbeat made it pull the stream.
      carrying: carrying || placed.some((p) => p.streamId === streamId),
    };
  }

  #choose(tier: NodeView[], count: (v: NodeView) => number): NodeView {
    const byId = [...tier].sort((a, b) => a.node.id.localeCompare(b.node.id));
    switch (this.policy) {
      case 'least-used':
        return byId.sort(
          (a, b) =>
            count(a) - count(b) ||
            utilisation(a.load, a.node.limits) - utilisation(b.load, b.node.limits),
        )[0];
      case 'packing':
        return byId.sort((a, b) => count(b) - count(a))[0];
      case 'round-robin':
        return byId[this.#cursor++ % byId.length];
      case 'random':
        return byId[Math.min(byId.length - 1, Math.floor(this.#random() * byId.length))];
    }
  }

  #placedSince(node: NodeRecord): Placement[] {
    const list = this.#pending.get(node.id);
    if (!list) return [];
    const cutoff = Math.max(node.lastSeen, this.#now() - this.#pendingMs);
    const kept = list.filter((p) => p.at > cutoff);
    if (kept.length === 0) this.#pending.delete(node.id);
    else if (kept.length !== list.length) this.#pending.set(node.id, kept);
    return kept;
  }

  #place(node: NodeRecord, streamId: string): void {
    const list = this.#pending.get(node.id) ?? [];
    list.push({ at: this.#now(), streamId });
    this.#pending.set(node.id, list);
  }
}

interface NodeView {
  node: NodeRecord;
  load: NodeLoad;
  level: ReturnType<typeof loadLevel>;
  carrying: boolean;
}

/** The candidates to try in turn: those in `region` (when any is), then all of them. */
function regionFirst(views: NodeView[], region: string | undefined): NodeView[][] {
  const local = region === undefined ? [] : views.filter((v) => v.node.region === region);
  return local.length > 0 && local.length < views.length ? [local, views] : [views];
}
