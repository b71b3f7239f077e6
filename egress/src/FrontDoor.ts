/**
 * The front door of a cluster: where `POST /whip` and `POST /whep/:id` land when the node
 * does not run the role itself. It checks what it can (the stream key; that the stream
 * exists and is live), picks a node and answers 307 to it with a short-lived signed ticket
 * in the Location, because browsers and Node's fetch drop `Authorization` on a cross-origin
 * redirect (OBS re-sends its bearer, and works either way).
 *
 * - WHIP goes to the ingest that holds the stream, so an OBS reconnect lands where its old
 *   session is and the takeover stays local; else to an ingest chosen by the policy.
 * - WHEP goes to a serving edge (relays excluded) chosen by the policy, edges already
 *   carrying the stream first (allocation.ts has the whole rule).
 *
 * Only nodes the registry saw recently are candidates; none, or all of them full -> 503 with
 * a jittered Retry-After (never an overloaded node).
 */
import {
  AppError,
  type AllocationMetrics,
  type AllocationPolicy,
  ConflictError,
  NotFoundError,
  ServiceUnavailableError,
  UnauthorizedError,
  createLogger,
  type ClusterAuth,
  type NodeRecord,
  type NodeRegistry,
  type StreamDirectory,
  type StreamKeyResolver,
  type StreamRegistry,
} from '@wisp/core';
import { Allocator } from './allocation.ts';

export interface FrontDoorOptions {
  nodes: NodeRegistry;
  streams: StreamRegistry;
  keys: StreamKeyResolver;
  directory: StreamDirectory;
  auth: ClusterAuth;
  notLiveRetryAfterSeconds: number;
  /**
   * Nodes whose last heartbeat is older than this are passed over while a fresher one
   * exists: a node that just died stays in the registry until its TTL, but misses its next
   * beat. Default 2500 ms (a 1.5 s heartbeat plus slack).
   */
  freshMs?: number;
  /** Retry-After when no node can take the request. Default 5 (plus 0-2 s of jitter). */
  unavailableRetryAfterSeconds?: number;
  /** `ALLOCATION_POLICY`. Default least-used. */
  policy?: AllocationPolicy;
  /** This front door's own `REGION`: a client's region when its request names none. */
  region?: string;
  /** Counts placements (`wisp_allocations_total`). */
  metrics?: AllocationMetrics | undefined;
}

/** What the front door knows about the client being placed. */
export interface ClientHints {
  /** The client's region (from the `REGION_HEADER` header or a `region` query parameter). */
  region?: string | undefined;
}

export class FrontDoor {
  readonly #options: FrontDoorOptions;
  readonly #log = createLogger('FrontDoor');
  readonly #allocator: Allocator;

  constructor(options: FrontDoorOptions) {
    this.#options = options;
    this.#allocator = new Allocator({ policy: options.policy ?? 'least-used' });
  }

  get policy(): AllocationPolicy {
    return this.#allocator.policy;
  }

  /** Where a publisher with `key` goes: an absolute URL with a publish ticket. */
  publishTarget(key: string | undefined, hints: ClientHints = {}): Promise<string> {
    return this.#counted('publish', () => this.#publishTarget(key, this.#region(hints)));
  }

  /** Where a viewer of `streamId` goes: an absolute URL with a view ticket. */
  viewTarget(streamId: string, hints: ClientHints = {}): Promise<string> {
    return this.#counted('view', () => this.#viewTarget(streamId, this.#region(hints)));
  }

