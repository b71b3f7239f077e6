/**
 * The state store: everything the control plane persists. Two adapters implement it:
 * `EmbeddedStateStore` (a JSON file under DATA_DIR; the single-node default, survives a
 * restart, no external server) and `RedisStateStore` (ioredis; for a cluster). One shared
 * test suite (core/test/support/storeSuite.ts) runs against both.
 *
 * Stream keys are never stored: only `keyHash` (see core/src/keys.ts), so a leaked store does
 * not leak keys.
 *
 * The webhook outbox (WebhookOutbox.ts) is part of the store, so events survive a restart
 * and a cluster shares one queue.
 */
import type { WebhookOutbox } from './WebhookOutbox.ts';

export interface StreamRecord {
  /** Stable public id, used in URLs (`/whep/:id`, `/watch/:id`). */
  id: string;
  /** Human-readable name given by the API caller. */
  name: string;
  /** SHA-256 (hex) of the current stream key. */
  keyHash: string;
  /** ISO-8601 timestamps. */
  createdAt: string;
  updatedAt: string;
  /**
   * Whether broadcasts of this stream are recorded; absent means the platform default
   * (`RECORDINGS`).
   */
  record?: boolean;
  /**
   * Who may watch: `public` (anyone with the link) or `private` (a viewer token is needed,
   * `POST /api/streams/:id/viewer-tokens`). Absent (records written before it existed) is
   * `public`.
   */
  visibility?: StreamVisibility;
}

export type StreamVisibility = 'public' | 'private';

/** What `PATCH /api/streams/:id` may change. `record: null` goes back to the default. */
export interface StreamChanges {
  name?: string;
  record?: boolean | null;
  visibility?: StreamVisibility;
}

export type RecordingStatus = 'recording' | 'finalizing' | 'ready' | 'failed';

/**
 * One recording: a broadcast of one stream (from going live to its end, across publisher
 * takeovers) or a composition of several. Its files live in the recording storage under
 * `<id>/`; this record is what the API lists and what a restarted recorder resumes from.
 */
export interface RecordingRecord {
  /** `rec_` + random: unguessable, it is the capability of the public VOD URLs. */
  id: string;
  kind: 'broadcast' | 'composition';
  /** The recorded streams: one for a broadcast, several for a composition. */
  streamIds: string[];
  /** A composition's name and layout. */
  name?: string;
  layout?: 'grid' | 'pip';
  status: RecordingStatus;
  /** The recorder node writing it (it finalizes it, or whoever finds the node gone). */
  node: string;
  /** ISO-8601: when the recording (the broadcast) started and ended. */
  startedAt: string;
  endedAt?: string;
  durationSeconds?: number;
  /** Parts written so far: a new one per publish session, layout change or recorder restart. */
  parts: number;
  /** Why it failed (status `failed`), or the last problem of a recording that went on. */
  error?: string;
  updatedAt: string;
}

/** What a recorder changes on a recording as it goes. */
export type RecordingChanges = Partial<
  Pick<RecordingRecord, 'status' | 'node' | 'endedAt' | 'durationSeconds' | 'parts' | 'error'>
>;

export interface StateStore extends WebhookOutbox {
  /** Creates a stream. Throws ConflictError if the id or the key hash already exists. */
  createStream(record: StreamRecord): Promise<void>;
  getStream(id: string): Promise<StreamRecord | undefined>;
  /** All streams, oldest first. */
  listStreams(): Promise<StreamRecord[]>;
  /** Looks a stream up by the hash of its current key. */
  findStreamByKeyHash(keyHash: string): Promise<StreamRecord | undefined>;
  /**
   * Atomically replaces the stream's key hash (rotation): afterwards the old hash finds
   * nothing. Returns the updated record, or undefined if the stream does not exist.
   */
  rotateStreamKey(id: string, newKeyHash: string): Promise<StreamRecord | undefined>;
  /** Deletes the stream and its key index entry. Returns false if it did not exist. */
  deleteStream(id: string): Promise<boolean>;
  /**
   * Changes a stream's name or recording setting (`record: null` removes it). Returns the
   * updated record, or undefined if the stream does not exist.
   */
  updateStream(id: string, changes: StreamChanges): Promise<StreamRecord | undefined>;

  /** Creates a recording. Throws ConflictError if the id exists. */
  createRecording(record: RecordingRecord): Promise<void>;
  getRecording(id: string): Promise<RecordingRecord | undefined>;
  /** The recordings of a stream (compositions included), newest first. */
  listRecordings(streamId: string): Promise<RecordingRecord[]>;
  /** Recordings still `recording` or `finalizing`, on any node (a recorder's restart work). */
  listUnfinishedRecordings(): Promise<RecordingRecord[]>;
  /**
   * Applies `changes` (and a new `updatedAt`). Returns the updated record, or undefined if
   * the recording does not exist (it was deleted: its recorder stops).
   */
  updateRecording(id: string, changes: RecordingChanges): Promise<RecordingRecord | undefined>;
  /** Deletes the record (not the files). Returns false if it did not exist. */
  deleteRecording(id: string): Promise<boolean>;
  /** Releases connections/files. Idempotent. */
  close(): Promise<void>;
  /**
   * Whether the service behind the store answers within `timeoutMs` (Redis: a PING). Absent
   * on stores with nothing to reach (the embedded file store).
   */
  ping?(timeoutMs: number): Promise<boolean>;
}
