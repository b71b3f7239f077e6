/**
 * The node registry: which processes of the cluster are alive, what they do and how loaded
 * they are. Every node heartbeats its own record; an entry that is not refreshed within its
 * TTL drops out, so a crashed node disappears without anyone cleaning up after it.
 */

import type { NodeLimits } from './limits.ts';

/** What a node does; a process may have several roles. */
export type NodeRole = 'control' | 'ingest' | 'edge' | 'egress' | 'recorder';

/** `serving` takes new work; `draining` keeps what it has but must not be given more. */
export type NodeState = 'serving' | 'draining';

/** A node's current load, reported with every heartbeat, for allocation decisions. */
export interface NodeLoad {
  /** WHEP viewers attached to this node. */
  viewers: number;
  /** Streams this node carries (published here or pulled from another node). */
  streams: number;
  /** Outgoing media bitrate, in kbit/s. */
  egressKbps: number;
  /** CPU usage of the node's media workers, from 0 (idle) to 1 (saturated). */
  cpu: number;
}

/** One node's registry entry. */
export interface NodeRecord {
  /** The node id (`NODE_ID`), unique in the cluster. */
  id: string;
  roles: NodeRole[];
  /** Public base URL: the origin of session `Location`s and of redirects to this node. */
  url: string;
  /** Where other nodes reach this node's internal API. */
  internalUrl: string;
  /** Allocation label (`REGION`). */
  region: string;
  state: NodeState;
  /**
   * A relay (`EDGE_RELAY=true`): an edge that other edges pull streams through, so the
   * ingest feeds relays only. Absent means false.
   */
  relay?: boolean;
  /** Process id, to tell a restarted node from its previous incarnation in logs. */
  pid: number;
  load: NodeLoad;
  /** The node's soft and hard levels (`NODE_SOFT_*`, `NODE_HARD_*`). Absent: never full. */
  limits?: NodeLimits;
  /**
   * Milliseconds since the epoch of the last heartbeat, set by the registry from the clock
   * of the heartbeating process (nodes are expected to be NTP-synced).
   */
  lastSeen: number;
}

export interface NodeRegistry {
  /** Registers or refreshes (heartbeat) this node; the entry expires ttlMs after the last call. */
  heartbeat(node: Omit<NodeRecord, 'lastSeen'>, ttlMs: number): Promise<void>;
  /** The live entry of a node, or undefined when it is unknown or expired. */
  get(id: string): Promise<NodeRecord | undefined>;
  /** Live nodes (not expired), optionally only those with `role`; sorted by id. */
  list(role?: NodeRole): Promise<NodeRecord[]>;
  /** Removes the node at once (clean shutdown). */
  remove(id: string): Promise<void>;
}

/** Throws a TypeError unless `ttlMs` is a positive whole number of milliseconds. */
export function assertTtlMs(ttlMs: number): void {
  if (!Number.isInteger(ttlMs) || ttlMs <= 0) {
    throw new TypeError(`ttlMs must be a positive integer, got ${String(ttlMs)}`);
  }
}

/** Throws a TypeError unless `id` is a non-empty string (a node or stream id). */
export function assertClusterId(id: string, what: string): void {
  if (typeof id !== 'string' || id === '') {
    throw new TypeError(`${what} must be a non-empty string`);
  }
}
