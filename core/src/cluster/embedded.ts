/**
 * The one-process cluster: the node registry, stream registry and control bus in memory, for
 * a single process running every role (`npm start`), where there is nobody to share state
 * with. The semantics are those of the Redis adapters: entries expire against `Date.now()`,
 * checked (and dropped) on read, and epochs never go back. Adapters built on the same
 * EmbeddedClusterState see the same data, as separate processes on one Redis would.
 */
import { moduleLogger } from '../logger.ts';
import { isControlEvent, type ControlBus, type ControlEvent } from './ControlBus.ts';
import { assertClusterId, assertTtlMs } from './NodeRegistry.ts';
import type { NodeRecord, NodeRegistry, NodeRole } from './NodeRegistry.ts';
import type { StreamCopy, StreamOwner, StreamRegistry } from './StreamRegistry.ts';

// Shared by both buses (redis.ts delivers through deliver() too).
const log = moduleLogger('ControlBus');

type Handler = (event: ControlEvent) => void;

interface Expiring<T> {
  value: T;
  /** `Date.now()` from which the entry is gone. */
  expiresAt: number;
}

/** The shared in-memory data behind the embedded adapters. */
export class EmbeddedClusterState {
  /** Node records by id. */
  readonly nodes = new Map<string, Expiring<NodeRecord>>();
  /** Current owner by stream id. */
  readonly owners = new Map<string, Expiring<StreamOwner>>();
  /** Last epoch handed out by stream id; kept when the owner goes, so epochs never go back. */
  readonly epochs = new Map<string, number>();
  /** Copies by stream id, then by node id. */
  readonly copies = new Map<string, Map<string, Expiring<StreamCopy>>>();
  /** Every bus subscription, of every adapter on this state, in subscription order. */
  readonly handlers = new Set<Handler>();
}

