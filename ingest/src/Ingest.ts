/**
 * The ingest role: accepts WHIP publishers, keeps one IngestStream per live stream, and
 * offers live streams to edges and the recorder (StreamSource). Publisher takeover: a new
 * publish with a stream's key replaces the current publisher at once (OBS reconnects by
 * POSTing a new session while the old one may still look alive, field-notes §1).
 */
import {
  KeyedMutex,
  NotFoundError,
  ServiceUnavailableError,
  TypedEmitter,
  UnauthorizedError,
  moduleLogger,
  generateSessionId,
  type LiveStatusProvider,
  type MediaConfig,
  type PublishRequest,
  type SessionConfig,
  type StreamCodecs,
  type StreamKeyResolver,
  type StreamMediaView,
} from '@wisp/core';
import {
  EndedSessions,
  type CloseReason,
  leaseLiveStream,
  type LiveStream,
  type StreamLease,
  type StreamSource,
  type WorkerPool,
} from '@wisp/core/rtc';
import { IngestStream } from './IngestStream.ts';
import type { WhipSession } from './WhipSession.ts';
import { planPublish } from './planPublish.ts';

const log = moduleLogger('Ingest');

/** One publisher session of a stream, as the events describe it (for the webhooks). */
export interface PublishedSession {
  streamId: string;
  sessionId: string;
  codecs: StreamCodecs;
  /** When the session went live (ms since the epoch). */
  startedAt: number;
}

export interface IngestEvents extends Record<string, unknown> {
  streamLive: PublishedSession;
  streamOffline: PublishedSession & { reason: CloseReason };
}

/** Who is publishing, as the WHIP endpoint saw the request (for the admission hook). */
export interface PublishClient {
  remoteAddress: string | null;
  userAgent: string | null;
}

export interface IngestOptions {
  pool: WorkerPool;
  keys: StreamKeyResolver;
  media: MediaConfig;
  session: SessionConfig;
  /**
   * Asked before a publish is accepted (after its key and offer were checked, before anything
   * is allocated or a live publisher replaced); throws (403) to refuse it. The publish hook.
   */
  admission?: (request: PublishRequest) => Promise<void>;
}

export class Ingest extends TypedEmitter<IngestEvents> implements StreamSource, LiveStatusProvider {
  readonly #options: IngestOptions;
  readonly #streams = new Map<string, IngestStream>();
  readonly #sessions = new Map<string, IngestStream>();
  readonly #mutex = new KeyedMutex();
  readonly #ended: EndedSessions;
  #closed = false;
  #draining = false;

  constructor(options: IngestOptions) {
    super();
    this.#options = options;
    this.#ended = new EndedSessions({ graceMs: options.session.deleteGraceMs });
  }

  /** Resolves a bearer stream key; 401 (no session, nothing leaked) when it is not valid. */
  async authenticate(key: string | undefined): Promise<string> {
    if (!key) throw new UnauthorizedError('a stream key is required as the Bearer token');
    const streamId = await this.#options.keys.resolveStreamKey(key);
    if (!streamId) throw new UnauthorizedError('invalid stream key', true);
    return streamId;
  }

  /**
   * Starts publishing `offerSdp` on the stream the key belongs to, or on the stream a
   * verified redirect ticket names (`{ streamId }`: the front door checked the key).
   */
  async publish(
    credential: string | undefined | { streamId: string },
    offerSdp: string,
    client: PublishClient = { remoteAddress: null, userAgent: null },
  ): Promise<WhipSession> {
    const streamId =
      typeof credential === 'object' ? credential.streamId : await this.authenticate(credential);
    if (this.#draining && !this.#streams.has(streamId)) {
      // A publisher reconnecting to its own stream may still take over here.
      throw new ServiceUnavailableError(
        'this ingest is draining: publish through the front door',
        2,
      );
    }
    // Validate completely before touching the current publisher or allocating anything.
    const plan = planPublish(offerSdp);
    await this.#options.admission?.({ streamId, ...client });
    return this.#mutex.run(streamId, async () => {
      const previous = this.#streams.get(streamId);
      if (previous) {
        log.info({ streamId, previousSession: previous.session.id }, 'publisher takeover');
        previous.close('replaced');
      }
      const stream = await IngestStream.create({
        streamId,
        sessionId: generateSessionId(),
        plan,
        pool: this.#options.pool,
        media: this.#options.media,
        session: this.#options.session,
      });
      if (this.#closed) {
        stream.close('shutdown');
        throw new NotFoundError('ingest is shutting down');
      }
      this.#streams.set(streamId, stream);
      this.#sessions.set(stream.session.id, stream);
      const published: PublishedSession = {
        streamId,
        sessionId: stream.session.id,
        codecs: Object.fromEntries(
          stream.mediaStatus().tracks.map((track) => [track.kind, track.codec]),
        ),
        startedAt: Date.now(),
      };
      stream.on('closed', ({ reason }) => {
        this.#sessions.delete(stream.session.id);
        this.#ended.add(stream.session.id, streamId, reason);
        if (this.#streams.get(streamId) === stream) this.#streams.delete(streamId);
        this.emit('streamOffline', { ...published, reason });
      });
      this.emit('streamLive', published);
      return stream.session;
    });
  }

  /** The session behind a WHIP session URL, checking the bearer is that stream's key. */
  async getSession(sessionId: string, key: string | undefined): Promise<WhipSession> {
    const stream = this.#sessions.get(sessionId);
    if (!stream) throw new NotFoundError('no such WHIP session');
    const streamId = await this.authenticate(key);
    if (streamId !== stream.streamId) throw new UnauthorizedError('invalid stream key', true);
    return stream.session;
  }

  /**
   * DELETE of a WHIP session: closes it, or, for a session that ended within the grace
   * period (the client closed the connection before sending DELETE), just succeeds. Either
   * way the bearer must be that stream's key.
   */
  async endSession(sessionId: string, key: string | undefined): Promise<void> {
    const streamId = this.#sessions.get(sessionId)?.streamId ?? this.#ended.streamOf(sessionId);
    if (!streamId) throw new NotFoundError('no such WHIP session');
    if ((await this.authenticate(key)) !== streamId) {
      throw new UnauthorizedError('invalid stream key', true);
    }
    this.#sessions.get(sessionId)?.session.close('deleted');
  }

  hasSession(sessionId: string): boolean {
    return this.#sessions.has(sessionId);
  }

  /** Ends the live publisher of a stream (its key was rotated or the stream deleted). */
  kick(streamId: string, reason: CloseReason): void {
    this.#streams.get(streamId)?.close(reason);
  }

  /** A lease on the live stream in this process (StreamSource); undefined when not live. */
  acquire(streamId: string): Promise<StreamLease | undefined> {
    const stream = this.#streams.get(streamId);
    return Promise.resolve(stream && !stream.closed ? leaseLiveStream(stream) : undefined);
  }

  /** The live stream's router and producers in this process, if live. */
  getLiveStream(streamId: string): LiveStream | undefined {
    return this.#streams.get(streamId);
  }

  /** How the live stream's tracks are doing (docs/api.md); undefined when not live. */
  mediaStatus(streamId: string): StreamMediaView | undefined {
    return this.#streams.get(streamId)?.mediaStatus();
  }

  isLive(streamId: string): boolean {
    return this.#streams.has(streamId);
  }

  /** Takes no new streams (503); live ones continue until they end. */
  drain(): void {
    this.#draining = true;
  }

  get liveStreamCount(): number {
    return this.#streams.size;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const stream of [...this.#streams.values()]) stream.close('shutdown');
    this.removeAllListeners();
  }
}
