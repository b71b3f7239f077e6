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
import type { EventStream, WhepEventName } from './WhepEvents.ts';

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
  /**
   * How many watch a stream, for the `viewercount` event: in a cluster this edge's `local`
   * viewers plus the other nodes' (the stream registry). Default: `local`.
   */
  audience?: (streamId: string, local: number) => Promise<number>;
  /** Quiet time before a changed count is sent (`viewercount` is debounced). Default 1000 ms. */
  viewercountDebounceMs?: number;
  /** How often counts are re-read for subscribers (other edges' viewers). Default 5000 ms. */
  viewercountRefreshMs?: number;
}

/** How a draining edge moves its viewers (`drain()`). */
export interface DrainPlan {
  /** The viewers are moved one by one over this long, in a random order (`DRAIN_SPREAD_MS`). */
  spreadMs: number;
  /** After a `reconnect` event, how long the old session is kept for the player's new one. */
  graceMs: number;
  /** Where a viewer reconnects: the stream's WHEP URL on the front door. */
  reconnectUrl: (streamId: string) => string;
  random?: () => number;
}

export class Edge {
  readonly #options: EdgeOptions;
  readonly #streams = new Map<string, EdgeStream>();
  readonly #sessions = new Map<string, WhepSession>();
  readonly #mutex = new KeyedMutex();
  readonly #log = createLogger('Edge');
  readonly #ended: EndedSessions;
  /** Pending debounced `viewercount` updates, per stream. */
  readonly #countTimers = new Map<string, NodeJS.Timeout>();
  #countRefresh: NodeJS.Timeout | undefined;
  readonly #drainTimers = new Set<NodeJS.Timeout>();
  /** Streams handed over (their parent drains): viewers are being moved off them. */
  readonly #retired = new Map<EdgeStream, DrainPlan>();
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
      // Joined the stream while it was being handed over: moved along with the others.
      const handOver = this.#retired.get(stream);
      if (handOver) this.#later(0, () => this.#move(session, handOver));
      this.#sessions.set(session.id, session);
      session.once('closed', ({ reason }) => {
        this.#sessions.delete(session.id);
        this.#ended.add(session.id, session.streamId, reason);
        this.#viewersChanged(streamId);
      });
      this.#viewersChanged(streamId);
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
    if (streamId === undefined) return this.#sessions.size;
    let count = this.#streams.get(streamId)?.viewerCount ?? 0;
    for (const stream of this.#retired.keys()) {
      if (stream.streamId === streamId) count += stream.viewerCount;
    }
    return count;
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

  /**
   * A new event stream on a session (WHEP events extension). It starts with `active` (the
   * stream is live while a session exists) and the current `viewercount` when asked for.
   * Undefined when the session holds too many already.
   */
  subscribeEvents(
    streamId: string,
    sessionId: string,
    events: readonly WhepEventName[],
  ): EventStream | undefined {
    const session = this.getSession(streamId, sessionId);
    const stream = session.events.subscribe(events);
    if (!stream) return undefined;
    stream.send('active', {});
    if (stream.events.has('viewercount')) {
      this.#countRefresh ??= setInterval(() => {
        const streams = new Set<string>();
        for (const s of this.#sessions.values())
          if (s.events.wants('viewercount')) streams.add(s.streamId);
        for (const id of streams) this.#viewersChanged(id, 0);
      }, this.#options.viewercountRefreshMs ?? 5000);
      this.#countRefresh.unref();
      this.#viewersChanged(streamId, 0);
    }
    return stream;
  }

  /** Sends the stream's viewer count to its subscribers, once the count has settled. */
  #viewersChanged(streamId: string, delayMs = this.#options.viewercountDebounceMs ?? 1000): void {
    if (this.#closed || this.#countTimers.has(streamId)) return;
    const timer = setTimeout(() => {
      const sessions = [...this.#sessions.values()].filter((s) => s.streamId === streamId);
      if (!sessions.some((s) => s.events.wants('viewercount'))) {
        this.#countTimers.delete(streamId);
        return;
      }
      const local = this.viewerCount(streamId);
      const audience = this.#options.audience ?? ((_id: string, n: number) => Promise.resolve(n));
      void audience(streamId, local)
        .catch(() => local)
        .then((count) => {
          this.#countTimers.delete(streamId);
          for (const session of sessions) session.events.sendViewercount(count);
        });
    }, delayMs);
    timer.unref();
    this.#countTimers.set(streamId, timer);
  }

  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Takes no new viewers (503). With a plan, moves the viewers here to other edges: one by
   * one over `spreadMs`, in a random order (each at a random moment of its slot), so a
   * thousand viewers do not land on one other edge at once. A viewer subscribed to `reconnect`
   * is sent one (its player makes a new session through the front door, then DELETEs this
   * one) and its session is closed after `graceMs` at the latest; the others are closed at
   * once, and their clients reconnect by themselves. Without a plan the viewers stay until
   * they leave.
   */
  drain(plan?: DrainPlan): void {
    if (this.#draining) return;
    this.#draining = true;
    if (!plan) return;
    this.#log.info({ viewers: this.#sessions.size }, 'draining: moving viewers to other edges');
    this.#moveAll([...this.#sessions.values()], plan);
  }

  /**
   * The node this edge pulls `streamId` from drains (RemoteSource `parentDraining`): the
   * stream's next viewer gets a new EdgeStream, on a new pull from another parent, and the
   * viewers of the old one are moved as in a drain. They come back through the front door,
   * most likely to this edge (it carries the stream) and its new pull. The old EdgeStream,
   * and with it the old pipe, goes once the last of them has left.
   */
  handOver(streamId: string, plan: DrainPlan): void {
    const stream = this.#streams.get(streamId);
    if (!stream || this.#closed) return;
    this.#streams.delete(streamId);
    this.#retired.set(stream, plan);
    stream.once('closed', () => this.#retired.delete(stream));
    const sessions = [...this.#sessions.values()].filter((s) => s.streamId === streamId);
    this.#log.info({ streamId, viewers: sessions.length }, 'parent draining: moving viewers');
    this.#moveAll(sessions, plan);
  }

  /** Moves `sessions` one by one over the plan's spread, in a random order. */
  #moveAll(sessions: WhepSession[], plan: DrainPlan): void {
    const random = plan.random ?? Math.random;
    // Fisher-Yates: the order viewers are moved in.
    for (let i = sessions.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [sessions[i], sessions[j]] = [sessions[j], sessions[i]];
    }
    const slot = sessions.length > 0 ? plan.spreadMs / sessions.length : 0;
    sessions.forEach((session, i) => {
      this.#later(Math.round(slot * (i + random())), () => this.#move(session, plan));
    });
  }

  #move(session: WhepSession, plan: DrainPlan): void {
    if (session.closed) return;
    const url = plan.reconnectUrl(session.streamId);
    if (session.events.send('reconnect', { url }) > 0) {
      this.#log.debug({ sessionId: session.id, url }, 'viewer asked to reconnect');
      this.#later(plan.graceMs, () => session.close('drained'));
    } else {
      session.close('drained');
    }
  }

  #later(delayMs: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.#drainTimers.delete(timer);
      run();
    }, delayMs);
    this.#drainTimers.add(timer);
  }

  get streamCount(): number {
    return this.#streams.size;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#drainTimers) clearTimeout(timer);
    this.#drainTimers.clear();
    for (const timer of this.#countTimers.values()) clearTimeout(timer);
    this.#countTimers.clear();
    clearInterval(this.#countRefresh);
    for (const stream of [...this.#streams.values(), ...this.#retired.keys()]) {
      stream.close('shutdown');
    }
  }
}
