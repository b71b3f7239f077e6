/**
 * The edge role: WHEP viewers. Each viewed stream gets an EdgeStream holding one lease from
 * the StreamSource; a viewer's session lives on one of its fan-out routers. In one process
 * the source is the local ingest; in a cluster it pipes the stream from the node that has it.
 */
import {
  ConflictError,
  KeyedMutex,
  NotFoundError,
  ServiceUnavailableError,
  createLogger,
  generateSessionId,
  type EdgeConfig,
  type MediaConfig,
  type SessionConfig,
  type StreamDirectory,
} from '@wisp/core';
import { EndedSessions, parseOffer, type StreamSource, type WorkerPool } from '@wisp/core/rtc';
import { EdgeStream } from './EdgeStream.ts';
import { WhepSession } from './WhepSession.ts';
import { planView } from './planView.ts';

export interface EdgeOptions {
  pool: WorkerPool;
  source: StreamSource;
  directory: StreamDirectory;
  media: MediaConfig;
  session: SessionConfig;
  edge: EdgeConfig;
  /**
   * `NODE_HARD_VIEWERS`: viewers beyond this get 503 + Retry-After here even when a front
   * door sent them (several front doors see each other's placements a heartbeat late).
   */
  maxViewers?: number;
}

export class Edge {
  readonly #options: EdgeOptions;
  readonly #streams = new Map<string, EdgeStream>();
  readonly #sessions = new Map<string, WhepSession>();
  readonly #mutex = new KeyedMutex();
  readonly #log = createLogger('Edge');
  readonly #ended: EndedSessions;
  #closed = false;
  #draining = false;
  /** view() calls past the limit check and not yet settled. */
  #joining = 0;

  constructor(options: EdgeOptions) {
    this.#options = options;
    this.#ended = new EndedSessions({ graceMs: options.session.deleteGraceMs });
  }

  /**
   * Starts a viewer session. 404 when the stream does not exist; 409 with Retry-After when it
   * exists but is not live (WHEP §4.3.8; the player waits and retries).
   */
  async view(streamId: string, offerSdp: string): Promise<WhepSession> {
    if (this.#draining) {
      throw new ServiceUnavailableError('this edge is draining: join through the front door', 2);
    }
    const max = this.#options.maxViewers;
    // Joins still being set up count too, so concurrent POSTs cannot overshoot the limit.
    if (max !== undefined && this.#sessions.size + this.#joining >= max) {
      throw new ServiceUnavailableError(
        `this edge is full (${max} viewers)`,
        2 + Math.floor(Math.random() * 4),
      );
    }
    // Malformed SDP is refused before anything is acquired.
    const offer = parseOffer(offerSdp);
    this.#joining++;
    try {
      return await this.#join(streamId, offer);
    } finally {
      this.#joining--;
    }
  }

  #join(streamId: string, offer: ReturnType<typeof parseOffer>): Promise<WhepSession> {
    return this.#mutex.run(streamId, async () => {
      if (this.#closed) throw new NotFoundError('edge is shutting down');
      const stream = await this.#streamFor(streamId);
      let plan;
      try {
        plan = planView(offer, stream.tracks);
      } catch (error) {
        if (stream.idle) stream.close('deleted');
        throw error;
      }
      const reservation = await stream.reserve(plan);
      let session: WhepSession;
      try {
        session = await WhepSession.create({
          id: generateSessionId(),
          streamId,
          router: reservation.router,
          producerIds: reservation.producerIds,
          plan,
          media: this.#options.media,
          session: this.#options.session,
        });
      } catch (error) {
        reservation.release();
        // The publisher left while this viewer was being set up.
        if (stream.lease.closed) throw this.#notLive();
        throw error;
      }
      reservation.attach(session);
      this.#sessions.set(session.id, session);
      session.once('closed', ({ reason }) => {
        this.#sessions.delete(session.id);
        this.#ended.add(session.id, session.streamId, reason);
      });
      this.#log.debug(
        { streamId, sessionId: session.id, viewers: stream.viewerCount },
        'viewer joined',
      );
      return session;
    });
  }

  /** The stream's EdgeStream, acquiring the stream from the source for its first viewer. */
  async #streamFor(streamId: string): Promise<EdgeStream> {
    const current = this.#streams.get(streamId);
    if (current && !current.closed && !current.lease.closed) return current;
    const lease = await this.#options.source.acquire(streamId);
    if (!lease || lease.closed) {
      if (!(await this.#options.directory.streamExists(streamId))) {
        throw new NotFoundError('no such stream');
      }
      throw this.#notLive();
    }
    if (this.#closed) {
      lease.release();
      throw new NotFoundError('edge is shutting down');
    }
    const stream = new EdgeStream({
      lease,
      pool: this.#options.pool,
      viewersPerRouter: this.#options.edge.viewersPerRouter,
      serveFromSource: this.#options.edge.serveFromSource,
    });
    this.#streams.set(streamId, stream);
    stream.once('closed', () => {
      if (this.#streams.get(streamId) === stream) this.#streams.delete(streamId);
    });
    return stream;
  }

  #notLive(): ConflictError {
    const retryAfter = this.#options.edge.notLiveRetryAfterSeconds;
    return new ConflictError('the stream is not live', {
      headers: { 'Retry-After': String(retryAfter) },
      details: { live: false, retryAfter },
    });
  }

  /**
   * Whether a caller without a token may watch `streamId`, which earns it the TURN servers of
   * an OPTIONS (core/src/turn.ts). Every existing stream is public today.
   */
  async mayView(streamId: string): Promise<boolean> {
    return this.#options.directory.streamExists(streamId);
  }

  getSession(streamId: string, sessionId: string): WhepSession {
    const session = this.#sessions.get(sessionId);
    if (!session || session.streamId !== streamId) throw new NotFoundError('no such WHEP session');
    return session;
  }

  /** DELETE of a WHEP session: closes it; one that ended within the grace period succeeds. */
  endSession(streamId: string, sessionId: string): void {
    const session = this.#sessions.get(sessionId);
    if (session && session.streamId === streamId) {
      session.close('deleted');
      return;
    }
    if (this.#ended.streamOf(sessionId) !== streamId) {
      throw new NotFoundError('no such WHEP session');
    }
  }

  viewerCount(streamId?: string): number {
    if (streamId !== undefined) return this.#streams.get(streamId)?.viewerCount ?? 0;
    return this.#sessions.size;
  }

  /** What the viewers receive right now, summed over their transports (kbit/s). */
  async egressKbps(): Promise<number> {
    const stats = await Promise.all(
      [...this.#sessions.values()].map((s) =>
        s.peer.transport.getStats().catch(() => [] as { sendBitrate?: number }[]),
      ),
    );
    const bps = stats.flat().reduce((sum, s) => sum + (s.sendBitrate ?? 0), 0);
    return Math.round(bps / 1000);
  }

  /** Takes no new viewers (503); the ones here stay until they leave. */
  drain(): void {
    this.#draining = true;
  }

  get streamCount(): number {
    return this.#streams.size;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const stream of [...this.#streams.values()]) stream.close('shutdown');
  }
}