  /** Runs a placement and counts what came of it (only placements: not 401/404/409). */
  async #counted(kind: 'publish' | 'view', place: () => Promise<string>): Promise<string> {
    const metrics = this.#options.metrics;
    try {
      const target = await this.#registry(place);
      metrics?.allocation(kind, 'redirected');
      return target;
    } catch (error) {
      if (error instanceof FullError) metrics?.allocation(kind, 'full');
      else if (error instanceof ServiceUnavailableError) metrics?.allocation(kind, 'unavailable');
      throw error;
    }
  }

  #region(hints: ClientHints): string | undefined {
    return hints.region || this.#options.region;
  }

  /** Redis unreachable (restarting): 503 with Retry-After, not a 500. */
  async #registry<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof AppError) throw error;
      this.#log.warn({ err: error }, 'registry unavailable');
      throw this.#unavailable('the cluster registry is unavailable, retry shortly');
    }
  }

  async #publishTarget(key: string | undefined, region: string | undefined): Promise<string> {
    if (!key) throw new UnauthorizedError('a stream key is required as the Bearer token');
    const streamId = await this.#options.keys.resolveStreamKey(key);
    if (!streamId) throw new UnauthorizedError('invalid stream key', true);
    const { nodes, streams, auth } = this.#options;
    const ingests = this.#fresh((await nodes.list('ingest')).filter((n) => n.state === 'serving'));
    const owner = await streams.owner(streamId);
    if (ingests.length === 0) throw this.#unavailable('no ingest node is available');
    const target = this.#allocator.pickIngest(streamId, ingests, owner?.node, region);
    if (!target) throw this.#unavailable('every ingest node is full', true);
    const ticket = await auth.issueTicket({ streamId, action: 'publish', node: target.id });
    this.#log.debug({ streamId, node: target.id }, 'publish redirected');
    return `${target.url}/whip?t=${ticket}`;
  }

  /** The stream a valid key publishes to, else undefined (who may get TURN credentials). */
  async publisherOf(key: string | undefined): Promise<string | undefined> {
    return key ? this.#options.keys.resolveStreamKey(key) : undefined;
  }

  /** May anyone watch `streamId`? (Every existing stream is public for now.) */
  mayView(streamId: string): Promise<boolean> {
    return this.#options.directory.streamExists(streamId);
  }

  async #viewTarget(streamId: string, region: string | undefined): Promise<string> {
    const { nodes, streams, auth, directory } = this.#options;
    if (!(await directory.streamExists(streamId))) throw new NotFoundError('no such stream');
    const owner = await streams.owner(streamId);
    if (!owner || !(await nodes.get(owner.node))) {
      const retryAfter = this.#options.notLiveRetryAfterSeconds;
      throw new ConflictError('the stream is not live', {
        headers: { 'Retry-After': String(retryAfter) },
        details: { live: false, retryAfter },
      });
    }
    const edges = this.#fresh(
      (await nodes.list('edge')).filter((n) => n.state === 'serving' && !n.relay),
    );
    if (edges.length === 0) throw this.#unavailable('no edge node is available');
    const carrying = new Set((await streams.copies(streamId)).map((c) => c.node));
    const target = this.#allocator.pickEdge(streamId, edges, carrying, region);
    if (!target) throw this.#unavailable('every edge node is full', true);
    const ticket = await auth.issueTicket({ streamId, action: 'view', node: target.id });
    this.#log.debug({ streamId, node: target.id }, 'view redirected');
    return `${target.url}/whep/${encodeURIComponent(streamId)}?t=${ticket}`;
  }

  /** The nodes seen within `freshMs`, or all of them when none is that fresh. */
  #fresh(candidates: NodeRecord[]): NodeRecord[] {
    const cutoff = Date.now() - (this.#options.freshMs ?? 2500);
    const fresh = candidates.filter((n) => n.lastSeen >= cutoff);
    return fresh.length > 0 ? fresh : candidates;
  }

  #unavailable(message: string, full = false): ServiceUnavailableError {
    const base = this.#options.unavailableRetryAfterSeconds ?? 5;
    // Jittered, so clients refused together don't all come back in the same second.
    const retryAfter = base + Math.floor(Math.random() * 3);
    return full
      ? new FullError(message, retryAfter)
      : new ServiceUnavailableError(message, retryAfter);
  }
}

/** 503 because every candidate is past its levels (not because there is none). */
class FullError extends ServiceUnavailableError {}
