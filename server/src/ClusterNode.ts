/**
 * This process as a member of the cluster (a single process is a cluster of one, on the
 * embedded registries): it heartbeats its node record with its load, holds the stream
 * registry entries of the streams it publishes (claim on live, refresh with each heartbeat,
 * release on offline) and of the copies it pulled, and turns control events into actions.
 *
 * Registry calls never block the media path: a failed heartbeat (Redis restarting) is
 * logged and retried on the next beat; sessions keep flowing meanwhile. A refresh that
 * finds a newer owner (a takeover on another ingest) ends the local publisher.
 */
import type {
  Cluster,
  ClusterConfig,
  NodeLimits,
  NodeLoad,
  NodeState,
  StreamOwner,
} from '@wisp/core';
import { createLogger } from '@wisp/core';

const log = createLogger('ClusterNode');

export interface CopyInfo {
  streamId: string;
  parent: string;
  hops: number;
  viewers: number;
}

export interface ClusterNodeOptions {
  cluster: Cluster;
  config: ClusterConfig;
  relay: boolean;
  /** This node's soft and hard levels, for the front door's allocation. */
  limits: NodeLimits;
  load: () => Promise<NodeLoad>;
  /** The pulled copies this node carries, refreshed with each heartbeat. */
  copies: () => CopyInfo[];
  /** A stream this node published was taken over elsewhere: end it here. */
  onSuperseded: (streamId: string) => void;
}

export class ClusterNode {
  readonly #options: ClusterNodeOptions;
  readonly #owned = new Map<string, Promise<StreamOwner | undefined>>();
  #state: NodeState = 'serving';
  #timer: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;
  #failing = false;
  #closed = false;

  constructor(options: ClusterNodeOptions) {
    this.#options = options;
  }

  /** Time-to-live of registry entries: three heartbeats. */
  get ttlMs(): number {
    return this.#options.config.heartbeatMs * 3;
  }

  get state(): NodeState {
    return this.#state;
  }

  /** Registers the node (the first heartbeat must succeed) and starts beating. */
  async start(): Promise<void> {
    await this.#beat(true);
    this.#timer = setInterval(() => void this.beat(), this.#options.config.heartbeatMs);
    this.#timer.unref();
  }

  /** One heartbeat now (also what `draining` uses to announce itself at once). */
  beat(): Promise<void> {
    this.#beating ??= this.#beat(false).finally(() => (this.#beating = undefined));
    return this.#beating;
  }

  async #beat(first: boolean): Promise<void> {
    const { cluster, config } = this.#options;
    const ttl = this.ttlMs;
    try {
      await cluster.nodes.heartbeat(
        {
          id: config.nodeId,
          roles: config.roles,
          url: config.nodeUrl,
          internalUrl: config.internalUrl,
          region: config.region,
          state: this.#state,
          relay: this.#options.relay,
          pid: process.pid,
          load: await this.#options.load(),
          limits: this.#options.limits,
        },
        ttl,
      );
      for (const [streamId, claim] of this.#owned) {
        const owner = await claim;
        if (!owner || this.#owned.get(streamId) !== claim) continue;
        if (!(await cluster.streams.refresh(streamId, owner, ttl))) {
          // Expired (Redis lost it) or superseded: a newer owner wins; else claim again.
          const current = await cluster.streams.owner(streamId);
          if (current && (current.node !== config.nodeId || current.epoch > owner.epoch)) {
            log.info({ streamId, owner: current }, 'stream taken over by another node');
            this.#owned.delete(streamId);
            this.#options.onSuperseded(streamId);
          } else {
            this.#owned.set(streamId, cluster.streams.claim(streamId, config.nodeId, ttl));
          }
        }
      }
      for (const copy of this.#options.copies()) {
        await cluster.streams.putCopy(
          copy.streamId,
          { node: config.nodeId, parent: copy.parent, viewers: copy.viewers, hops: copy.hops },
          ttl,
        );
      }
      if (this.#failing) log.info('registry reachable again; node re-registered');
      this.#failing = false;
    } catch (error) {
      if (first) throw error;
      if (!this.#failing) log.warn({ err: error }, 'heartbeat failed; media keeps flowing');
      this.#failing = true;
    }
  }

  /** The stream went live here: claim it and tell the cluster. */
  streamLive(streamId: string): void {
    const { cluster, config } = this.#options;
    const claim = cluster.streams
      .claim(streamId, config.nodeId, this.ttlMs)
      .then(async (owner) => {
        await cluster.bus.publish({
          type: 'streamLive',
          streamId,
          node: config.nodeId,
          epoch: owner.epoch,
        });
        return owner;
      })
      .catch((error: unknown) => {
        log.warn({ err: error, streamId }, 'could not claim the stream; retried on heartbeat');
        return undefined;
      });
    this.#owned.set(streamId, claim);
  }

  /** The stream went offline here: release it (unless another node owns it by now). */
  streamOffline(streamId: string, reason: string): void {
    const claim = this.#owned.get(streamId);
    if (!claim) return;
    this.#owned.delete(streamId);
    const { cluster, config } = this.#options;
    void claim
      .then(async (owner) => {
        if (!owner) return;
        await cluster.streams.release(streamId, owner);
        await cluster.bus.publish({
          type: 'streamOffline',
          streamId,
          node: config.nodeId,
          epoch: owner.epoch,
          reason,
        });
      })
      .catch((error: unknown) => log.warn({ err: error, streamId }, 'could not release'));
  }

  /** A copy was pulled or dropped: update the registry now rather than on the next beat. */
  copyChanged(copy: CopyInfo | { streamId: string; dropped: true }): void {
    const { cluster, config } = this.#options;
    const change =
      'dropped' in copy
        ? cluster.streams.removeCopy(copy.streamId, config.nodeId)
        : cluster.streams.putCopy(
            copy.streamId,
            { node: config.nodeId, parent: copy.parent, viewers: copy.viewers, hops: copy.hops },
            this.ttlMs,
          );
    void change.catch((error: unknown) => log.warn({ err: error }, 'could not update copy'));
  }

  /** Takes no new viewers or streams from now on (announced at once). */
  async drain(): Promise<void> {
    this.#state = 'draining';
    await this.beat();
  }

  /** Leaves the registry. */
  async stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#beating?.catch(() => undefined);
    const { cluster, config } = this.#options;
    await Promise.allSettled(
      [...this.#owned].map(async ([streamId, claim]) => {
        const owner = await claim;
        if (owner) await cluster.streams.release(streamId, owner);
      }),
    );
    for (const copy of this.#options.copies()) {
      await cluster.streams.removeCopy(copy.streamId, config.nodeId).catch(() => undefined);
    }
    await cluster.nodes.remove(config.nodeId).catch(() => undefined);
  }
}
