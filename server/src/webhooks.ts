/**
 * The webhooks of one node: which component's events become which webhook event, the
 * dispatcher that delivers the outbox, and the publish admission hook the ingest asks.
 *
 * Each event is queued once in the cluster, by the node where it happens: stream.started and
 * stream.ended by the ingest holding the publisher (it knows the session, codecs, duration
 * and reason), stream.key_rotated and stream.deleted by the control node that made the
 * change, recording.ready and recording.failed by the recorder that finalized the
 * recording. Every node with `WEBHOOK_URLS` delivers, claiming from the shared outbox with
 * leases, so each delivery goes out once (at least once across crashes).
 */
import {
  PublishHook,
  WebhookDispatcher,
  WebhookEmitter,
  WebhookSigner,
  createLogger,
  type RecordingRecord,
  type StateStore,
  type WebhooksConfig,
  type RecordingEventData,
} from '@wisp/core';
import type { StreamService } from '@wisp/control';
import type { Ingest } from '@wisp/ingest';
import type { Recorder } from '@wisp/recorder/media';

const log = createLogger('Webhooks');

export interface AttachOptions {
  nodeId: string;
  streams: StreamService;
  ingest?: Ingest;
  recorder?: Recorder;
  /** The API's view of a recording (its URLs). */
  recordingView: (record: RecordingRecord) => {
    id: string;
    hlsUrl: string;
    posterUrl: string;
    durationSeconds: number;
    endedAt: string | null;
  };
}

export class PlatformWebhooks {
  readonly emitter: WebhookEmitter | undefined;
  readonly dispatcher: WebhookDispatcher | undefined;
  readonly hook: PublishHook | undefined;
  readonly #detach: (() => void)[] = [];
  #closed = false;

  private constructor(config: WebhooksConfig, store: StateStore) {
    const signer = new WebhookSigner(config.secret);
    if (config.urls.length > 0) {
      const dispatcher = new WebhookDispatcher({
        outbox: store,
        signer,
        timeoutMs: config.timeoutMs,
        maxAgeMs: config.maxAgeSeconds * 1000,
        retryBaseMs: config.retryBaseMs,
        retryMaxMs: config.retryMaxMs,
      });
      this.dispatcher = dispatcher;
      this.emitter = new WebhookEmitter({
        outbox: store,
        targets: config.urls,
        onQueued: () => dispatcher.kick(),
      });
    }
    if (config.publishHook) {
      this.hook = new PublishHook({ ...config.publishHook, signer });
    }
  }

  /** The node's webhooks, or undefined when neither WEBHOOK_URLS nor PUBLISH_HOOK_URL is set. */
  static create(config: WebhooksConfig, store: StateStore): PlatformWebhooks | undefined {
    if (config.urls.length === 0 && !config.publishHook) return undefined;
    log.info(
      { targets: config.urls.length, publishHook: config.publishHook?.url },
      'webhooks configured',
    );
    return new PlatformWebhooks(config, store);
  }

  /** The admission check for the ingest (undefined without PUBLISH_HOOK_URL). */
  get admission(): PublishHook['admit'] | undefined {
    const hook = this.hook;
    return hook && ((request) => hook.admit(request));
  }

  /** Turns the components' events into webhook events. */
  attach(options: AttachOptions): void {
    const emitter = this.emitter;
    if (!emitter) return;
    const { ingest, recorder, streams, nodeId } = options;
    if (ingest) {
      this.#detach.push(
        ingest.on('streamLive', ({ streamId, sessionId, codecs, startedAt }) => {
          emitter.emit('stream.started', {
            streamId,
            sessionId,
            node: nodeId,
            codecs,
            startedAt: new Date(startedAt).toISOString(),
          });
        }),
        ingest.on('streamOffline', ({ streamId, sessionId, codecs, startedAt, reason }) => {
          const ended = Date.now();
          emitter.emit('stream.ended', {
            streamId,
            sessionId,
            node: nodeId,
            codecs,
            startedAt: new Date(startedAt).toISOString(),
            endedAt: new Date(ended).toISOString(),
            durationSeconds: Math.round(ended - startedAt) / 1000,
            reason,
          });
        }),
      );
    }
    this.#detach.push(
      streams.on('keyRotated', ({ streamId }) => emitter.emit('stream.key_rotated', { streamId })),
      streams.on('streamDeleted', ({ streamId }) => emitter.emit('stream.deleted', { streamId })),
    );
    if (recorder) {
      this.#detach.push(
        recorder.on('recordingFinished', (record) => {
          const view = options.recordingView(record);
          const data: RecordingEventData = {
            streamId: record.streamIds[0],
            recordingId: record.id,
            kind: record.kind,
            ...(record.kind === 'composition' ? { streamIds: record.streamIds } : {}),
            hlsUrl: view.hlsUrl,
            posterUrl: view.posterUrl,
            startedAt: record.startedAt,
            endedAt: view.endedAt,
            durationSeconds: view.durationSeconds,
            parts: record.parts,
            ...(record.error !== undefined ? { error: record.error } : {}),
          };
          const type = record.status === 'ready' ? 'recording.ready' : 'recording.failed';
          // One id per recording and outcome: a finalize repeated after a crash is a no-op.
          emitter.emit(type, data, { id: `msg_${record.id}_${record.status}` });
        }),
      );
    }
  }

  /** Starts delivering. */
  start(): void {
    this.dispatcher?.start();
  }

  /**
   * Queues what is still being written (the stream.ended events of a shutdown), then stops
   * delivering. Before the store closes. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const detach of this.#detach.splice(0)) detach();
    await this.emitter?.close();
    await this.dispatcher?.close();
  }
}
