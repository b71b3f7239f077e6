/**
 * The stream registry of the control plane: creates streams with their keys, lists them,
 * rotates keys and deletes streams, on top of any StateStore. It is also what the ingest asks
 * to resolve a stream key (StreamKeyResolver) and what the egress asks whether a stream exists
 * (StreamDirectory). Keys are handed out once (on create and rotate) and stored only hashed.
 */
import {
  NotFoundError,
  TypedEmitter,
  createLogger,
  generateStreamId,
  generateStreamKey,
  hashStreamKey,
  safeEqual,
  type LiveStatusProvider,
  type Logger,
  type StateStore,
  type StreamDirectory,
  type StreamKeyResolver,
  type StreamRecord,
  type StreamView,
  type StreamVisibility,
  type UpdateStreamRequest,
  type ViewerTokenView,
  type ViewerTokens,
} from '@wisp/core';
import { MAX_STREAM_KEY_LENGTH, isStreamId, normalizeStreamName } from './validation.ts';

export interface StreamServiceOptions {
  store: StateStore;
  /** Base URL clients use, e.g. `https://live.example.com` (a trailing slash is dropped). */
  publicUrl: string;
  /** Who knows whether a stream is being published right now, and how its media is doing. */
  live: LiveStatusProvider;
  /** Whether a stream without its own `record` setting is recorded (`RECORDINGS`). Default true. */
  recordByDefault?: boolean;
  /** Signs the viewer tokens of private streams; without it none can be issued. */
  viewerTokens?: ViewerTokens;
}

export interface StreamServiceEvents extends Record<string, unknown> {
  /** The stream is gone: a live publisher of it should be disconnected. */
  streamDeleted: { streamId: string };
  /** The stream's key changed: a publisher that connected with the old key should be dropped. */
  keyRotated: { streamId: string };
}

