/**
 * Where recordings live: one small object store interface with two implementations, local
 * disk (DiskStorage, the embedded default) and any S3-compatible store (S3Storage). Both run
 * the same test suite (recorder/test/support/storageSuite.ts), so they behave alike.
 *
 * Keys are `/`-separated relative paths such as `rec_abc/p1-00001.m4s`; the first segment is
 * the recording id, so a recording is a folder (see docs/storage.md). Keys are validated by
 * `assertKey` (keys.ts): a bad key is a caller bug and throws TypeError.
 */
import type { Readable } from 'node:stream';
import { AppError } from '@wisp/core';

export interface StoredObject {
  /**
   * The bytes: the requested range only, when a range was asked. The caller must consume or
   * destroy it (it holds a file descriptor or an HTTP connection until then).
   */
  body: Readable;
  /** Total object size in bytes (not the length of the range). */
  size: number;
  contentType: string;
  /** A strong ETag, quoted (`"…"`). */
  etag: string;
  lastModified: Date;
  /** Inclusive byte offsets of what `body` holds, when a range was served. */
  range?: { start: number; end: number };
}

/**
 * A byte range to read, offsets inclusive as in HTTP:
 * - `{ start, end }`: bytes `start`..`end` (`end` past the object's end is clipped);
 * - `{ start }`: from `start` to the end;
 * - `{ suffix: n }`: the last `n` bytes (all of them when the object is shorter).
 * Offsets must be non-negative safe integers with `end >= start` (TypeError otherwise). A
 * range that starts at or past the end, a `suffix` of 0 and any range of an empty object are
 * unsatisfiable: `get` throws RangeNotSatisfiableError.
 */
export type ByteRange = { start: number; end?: number } | { suffix: number };

export interface RecordingStorage {
  readonly kind: 'disk' | 's3';
  /** Stores bytes under `key` (e.g. `rec_abc/p1-00001.m4s`), replacing any object there. */
  put(key: string, body: Buffer | string, contentType: string): Promise<void>;
  /** Stores a local file's bytes under `key` (streams it; does not load big files in memory). */
  putFile(key: string, path: string, contentType: string): Promise<void>;
  /**
   * Reads an object (or a range of it); undefined when it does not exist. Throws
   * RangeNotSatisfiableError for an unsatisfiable range.
   */
  get(key: string, range?: ByteRange): Promise<StoredObject | undefined>;
  /**
   * Keys under the folder `prefix` (`rec_abc` or `rec_abc/`: the same; `''`: every key),
   * at any depth, sorted. A prefix is always a whole folder, never part of a name.
   */
  list(prefix: string): Promise<string[]>;
  /** Deletes every object under the folder `prefix` (a recording's folder). Idempotent. */
  deletePrefix(prefix: string): Promise<void>;
  /** Releases connections. Any later call throws InvalidStateError. Idempotent. */
  close(): Promise<void>;
}

/**
 * 416: the range asked for does not overlap the object. An AppError, so a route that lets it
 * through answers 416 with `Content-Range: bytes *\/size` (RFC 9110 §15.5.17).
 */
export class RangeNotSatisfiableError extends AppError {
  /** Total size of the object, for `Content-Range: bytes *\/size`. */
  readonly size: number;

  constructor(key: string, range: ByteRange, size: number) {
    super(
      416,
      'Range Not Satisfiable',
      `range ${describeRange(range)} of ${key} is not satisfiable (size ${size})`,
      { headers: { 'Content-Range': `bytes */${size}` } },
    );
    this.size = size;
  }
}

/** `bytes=a-b`, `bytes=a-` or `bytes=-n`: the HTTP form of a range. */
export function describeRange(range: ByteRange): string {
  if ('suffix' in range) return `bytes=-${range.suffix}`;
  return `bytes=${range.start}-${range.end ?? ''}`;
}

/** Throws TypeError unless `range` is well-formed (see ByteRange). */
export function assertRange(range: ByteRange): void {
  const offsets = 'suffix' in range ? [range.suffix] : [range.start, range.end ?? range.start];
  if (!offsets.every((n) => Number.isSafeInteger(n) && n >= 0)) {
    throw new TypeError(`invalid byte range ${JSON.stringify(range)}`);
  }
  if (!('suffix' in range) && range.end !== undefined && range.end < range.start) {
    throw new TypeError(`invalid byte range ${JSON.stringify(range)}: end before start`);
  }
}

/**
 * The inclusive offsets `range` selects in an object of `size` bytes, or undefined when it is
 * unsatisfiable. `range` must have passed assertRange.
 */
export function resolveRange(
  range: ByteRange,
  size: number,
): { start: number; end: number } | undefined {
  if (size === 0) return undefined;
  if ('suffix' in range) {
    if (range.suffix === 0) return undefined;
    return { start: Math.max(0, size - range.suffix), end: size - 1 };
  }
  if (range.start >= size) return undefined;
  return { start: range.start, end: Math.min(range.end ?? size - 1, size - 1) };
}
