/**
 * The edge role: WHEP viewers. Each viewed stream gets an EdgeStream fed from the live
 * source; a viewer's session lives on one of its fan-out routers. In one process the source
 * is the local ingest; a cluster pipes from remote ingests (the cascade issue).
 */
import {
  ConflictError,
  EndedSessions,
  KeyedMutex,
  NotFoundError,
  createLogger,
  generateSessionId,
  type LiveStreamSource,
  type MediaConfig,
  type SessionConfig,
  type StreamDirectory,
  type WorkerPool,
} from '@wisp/core';
import { EdgeStream } from './EdgeStream.ts';
import { WhepSession } from './WhepSession.ts';
import { planView } from './planView.ts';

export interface EdgeOptions {
  pool: WorkerPool;
  source: LiveStreamSource;
  directory: StreamDirectory;
  media: MediaConfig;
  session: SessionConfig;
}

export class Edge {
  readonly #options: EdgeOptions;
  readonly #streams = new Map<string, EdgeStream>();
  readonly #sessions = new Map<string, WhepSession>();
  readonly #mutex = new KeyedMutex();
  readonly #log = createLogger('Edge');
  readonly #ended: EndedSessions;
  #closed = false;

  constructor(options: EdgeOptions) {
    this.#options = options;
    this.#ended = new EndedSessions({ graceMs: options.session.deleteGraceMs });
  }

  /**
   * Starts a viewer session. 404 when the stream does not exist; 409 with Retry-After when it
   * exists but is not live (WHEP §4.3.8; the player waits and retries).
   */
  async view(streamId: string, offerSdp: string): Promise<WhepSession> {
    const live = this.#options.source.getLiveStream(streamId);
    if (!live || live.closed) {
      if (!(await this.#options.directory.streamExists(streamId))) {
        throw new NotFoundError('no such stream');
      }
      throw this.#notLive();
    }
    const plan = planView(offerSdp, live.producers);
    return this.#mutex.run(streamId, async () => {
      if (this.#closed) throw new NotFoundError('edge is shutting down');
      if (live.closed) throw this.#notLive();
      let stream = this.#streams.get(streamId);
      if (!stream || stream.closed || stream.source !== live) {
        stream = new EdgeStream({
          source: live,
          pool: this.#options.pool,
          viewersPerRouter: this.#options.media.viewersPerRouter,
          serveFromSource: this.#options.media.serveFromSource,
        });
        const created = stream;
        this.#streams.set(streamId, created);
        created.once('closed', () => {
          if (this.#streams.get(streamId) === created) this.#streams.delete(streamId);
        });
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
        if (live.closed) throw this.#notLive();
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

  #notLive(): ConflictError {
    const retryAfter = this.#options.session.notLiveRetryAfterSeconds;
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

  get streamCount(): number {
    return this.#streams.size;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const stream of [...this.#streams.values()]) stream.close('shutdown');
  }
}
