/**
 * A live stream on this ingest: one mediasoup router holding the current publisher's
 * producers. It lives exactly as long as its WhipSession; a publisher takeover closes the old
 * IngestStream and opens a new one, so edges see a clean "offline, then live" cycle.
 */
import type { types as ms } from 'mediasoup';
import {
  TypedEmitter,
  clientParameterError,
  createLogger,
  routerCodec,
  type CloseReason,
  type LiveStream,
  type MediaConfig,
  type SessionConfig,
  type WorkerPool,
} from '@wisp/core';
import { WhipSession, type PublishPlan } from './WhipSession.ts';

export interface IngestStreamEvents extends Record<string, unknown> {
  closed: { reason: CloseReason };
}

export class IngestStream extends TypedEmitter<IngestStreamEvents> implements LiveStream {
  readonly streamId: string;
  readonly router: ms.Router;
  readonly session: WhipSession;
  #closed = false;

  private constructor(streamId: string, router: ms.Router, session: WhipSession) {
    super();
    this.streamId = streamId;
    this.router = router;
    this.session = session;
    session.on('closed', ({ reason }) => this.close(reason));
  }

  static async create(options: {
    streamId: string;
    sessionId: string;
    plan: PublishPlan;
    pool: WorkerPool;
    media: MediaConfig;
    session: SessionConfig;
  }): Promise<IngestStream> {
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
    try {
      const session = await WhipSession.create({
        id: options.sessionId,
        streamId: options.streamId,
        router,
        plan,
        media: options.media,
        session: options.session,
      });
      const stream = new IngestStream(options.streamId, router, session);
      createLogger('IngestStream', { streamId: options.streamId }).info('live');
      return stream;
    } catch (error) {
      router.close();
      throw error;
    }
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
    this.session.close(reason);
    this.router.close();
    createLogger('IngestStream', { streamId: this.streamId }).info({ reason }, 'offline');
    this.emit('closed', { reason });
    this.removeAllListeners();
  }
}
