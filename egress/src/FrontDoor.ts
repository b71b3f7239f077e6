/**
 * The front door of a cluster: where `POST /whip` and `POST /whep/:id` land when the node
 * does not run the role itself. It checks what it can (the stream key; that the stream
 * exists and is live), picks a node and answers 307 to it with a short-lived signed ticket
 * in the Location, because browsers and Node's fetch drop `Authorization` on a cross-origin
 * redirect (OBS re-sends its bearer, and works either way).
 *
 * - WHIP goes to the ingest that holds the stream, so an OBS reconnect lands where its old
 *   session is and the takeover stays local; else to the ingest with the fewest streams.
 * - WHEP goes to a serving edge (relays excluded): one already carrying the stream first,
 *   then the fewest viewers (allocation policies are the next issue).
 *
 * Only nodes the registry saw within their TTL are candidates; none -> 503 + Retry-After.
 */
import {
  AppError,
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
  /** Retry-After when no node can take the request. Default 5. */
  unavailableRetryAfterSeconds?: number;
}

export class FrontDoor {
  readonly #options: FrontDoorOptions;
  readonly #log = createLogger('FrontDoor');

  constructor(options: FrontDoorOptions) {
    this.#options = options;
  }

  /** Where a publisher with `key` goes: an absolute URL with a publish ticket. */
  publishTarget(key: string | undefined): Promise<string> {
    return this.#registry(() => this.#publishTarget(key));
  }

  /** Where a viewer of `streamId` goes: an absolute URL with a view ticket. */
  viewTarget(streamId: string): Promise<string> {
    return this.#registry(() => this.#viewTarget(streamId));
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

  async #publishTarget(key: string | undefined): Promise<string> {
    if (!key) throw new UnauthorizedError('a stream key is required as the Bearer token');
    const streamId = await this.#options.keys.resolveStreamKey(key);
    if (!streamId) throw new UnauthorizedError('invalid stream key', true);
    const { nodes, streams, auth } = this.#options;
    const ingests = this.#fresh((await nodes.list('ingest')).filter((n) => n.state === 'serving'));
    const owner = await streams.owner(streamId);
    const target =
      ingests.find((n) => n.id === owner?.node) ??
      ingests.sort((a, b) => a.load.streams - b.load.streams || a.id.localeCompare(b.id))[0];
    if (!target) throw this.#unavailable('no ingest node is available');
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

  async #viewTarget(streamId: string): Promise<string> {
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
    const carrying = new Set((await streams.copies(streamId)).map((c) => c.node));
    const target = pickEdge(edges, carrying);
    if (!target) throw this.#unavailable('no edge node is available');
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

  #unavailable(message: string): ServiceUnavailableError {
    const base = this.#options.unavailableRetryAfterSeconds ?? 5;
    // Jittered, so clients refused together don't all come back in the same second.
    return new ServiceUnavailableError(message, base + Math.floor(Math.random() * 3));
  }
}

/** Edges already carrying the stream first, then the fewest viewers, then by id. */
export function pickEdge(
  edges: readonly NodeRecord[],
  carrying: ReadonlySet<string>,
): NodeRecord | undefined {
  return [...edges].sort(
    (a, b) =>
      Number(carrying.has(b.id)) - Number(carrying.has(a.id)) ||
      a.load.viewers - b.load.viewers ||
      a.id.localeCompare(b.id),
  )[0];
}
