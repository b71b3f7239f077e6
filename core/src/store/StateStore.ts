/**
 * The state store: everything the control plane persists. Two adapters implement it:
 * `EmbeddedStateStore` (a JSON file under DATA_DIR; the single-node default, survives a
 * restart, no external server) and `RedisStateStore` (ioredis; for a cluster). One shared
 * test suite (core/test/support/storeSuite.ts) runs against both.
 *
 * Stream keys are never stored: only `keyHash` (see core/src/keys.ts), so a leaked store does
 * not leak keys.
 */
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
}

export interface StateStore {
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
  /** Releases connections/files. Idempotent. */
  close(): Promise<void>;
}
