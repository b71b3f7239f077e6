/**
 * The cluster: the node registry, the stream registry and the control bus, either in memory
 * for a single process (`embedded`) or on Redis for nodes in separate processes (`redis`).
 */
import type { ControlBus } from './ControlBus.ts';
import { createEmbeddedCluster, type EmbeddedClusterState } from './embedded.ts';
import type { NodeRegistry } from './NodeRegistry.ts';
import { connectRedisCluster, type RedisClusterOptions } from './redis.ts';
import type { StreamRegistry } from './StreamRegistry.ts';

export type { ControlBus, ControlEvent, ControlEventType } from './ControlBus.ts';
export { isControlEvent } from './ControlBus.ts';
export type { NodeLoad, NodeRecord, NodeRegistry, NodeRole, NodeState } from './NodeRegistry.ts';
export { assertClusterId, assertTtlMs } from './NodeRegistry.ts';
export type { LoadLevel, NodeLimits, Threshold } from './limits.ts';
export { loadLevel, utilisation } from './limits.ts';
export type { StreamCopy, StreamOwner, StreamRegistry } from './StreamRegistry.ts';
export {
  createEmbeddedCluster,
  EmbeddedClusterState,
  EmbeddedControlBus,
  EmbeddedNodeRegistry,
  EmbeddedStreamRegistry,
} from './embedded.ts';
export type { EmbeddedCluster } from './embedded.ts';
export {
  connectRedisCluster,
  RedisControlBus,
  RedisNodeRegistry,
  RedisStreamRegistry,
} from './redis.ts';
export type { RedisCluster, RedisClusterOptions } from './redis.ts';

/** The three cluster services of one process, whatever holds them. */
export interface Cluster {
  nodes: NodeRegistry;
  streams: StreamRegistry;
  bus: ControlBus;
  /** Drops this process's bus subscriptions and connections. Idempotent. */
  close(): Promise<void>;
  /**
   * Whether the backend answers within `timeoutMs` (Redis: the command connection answers a
   * PING and the bus's subscriber is connected). Absent for the embedded (in-memory) cluster.
   */
  ping?(timeoutMs: number): Promise<boolean>;
}

/** Which cluster backend createCluster opens. */
export type CreateClusterOptions =
  | {
      kind: 'embedded';
      /** Share the data of another embedded cluster (tests); default a fresh, empty one. */
      state?: EmbeddedClusterState;
    }
  | ({ kind: 'redis' } & RedisClusterOptions);

/**
 * Opens the cluster services: in memory for `embedded`, on Redis (connecting, and rejecting
 * with a clear error when Redis cannot be reached) for `redis`.
 */
export async function createCluster(options: CreateClusterOptions): Promise<Cluster> {
  switch (options.kind) {
    case 'embedded':
      return Promise.resolve(createEmbeddedCluster(options.state));
    case 'redis':
      return connectRedisCluster(options);
  }
}
