/**
 * The recordings API of the control plane (docs/api.md): lists and deletes recordings,
 * starts and stops compositions. It reads the state store and the recording storage only;
 * the recorder nodes do the writing (a composition reaches its recorder through the record,
 * which names the node, and the control bus).
 */
import {
  ConflictError,
  NotFoundError,
  ServiceUnavailableError,
  UnprocessableError,
  ValidationError,
  createLogger,
  generateStreamId,
  type ControlBus,
  type NodeRegistry,
  type RecordingRecord,
  type StateStore,
} from '@wisp/core';
import { liveRecorders, pick } from './assign.ts';
import type { RecordingStorage } from './storage/index.ts';

const log = createLogger('RecordingService');

/** A recording as the API shows it. */
export interface RecordingView {
  id: string;
  /** The recorded stream (a composition's first source). */
  streamId: string;
  kind: 'broadcast' | 'composition';
  /** A composition's sources, name and layout. */
  streamIds?: string[];
  name?: string;
  layout?: 'grid' | 'pip';
  status: RecordingRecord['status'];
  startedAt: string;
  endedAt: string | null;
  /** From going live to the end; while recording, the time so far. */
  durationSeconds: number;
  /** Parts (a new one per takeover, layer change or recorder restart). */
  parts: number;
  hlsUrl: string;
  posterUrl: string;
  error?: string;
}

export interface CompositionRequest {
  name: string;
  streamIds: string[];
  layout: 'grid' | 'pip';
}

export interface RecordingServiceOptions {
  store: StateStore;
  storage: RecordingStorage;
  bus: ControlBus;
  nodes: NodeRegistry;
  publicUrl: string;
  /** Whether a stream is live right now (anywhere in the cluster). */
  isLive: (streamId: string) => Promise<boolean>;
  /** A node seen less than this long ago is alive. */
  freshMs: number;
}

const RECORDING_ID = /^rec_[A-Za-z0-9_-]{1,64}$/;
const MAX_SOURCES = 9;

export function isRecordingId(id: string): boolean {
  return RECORDING_ID.test(id);
}

export class RecordingService {
  readonly #options: RecordingServiceOptions;
  readonly publicUrl: string;

  constructor(options: RecordingServiceOptions) {
    this.#options = options;
    this.publicUrl = options.publicUrl.replace(/\/+$/, '');
  }

  /** The stream's recordings, newest first; NotFoundError for an unknown stream. */
  async listForStream(streamId: string): Promise<RecordingView[]> {
    const { store } = this.#options;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(streamId) || !(await store.getStream(streamId))) {
      throw new NotFoundError('stream does not exist');
    }
    return (await store.listRecordings(streamId)).map((r) => this.view(r));
  }

  async get(id: string): Promise<RecordingView> {
    return this.view(await this.#require(id));
  }

  /** The record behind a VOD URL (undefined: answer 404). */
  async find(id: string): Promise<RecordingRecord | undefined> {
    return isRecordingId(id) ? this.#options.store.getRecording(id) : undefined;
  }

  /** Deletes a finished recording with its files. 409 while it is still being written. */
  async delete(id: string): Promise<void> {
    const record = await this.#require(id);
    if (record.status === 'recording' || record.status === 'finalizing') {
      throw new ConflictError(
        record.kind === 'composition'
          ? 'the composition is still recording: DELETE /api/compositions/:id first'
          : 'the broadcast is still recording: it can be deleted once it has ended',
      );
    }
    await this.#options.storage.deletePrefix(`${id}/`);
    await this.#options.store.deleteRecording(id);
    log.info({ recordingId: id }, 'recording deleted');
  }

  /** Starts a composition of live streams on a recorder node. */
  async compose(request: CompositionRequest): Promise<RecordingView> {
    const { store, bus } = this.#options;
    for (const streamId of request.streamIds) {
      if (!(await store.getStream(streamId))) {
        throw new UnprocessableError(`stream ${streamId} does not exist`);
      }
      if (!(await this.#options.isLive(streamId))) {
        throw new UnprocessableError(`stream ${streamId} is not live`);
      }
    }
    const id = `rec_${generateStreamId()}`;
    const node = await this.#recorderFor(id);
    const now = new Date().toISOString();
    const record: RecordingRecord = {
      id,
      kind: 'composition',
      streamIds: request.streamIds,
      name: request.name,
      layout: request.layout,
      status: 'recording',
      node,
      startedAt: now,
      parts: 0,
      updatedAt: now,
    };
    await store.createRecording(record);
    await bus.publish({
      type: 'compositionStarted',
      streamId: record.streamIds[0],
      recordingId: id,
    });
    log.info({ recordingId: id, streamIds: record.streamIds, node }, 'composition started');
    return this.view(record);
  }

  /** Ends a composition; its recording finalizes on its recorder. */
  async stopComposition(id: string): Promise<RecordingView> {
    const record = await this.#require(id);
    if (record.kind !== 'composition') throw new NotFoundError('composition does not exist');
    if (record.status === 'recording') {
      await this.#options.bus.publish({
        type: 'compositionStopped',
        streamId: record.streamIds[0],
        recordingId: id,
      });
    }
    return this.view(record);
  }

  view(record: RecordingRecord): RecordingView {
    const base = `${this.publicUrl}/vod/${encodeURIComponent(record.id)}`;
    const end = record.endedAt ? Date.parse(record.endedAt) : Date.now();
    return {
      id: record.id,
      streamId: record.streamIds[0],
      kind: record.kind,
      ...(record.kind === 'composition'
        ? { streamIds: record.streamIds, name: record.name, layout: record.layout }
        : {}),
      status: record.status,
      startedAt: record.startedAt,
      endedAt: record.endedAt ?? null,
      durationSeconds:
        record.durationSeconds ??
        Math.max(0, Math.round((end - Date.parse(record.startedAt)) / 100) / 10),
      parts: record.parts,
      hlsUrl: `${base}/index.m3u8`,
      posterUrl: `${base}/poster.jpg`,
      ...(record.error ? { error: record.error } : {}),
    };
  }

  async #require(id: string): Promise<RecordingRecord> {
    const record = await this.find(id);
    if (!record) throw new NotFoundError('recording does not exist');
    return record;
  }

  async #recorderFor(key: string): Promise<string> {
    const node = pick(key, await liveRecorders(this.#options.nodes, this.#options.freshMs));
    if (!node) throw new ServiceUnavailableError('no recorder node is running', 5);
    return node;
  }
}

/** Parses `POST /api/compositions`. */
export function parseCompositionRequest(body: unknown): CompositionRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError('request body must be a JSON object');
  }
  const { name, streamIds, layout = 'grid' } = body as Record<string, unknown>;
  if (typeof name !== 'string' || name.trim() === '' || name.length > 100) {
    throw new ValidationError('"name" must be a non-empty string of at most 100 characters');
  }
  if (
    !Array.isArray(streamIds) ||
    streamIds.length === 0 ||
    streamIds.length > MAX_SOURCES ||
    streamIds.some((id) => typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(id))
  ) {
    throw new ValidationError(`"streamIds" must list 1 to ${MAX_SOURCES} stream ids`);
  }
  if (new Set(streamIds).size !== streamIds.length) {
    throw new ValidationError('"streamIds" must not repeat a stream');
  }
  if (layout !== 'grid' && layout !== 'pip') {
    throw new ValidationError('"layout" must be "grid" or "pip"');
  }
  return { name: name.trim(), streamIds: streamIds as string[], layout };
}