/** The result of `run` as a promise: a throw becomes a rejection, as on Redis. */
function settle<T>(run: () => T): Promise<T> {
  try {
    return Promise.resolve(run());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

function live<T>(entry: Expiring<T> | undefined, now = Date.now()): entry is Expiring<T> {
  return entry !== undefined && entry.expiresAt > now;
}

export class EmbeddedNodeRegistry implements NodeRegistry {
  readonly #state: EmbeddedClusterState;

  constructor(state: EmbeddedClusterState = new EmbeddedClusterState()) {
    this.#state = state;
  }

  heartbeat(node: Omit<NodeRecord, 'lastSeen'>, ttlMs: number): Promise<void> {
    return settle(() => {
      assertClusterId(node.id, 'node id');
      assertTtlMs(ttlMs);
      const now = Date.now();
      const value: NodeRecord = { ...structuredClone(node), lastSeen: now };
      this.#state.nodes.set(node.id, { value, expiresAt: now + ttlMs });
    });
  }

  get(id: string): Promise<NodeRecord | undefined> {
    const entry = this.#state.nodes.get(id);
    if (!live(entry)) {
      if (entry) this.#state.nodes.delete(id);
      return Promise.resolve(undefined);
    }
    return Promise.resolve(structuredClone(entry.value));
  }

  list(role?: NodeRole): Promise<NodeRecord[]> {
    const now = Date.now();
    const records: NodeRecord[] = [];
    for (const [id, entry] of this.#state.nodes) {
      if (!live(entry, now)) this.#state.nodes.delete(id);
      else if (role === undefined || entry.value.roles.includes(role)) {
        records.push(structuredClone(entry.value));
      }
    }
    return Promise.resolve(records.sort((a, b) => compareIds(a.id, b.id)));
  }

  remove(id: string): Promise<void> {
    this.#state.nodes.delete(id);
    return Promise.resolve();
  }
}

export class EmbeddedStreamRegistry implements StreamRegistry {
  readonly #state: EmbeddedClusterState;

  constructor(state: EmbeddedClusterState = new EmbeddedClusterState()) {
    this.#state = state;
  }

  claim(streamId: string, node: string, ttlMs: number): Promise<StreamOwner> {
    return settle(() => {
      assertClusterId(streamId, 'stream id');
      assertClusterId(node, 'node id');
      assertTtlMs(ttlMs);
      const epoch = (this.#state.epochs.get(streamId) ?? 0) + 1;
      this.#state.epochs.set(streamId, epoch);
      const owner = { node, epoch };
      this.#state.owners.set(streamId, { value: owner, expiresAt: Date.now() + ttlMs });
      return { ...owner };
    });
  }

  refresh(streamId: string, owner: StreamOwner, ttlMs: number): Promise<boolean> {
    return settle(() => {
      assertTtlMs(ttlMs);
      const entry = this.#current(streamId, owner);
      if (entry) entry.expiresAt = Date.now() + ttlMs;
      return entry !== undefined;
    });
  }

  release(streamId: string, owner: StreamOwner): Promise<boolean> {
    const entry = this.#current(streamId, owner);
    if (entry) this.#state.owners.delete(streamId);
    return Promise.resolve(entry !== undefined);
  }

  owner(streamId: string): Promise<StreamOwner | undefined> {
    const entry = this.#live(streamId);
    return Promise.resolve(entry && { ...entry.value });
  }

  owners(): Promise<Map<string, StreamOwner>> {
    const now = Date.now();
    const ids = [...this.#state.owners.keys()].sort(compareIds);
    const result = new Map<string, StreamOwner>();
    for (const id of ids) {
      const entry = this.#state.owners.get(id);
      if (live(entry, now)) result.set(id, { ...entry.value });
      else this.#state.owners.delete(id);
    }
    return Promise.resolve(result);
  }

  putCopy(streamId: string, copy: StreamCopy, ttlMs: number): Promise<void> {
    return settle(() => {
      assertClusterId(streamId, 'stream id');
      assertClusterId(copy.node, 'node id');
      assertTtlMs(ttlMs);
      let copies = this.#state.copies.get(streamId);
      if (!copies) {
        copies = new Map();
        this.#state.copies.set(streamId, copies);
      }
      const { node, parent, viewers, hops } = copy;
      const value = { node, parent, viewers, hops };
      copies.set(copy.node, { value, expiresAt: Date.now() + ttlMs });
    });
  }

  removeCopy(streamId: string, node: string): Promise<void> {
    const copies = this.#state.copies.get(streamId);
    copies?.delete(node);
    if (copies?.size === 0) this.#state.copies.delete(streamId);
    return Promise.resolve();
  }

  copies(streamId: string): Promise<StreamCopy[]> {
    const copies = this.#state.copies.get(streamId);
    if (!copies) return Promise.resolve([]);
    const now = Date.now();
    const result: StreamCopy[] = [];
    for (const [node, entry] of copies) {
      if (live(entry, now)) result.push({ ...entry.value });
      else copies.delete(node);
    }
    if (copies.size === 0) this.#state.copies.delete(streamId);
    return Promise.resolve(result.sort((a, b) => compareIds(a.node, b.node)));
  }

  /** The live owner entry of the stream, dropping it when expired. */
  #live(streamId: string): Expiring<StreamOwner> | undefined {
    const entry = this.#state.owners.get(streamId);
    if (live(entry)) return entry;
    if (entry) this.#state.owners.delete(streamId);
    return undefined;
  }

  /** The live owner entry of the stream if it is `owner`, else undefined. */
  #current(streamId: string, owner: StreamOwner): Expiring<StreamOwner> | undefined {
    const entry = this.#live(streamId);
    if (entry?.value.node !== owner.node || entry.value.epoch !== owner.epoch) return undefined;
    return entry;
  }
}

/**
 * The in-process bus. Every event is delivered in a microtask, never inside `publish`, so a
 * handler cannot re-enter its publisher; microtasks run in order, so events do too.
 */
export class EmbeddedControlBus implements ControlBus {
  readonly #state: EmbeddedClusterState;
  /** This adapter's own subscriptions, dropped by close(). */
  readonly #mine = new Set<Handler>();

  constructor(state: EmbeddedClusterState = new EmbeddedClusterState()) {
    this.#state = state;
  }

  publish(event: ControlEvent): Promise<void> {
    if (!isControlEvent(event)) {
      return Promise.reject(new TypeError('not a well-formed control event'));
    }
    const handlers = [...this.#state.handlers];
    const payload = structuredClone(event);
    queueMicrotask(() => {
      for (const handler of handlers) {
        // A handler unsubscribed after the publish no longer hears from the bus.
        if (this.#state.handlers.has(handler)) deliver(handler, payload);
      }
    });
    return Promise.resolve();
  }

  subscribe(handler: (event: ControlEvent) => void): () => void {
    // Wrapped, so the same function subscribed twice is two subscriptions, as on Redis.
    const subscription: Handler = (event) => handler(event);
    this.#state.handlers.add(subscription);
    this.#mine.add(subscription);
    return () => {
      this.#state.handlers.delete(subscription);
      this.#mine.delete(subscription);
    };
  }

  /** Drops every subscription made through this adapter. Idempotent. */
  close(): void {
    for (const handler of this.#mine) this.#state.handlers.delete(handler);
    this.#mine.clear();
  }
}

/** Calls one handler with its own copy of the event; a throw is logged, not propagated. */
export function deliver(handler: Handler, event: ControlEvent): void {
  try {
    handler({ ...event });
  } catch (error) {
    log.error({ err: error, event: event.type }, 'control event handler threw');
  }
}

/** Orders ids by code unit, like Redis sorts members of equal score. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The three embedded adapters on one shared state. */
export interface EmbeddedCluster {
  nodes: EmbeddedNodeRegistry;
  streams: EmbeddedStreamRegistry;
  bus: EmbeddedControlBus;
  /** The data behind the adapters: hand it to createEmbeddedCluster for another view of it. */
  state: EmbeddedClusterState;
  /** Drops this cluster's bus subscriptions; the data stays for the other views. Idempotent. */
  close(): Promise<void>;
}

/** The embedded adapters on `state` (a fresh, empty one by default). */
export function createEmbeddedCluster(
  state: EmbeddedClusterState = new EmbeddedClusterState(),
): EmbeddedCluster {
  const bus = new EmbeddedControlBus(state);
  return {
    nodes: new EmbeddedNodeRegistry(state),
    streams: new EmbeddedStreamRegistry(state),
    bus,
    state,
    close: () => {
      bus.close();
      return Promise.resolve();
    },
  };
}
