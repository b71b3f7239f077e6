/**
 * A live stream on this ingest: one mediasoup router holding the current publisher's
 * producers. It lives exactly as long as its WhipSession; a publisher takeover closes the old
 * IngestStream and opens a new one, so edges see a clean "offline, then live" cycle. Each
 * producer has a TrackMonitor, so the stream's status tells whether its media is usable.
 */
import type { types as ms } from 'mediasoup';
import {
  TypedEmitter,
  clientParameterError,
  createLogger,
  type MediaConfig,
  type SessionConfig,
  type StreamMediaView,
} from '@wisp/core';
import { routerCodec, type CloseReason, type LiveStream, type WorkerPool } from '@wisp/core/rtc';
import { TrackMonitor } from './TrackMonitor.ts';
import { WhipSession, type PublishPlan } from './WhipSession.ts';

export interface IngestStreamEvents extends Record<string, unknown> {
  closed: { reason: CloseReason };
}

/** How the tracks are judged (TrackMonitor); the defaults suit production. */
export interface MediaHealthOptions {
  /** Video without a keyframe for this long is `no-keyframe` and logged. Default 5000 ms. */
  noKeyframeAfterMs?: number;
  /** How often the producers' counters are read. Default 1000 ms. */
  pollIntervalMs?: number;
}

export interface IngestStreamOptions {
  streamId: string;
  sessionId: string;
  plan: PublishPlan;
  pool: WorkerPool;
  media: MediaConfig;
  session: SessionConfig;
  mediaHealth?: MediaHealthOptions;
}

export class IngestStream extends TypedEmitter<IngestStreamEvents> implements LiveStream {
  readonly streamId: string;
  readonly router: ms.Router;
  readonly session: WhipSession;
  readonly #monitors: TrackMonitor[];
  #closed = false;

  private constructor(
    streamId: string,
    router: ms.Router,
    session: WhipSession,
    monitors: TrackMonitor[],
  ) {
    super();
    this.streamId = streamId;
    this.router = router;
    this.session = session;
    this.#monitors = monitors;
    session.on('closed', ({ reason }) => this.close(reason));
  }

  static async create(options: IngestStreamOptions): Promise<IngestStream> {
    const { plan } = options;
    const router = await options.pool
      .createRouter(
        // The publisher's own payload types, audio first (mediasoup allocates RTX payload
        // types after each codec): viewers that number codecs the same way can then be served
        // from this router directly (EDGE_SERVE_FROM_SOURCE).
        [...plan.accepted]
          .sort((a, b) =>
            a.section.kind === b.section.kind ? 0 : a.section.kind === 'audio' ? -1 : 1,
          )
          .map(({ section, codec }) => routerCodec(section.kind, codec, codec.payloadType)),
        { streamId: options.streamId, role: 'ingest' },
      )
      .catch((error: unknown) => {
        throw clientParameterError(error, 'the offered codecs');
      });
    let session: WhipSession | undefined;
    try {
      session = await WhipSession.create({
        id: options.sessionId,
        streamId: options.streamId,
        router,
        plan,
        media: options.media,
        session: options.session,
      });
      // Before the answer goes out, so no keyframe can pass unseen.
      const monitors = await Promise.all(
        session.producers.map((producer) =>
          TrackMonitor.create({
            producer,
            streamId: options.streamId,
            sessionId: options.sessionId,
            mid: typeof producer.appData.mid === 'string' ? producer.appData.mid : '',
            ...options.mediaHealth,
          }),
        ),
      );
      const stream = new IngestStream(options.streamId, router, session, monitors);
      createLogger('IngestStream', { streamId: options.streamId }).info('live');
      return stream;
    } catch (error) {
      session?.close('error');
      router.close();
      throw error;
    }
  }

  /** What each track receives, and whether viewers can use it (docs/api.md). */
  mediaStatus(): StreamMediaView {
    return { tracks: this.#monitors.map((monitor) => monitor.view()) };
  }

  get producers(): readonly ms.Producer[] {
    return this.session.producers;
  }

  get closed(): boolean {
    return this.#closed;
  }

  onClosed(listener: () => void): () => void {
    if (this.#closed) {
      listener();
      return () => undefined;
    }
    return this.once('closed', () => listener());
  }

  close(reason: CloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const monitor of this.#monitors) monitor.close();
    this.session.close(reason);
    this.router.close();
    createLogger('IngestStream', { streamId: this.streamId }).info({ reason }, 'offline');
    this.emit('closed', { reason });
    this.removeAllListeners();
  }
}
