/**
 * A RecordingStorage wrapper for Uploader tests: it delegates to a real storage, and records
 * every write (when it started and ended, with which bytes), can slow writes down, and can
 * fail them (all while `down`, or the next N of a key), so tests can observe ordering and
 * concurrency and make the store misbehave on cue.
 */
import { readFile } from 'node:fs/promises';
import type {
  ByteRange,
  RecordingStorage,
  StoredObject,
} from '../../src/storage/RecordingStorage.ts';

export interface WriteRecord {
  key: string;
  bytes: Buffer;
  startedAt: number;
  endedAt?: number;
  ok?: boolean;
}

export interface InstrumentedStorageOptions {
  /** Milliseconds each write takes on top of the real one (default none). */
  delayMs?: (key: string, bytes: Buffer) => number;
  /** Called when a write starts, before anything is stored. */
  onWriteStart?: (key: string, bytes: Buffer) => void | Promise<void>;
}

export class StoreDownError extends Error {
  constructor(key: string) {
    super(`store is down (test) writing ${key}`);
    this.name = 'StoreDownError';
  }
}

export class InstrumentedStorage implements RecordingStorage {
  readonly inner: RecordingStorage;
  readonly writes: WriteRecord[] = [];
  /** Every write fails while true. */
  down = false;
  /** Key -> how many of its next writes fail. */
  readonly failNext = new Map<string, number>();
  active = 0;
  maxActive = 0;
  readonly #options: InstrumentedStorageOptions;

  constructor(inner: RecordingStorage, options: InstrumentedStorageOptions = {}) {
    this.inner = inner;
    this.#options = options;
  }

  get kind(): 'disk' | 's3' {
    return this.inner.kind;
  }

  /** The bytes written successfully to `key`, in the order the writes ended. */
  versionsOf(key: string): string[] {
    return this.writes
      .filter((write) => write.key === key && write.ok)
      .sort((a, b) => a.endedAt! - b.endedAt!)
      .map((write) => write.bytes.toString());
  }

  put(key: string, body: Buffer | string, contentType: string): Promise<void> {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    return this.#write(key, bytes, () => this.inner.put(key, body, contentType));
  }

  async putFile(key: string, path: string, contentType: string): Promise<void> {
    const bytes = await readFile(path);
    return this.#write(key, bytes, () => this.inner.putFile(key, path, contentType));
  }

  get(key: string, range?: ByteRange): Promise<StoredObject | undefined> {
    return this.inner.get(key, range);
  }

  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }

  deletePrefix(prefix: string): Promise<void> {
    return this.inner.deletePrefix(prefix);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  async #write(key: string, bytes: Buffer, write: () => Promise<void>): Promise<void> {
    const record: WriteRecord = { key, bytes, startedAt: performance.now() };
    this.writes.push(record);
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      await this.#options.onWriteStart?.(key, bytes);
      const delay = this.#options.delayMs?.(key, bytes) ?? 0;
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      const failures = this.failNext.get(key) ?? 0;
      if (failures > 0) this.failNext.set(key, failures - 1);
      if (this.down || failures > 0) throw new StoreDownError(key);
      await write();
      record.ok = true;
    } catch (error) {
      record.ok = false;
      throw error;
    } finally {
      record.endedAt = performance.now();
      this.active--;
    }
  }
}