export class StreamService
  extends TypedEmitter<StreamServiceEvents>
  implements StreamKeyResolver, StreamDirectory
{
  readonly publicUrl: string;
  readonly #store: StateStore;
  readonly #live: LiveStatusProvider;
  readonly #recordByDefault: boolean;
  readonly #viewerTokens: ViewerTokens | undefined;
  readonly #log: Logger;

  constructor(options: StreamServiceOptions) {
    super();
    this.publicUrl = options.publicUrl.replace(/\/+$/, '');
    this.#store = options.store;
    this.#live = options.live;
    this.#recordByDefault = options.recordByDefault ?? true;
    this.#viewerTokens = options.viewerTokens;
    this.#log = createLogger('StreamService');
  }

  /** Creates a stream with a fresh key. The returned view is the only one carrying the key. */
  async create(
    name: string,
    options: { record?: boolean; visibility?: StreamVisibility } = {},
  ): Promise<StreamView> {
    const now = new Date().toISOString();
    const streamKey = generateStreamKey();
    const record: StreamRecord = {
      id: generateStreamId(),
      name: normalizeStreamName(name),
      keyHash: hashStreamKey(streamKey),
      createdAt: now,
      updatedAt: now,
      ...(options.record === undefined ? {} : { record: options.record }),
      visibility: options.visibility ?? 'public',
    };
    await this.#store.createStream(record);
    this.#log.info({ streamId: record.id }, 'stream created');
    return this.#view(record, streamKey);
  }

  async list(): Promise<StreamView[]> {
    const records = await this.#store.listStreams();
    return Promise.all(records.map((record) => this.#view(record)));
  }

  /** The stream, or NotFoundError. */
  async get(id: string): Promise<StreamView> {
    return this.#view(await this.#require(id));
  }

  /** Replaces the stream's key; the old key is refused from then on. Emits `keyRotated`. */
  async rotateKey(id: string): Promise<StreamView> {
    const streamKey = generateStreamKey();
    const record = isStreamId(id)
      ? await this.#store.rotateStreamKey(id, hashStreamKey(streamKey))
      : undefined;
    if (!record) throw notFound(id);
    this.#log.info({ streamId: id }, 'stream key rotated');
    this.emit('keyRotated', { streamId: id });
    return this.#view(record, streamKey);
  }

  /**
   * A viewer token for the stream, valid `ttlSeconds` (ViewerTokens). Issued for public
   * streams too, so a link handed out keeps working when the stream is made private.
   */
  async issueViewerToken(id: string, ttlSeconds: number): Promise<ViewerTokenView> {
    const record = await this.#require(id);
    if (!this.#viewerTokens) throw new Error('no viewer token signer is configured');
    const { token, expiresAt } = await this.#viewerTokens.issue(record.id, ttlSeconds);
    this.#log.info({ streamId: id, ttlSeconds }, 'viewer token issued');
    const path = encodeURIComponent(record.id);
    const query = `?token=${encodeURIComponent(token)}`;
    return {
      streamId: record.id,
      token,
      expiresAt: new Date(expiresAt * 1000).toISOString(),
      playerUrl: `${this.publicUrl}/watch/${path}${query}`,
      embedUrl: `${this.publicUrl}/embed/${path}${query}`,
    };
  }

  /** Changes the stream's name, recording setting or visibility. */
  async update(id: string, changes: UpdateStreamRequest): Promise<StreamView> {
    const record = isStreamId(id) ? await this.#store.updateStream(id, changes) : undefined;
    if (!record) throw notFound(id);
    this.#log.info({ streamId: id, changes }, 'stream updated');
    return this.#view(record);
  }

  /** Deletes the stream and its key. Emits `streamDeleted`. */
  async delete(id: string): Promise<void> {
    const deleted = isStreamId(id) && (await this.#store.deleteStream(id));
    if (!deleted) throw notFound(id);
    this.#log.info({ streamId: id }, 'stream deleted');
    this.emit('streamDeleted', { streamId: id });
  }

  /**
   * Resolves a stream key (the WHIP bearer token) to its stream id. Looks the key up by its
   * hash, then compares the hashes in constant time, so the answer takes the same time
   * whichever byte of a wrong key differs.
   */
  async resolveStreamKey(key: string): Promise<string | undefined> {
    if (typeof key !== 'string' || key.length === 0 || key.length > MAX_STREAM_KEY_LENGTH) {
      return undefined;
    }
    const keyHash = hashStreamKey(key);
    const record = await this.#store.findStreamByKeyHash(keyHash);
    if (!record) return undefined;
    return safeEqual(record.keyHash, keyHash) ? record.id : undefined;
  }

  async streamExists(streamId: string): Promise<boolean> {
    return (await this.streamVisibility(streamId)) !== undefined;
  }

  async streamVisibility(streamId: string): Promise<StreamVisibility | undefined> {
    if (!isStreamId(streamId)) return undefined;
    const record = await this.#store.getStream(streamId);
    return record && (record.visibility ?? 'public');
  }

  async #require(id: string): Promise<StreamRecord> {
    const record = isStreamId(id) ? await this.#store.getStream(id) : undefined;
    if (!record) throw notFound(id);
    return record;
  }

  async #view(record: StreamRecord, streamKey?: string): Promise<StreamView> {
    const id = encodeURIComponent(record.id);
    const live = await this.#live.isLive(record.id);
    const view: StreamView = {
      id: record.id,
      name: record.name,
      whipUrl: `${this.publicUrl}/whip`,
      whepUrl: `${this.publicUrl}/whep/${id}`,
      playerUrl: `${this.publicUrl}/watch/${id}`,
      live,
      record: record.record ?? this.#recordByDefault,
      visibility: record.visibility ?? 'public',
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
    };
    const media = live ? await this.#live.mediaStatus?.(record.id) : undefined;
    if (media) view.media = media;
    const placement = live ? await this.#live.placement?.(record.id) : undefined;
    if (placement) Object.assign(view, placement);
    if (streamKey !== undefined) view.streamKey = streamKey;
    return view;
  }
}

function notFound(id: string): NotFoundError {
  // The id is echoed only when it has the shape of one, so junk input is not reflected back.
  return new NotFoundError(
    isStreamId(id) ? `stream ${id} does not exist` : 'stream does not exist',
  );
}
