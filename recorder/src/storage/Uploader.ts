/**
 * Moves a recording's files from the recorder's local spool folder into a RecordingStorage,
 * losing nothing while the store is briefly down.
 *
 * - Items start in enqueue order, up to `concurrency` at a time. A failed attempt is retried
 *   after an exponential backoff with jitter (`minRetryMs` doubling up to `maxRetryMs`),
 *   forever, until `close()`. A retrying item keeps its slot: when the store is down, the
 *   first `concurrency` items probe it and the rest wait.
 * - A `barrier` item (a playlist) starts only once every item enqueued before it is stored:
 *   a playlist in the store never names a segment that is not there yet (LiveKit's rule).
 * - Enqueuing a key that is still pending replaces its pending content: the latest playlist
 *   wins. If an older version of the key is being written, the newer one is written after it
 *   (never a stale overwrite); if that older attempt fails, it is not retried.
 *   A replacement that is a barrier moves to the end of the queue (it waits for everything
 *   enqueued before it); one that is not keeps the old item's place.
 * - An item whose local file has disappeared can never be stored: it is not retried, emits
 *   `failed`, and makes `flush()` reject until the key is stored again.
 * - The uploader never deletes local files. `stored` tells when a file has reached the store
 *   and `superseded` when a pending file was replaced before it did, so the recorder can
 *   delete what it no longer needs.
 */
import { stat } from 'node:fs/promises';
import { createLogger, InvalidStateError, TypedEmitter, type Logger } from '@wisp/core';
import { assertKey } from './keys.ts';
import type { RecordingStorage } from './RecordingStorage.ts';

export interface UploaderOptions {
  /** Items uploading at once (default 4). */
  concurrency?: number;
  /** First retry delay in ms (default 250), doubled per failed attempt... */
  minRetryMs?: number;
  /** ...up to this (default 5000). Each delay is jittered to 50-100 % of its value. */
  maxRetryMs?: number;
  log?: Logger;
}

export interface EnqueueOptions {
  /** Store this item only after everything enqueued before it (playlists). */
  barrier?: boolean;
}

export interface UploaderEvents extends Record<string, unknown> {
  /** An item reached the store; `path` is its local file (for enqueueFile). */
  stored: { key: string; path?: string; bytes: number; attempts: number };
  /**
   * A pending item was replaced by a newer enqueue of its key before it was stored; its
   * `path`, when it had one different from the replacement's, is no longer needed.
   */
  superseded: { key: string; path?: string };
  /** An item cannot be stored: its local file is gone. It is not retried. */
  failed: { key: string; path?: string; error: Error };
  /** An attempt failed; the item is tried again after `delayMs`. */
  retry: { key: string; attempt: number; delayMs: number; error: Error };
}

/** `flush()` ran out of time; the queue is intact. `cause`: the last storage error. */
export class FlushTimeoutError extends Error {
  /** Items still pending when the flush gave up. */
  readonly pending: number;

  constructor(timeoutMs: number, pending: number, cause: Error | undefined) {
    super(
      `uploads not stored within ${timeoutMs} ms (${pending} pending)` +
        (cause ? `: ${cause.message}` : ''),
      { cause },
    );
    this.name = 'FlushTimeoutError';
    this.pending = pending;
  }
}

/** Items a flush covered can never be stored (their local files are gone). */
export class UploadFailedError extends Error {
  readonly keys: string[];

  constructor(keys: string[], cause: Error) {
    super(`could not upload ${keys.join(', ')}: ${cause.message}`, { cause });
    this.name = 'UploadFailedError';
    this.keys = keys;
  }
}

type Source = { kind: 'file'; path: string } | { kind: 'body'; body: Buffer };

interface Item {
  /** Place in the start order. */
  seq: number;
  /**
   * The oldest enqueue whose content this item stands for (its own seq, or that of the
   * items it replaced): a flush waits for every item whose origin it covers.
   */
  origin: number;
  key: string;
  source: Source;
  contentType: string;
  barrier: boolean;
  state: 'queued' | 'active';
  attempts: number;
  /** Ends the current retry delay early (set while sleeping). */
  wake?: () => void;
}

interface FlushWaiter {
  mark: number;
  resolve(): void;
  reject(error: Error): void;
  timer?: NodeJS.Timeout;
}

export class Uploader extends TypedEmitter<UploaderEvents> {
  readonly #storage: RecordingStorage;
  readonly #concurrency: number;
  readonly #minRetryMs: number;
  readonly #maxRetryMs: number;
  readonly #log: Logger;
  #seq = 0;
  /** Waiting to start, in start order. */
  readonly #queued: Item[] = [];
  readonly #active = new Map<string, Item>();
  /** The newest pending item of each key. */
  readonly #latest = new Map<string, Item>();
  /** Keys whose newest content could not be stored, until one is. */
  readonly #failures = new Map<string, { origin: number; error: Error }>();
  readonly #flushes = new Set<FlushWaiter>();
  readonly #running = new Set<Promise<void>>();
  #lastError: Error | undefined;
  #uploadedBytes = 0;
  #closed = false;

  constructor(storage: RecordingStorage, options: UploaderOptions = {}) {
    super();
    this.#storage = storage;
    this.#concurrency = options.concurrency ?? 4;
    this.#minRetryMs = options.minRetryMs ?? 250;
    this.#maxRetryMs = options.maxRetryMs ?? 5000;
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) {
      throw new TypeError('concurrency must be a positive integer');
    }
    if (!(this.#minRetryMs > 0 && this.#maxRetryMs >= this.#minRetryMs)) {
      throw new TypeError('need 0 < minRetryMs <= maxRetryMs');
    }
    this.#log = options.log ?? createLogger('Uploader', { storage: storage.kind });
  }

  /** Items enqueued and not yet stored (or failed). */
  get pending(): number {
    return this.#queued.length + this.#active.size;
  }

  /** The last error an attempt failed with. */
  get lastError(): Error | undefined {
    return this.#lastError;
  }

  /** Bytes stored so far. */
  get uploadedBytes(): number {
    return this.#uploadedBytes;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Queues the local file `path` to be stored under `key`. The file must stay until `stored`. */
  enqueueFile(key: string, path: string, contentType: string, options: EnqueueOptions = {}): void {
    this.#enqueue(key, { kind: 'file', path }, contentType, options);
  }

  /** Queues bytes to be stored under `key` (the uploader keeps its own copy). */
  enqueueBody(
    key: string,
    body: Buffer | string,
    contentType: string,
    options: EnqueueOptions = {},
  ): void {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
    this.#enqueue(key, { kind: 'body', body: bytes }, contentType, options);
  }

  /**
   * Resolves once everything enqueued so far is stored. Rejects with FlushTimeoutError
   * (cause: the last storage error) after `timeoutMs`, leaving the queue as it is, and with
   * UploadFailedError when some of it can never be stored.
   */
  flush(timeoutMs: number): Promise<void> {
    if (this.#closed) return Promise.reject(new InvalidStateError('Uploader is closed'));
    return new Promise<void>((resolve, reject) => {
      const waiter: FlushWaiter = { mark: this.#seq, resolve, reject };
      if (this.#settleFlush(waiter)) return;
      waiter.timer = setTimeout(() => {
        this.#flushes.delete(waiter);
        reject(new FlushTimeoutError(timeoutMs, this.pending, this.#lastError));
      }, timeoutMs);
      this.#flushes.add(waiter);
    });
  }

  /**
   * Stops: no new attempt starts and retries end. Resolves once the attempts in progress
   * have settled; what was still pending is abandoned (its files stay on disk). Idempotent.
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const item of this.#active.values()) item.wake?.();
      for (const waiter of this.#flushes) {
        clearTimeout(waiter.timer);
        waiter.reject(new InvalidStateError('Uploader closed before the flush completed'));
      }
      this.#flushes.clear();
      if (this.pending > 0) {
        this.#log.warn({ pending: this.pending }, 'uploader closed with uploads pending');
      }
    }
    await Promise.allSettled([...this.#running]);
  }

  #enqueue(key: string, source: Source, contentType: string, options: EnqueueOptions): void {
    if (this.#closed) throw new InvalidStateError('Uploader is closed');
    assertKey(key);
    const seq = ++this.#seq;
    const barrier = options.barrier ?? false;
    const previous = this.#latest.get(key);
    if (previous?.state === 'queued') {
      this.#supersede(previous, source);
      if (!barrier) {
        // Keeps its place: nothing waits on the order of non-barrier items.
        previous.source = source;
        previous.contentType = contentType;
        previous.barrier = false;
        this.#pump();
        return;
      }
      this.#queued.splice(this.#queued.indexOf(previous), 1);
    }
    const item: Item = {
      seq,
      origin: previous?.state === 'queued' ? previous.origin : seq,
      key,
      source,
      contentType,
      barrier,
      state: 'queued',
      attempts: 0,
    };
    this.#queued.push(item);
    this.#latest.set(key, item);
    // An older version retrying in its delay gives up now instead of writing stale content.
    previous?.wake?.();
    this.#pump();
  }

  /** Starts every queued item that may start, in order, while slots are free. */
  #pump(): void {
    if (this.#closed) return;
    for (let i = 0; i < this.#queued.length && this.#active.size < this.#concurrency;) {
      const item = this.#queued[i];
      if (!this.#mayStart(item)) {
        i++;
        continue;
      }
      this.#queued.splice(i, 1);
      item.state = 'active';
      this.#active.set(item.key, item);
      const run = this.#run(item).finally(() => this.#running.delete(run));
      this.#running.add(run);
    }
  }

  #mayStart(item: Item): boolean {
    if (this.#active.has(item.key)) return false; // an older version is being written
    if (!item.barrier) return true;
    const before = (other: Item): boolean =>
      other !== item && (other.seq < item.seq || (!other.barrier && other.origin < item.seq));
    for (const other of this.#active.values()) if (before(other)) return false;
    for (const other of this.#queued) if (before(other)) return false;
    return true;
  }

  async #run(item: Item): Promise<void> {
    for (;;) {
      item.attempts++;
      let bytes: number;
      try {
        bytes = await this.#attempt(item);
      } catch (thrown) {
        const error = toError(thrown);
        if (this.#closed) return;
        if (this.#isSuperseded(item)) return this.#drop(item);
        if (await this.#sourceGone(item)) {
          if (this.#closed) return;
          return this.#isSuperseded(item) ? this.#drop(item) : this.#fail(item, error);
        }
        this.#lastError = error;
        const delayMs = this.#backoff(item.attempts);
        const context = { key: item.key, attempt: item.attempts, delayMs, err: error };
        if (item.attempts === 1) this.#log.warn(context, 'upload failed; retrying');
        else this.#log.debug(context, 'upload failed again; retrying');
        this.emit('retry', { key: item.key, attempt: item.attempts, delayMs, error });
        if (this.#closed) return; // a listener closed us
        await this.#sleep(item, delayMs);
        if (this.#closed) return;
        if (this.#isSuperseded(item)) return this.#drop(item);
        continue;
      }
      return this.#complete(item, bytes);
    }
  }

  async #attempt(item: Item): Promise<number> {
    if (item.source.kind === 'body') {
      await this.#storage.put(item.key, item.source.body, item.contentType);
      return item.source.body.byteLength;
    }
    const { size } = await stat(item.source.path);
    await this.#storage.putFile(item.key, item.source.path, item.contentType);
    return size;
  }

  #complete(item: Item, bytes: number): void {
    this.#active.delete(item.key);
    if (this.#latest.get(item.key) === item) this.#latest.delete(item.key);
    this.#failures.delete(item.key);
    this.#uploadedBytes += bytes;
    if (item.attempts > 1) {
      this.#log.info({ key: item.key, attempts: item.attempts }, 'upload stored after retries');
    }
    this.emit('stored', {
      key: item.key,
      ...(item.source.kind === 'file' ? { path: item.source.path } : {}),
      bytes,
      attempts: item.attempts,
    });
    this.#settle();
  }

  /** An attempt of a replaced item failed: its successor carries on. */
  #drop(item: Item): void {
    this.#active.delete(item.key);
    const successor = this.#latest.get(item.key);
    if (successor) {
      successor.origin = Math.min(successor.origin, item.origin);
      this.#supersede(item, successor.source);
    }
    this.#settle();
  }

  #fail(item: Item, error: Error): void {
    this.#active.delete(item.key);
    this.#latest.delete(item.key);
    this.#failures.set(item.key, { origin: item.origin, error });
    this.#lastError = error;
    const path = item.source.kind === 'file' ? item.source.path : undefined;
    this.#log.error({ key: item.key, path, err: error }, 'upload source is gone; giving up');
    this.emit('failed', { key: item.key, ...(path ? { path } : {}), error });
    this.#settle();
  }

  /** Tells listeners that `item`'s file is no longer needed, unless `next` uses it too. */
  #supersede(item: Item, next: Source): void {
    const path = item.source.kind === 'file' ? item.source.path : undefined;
    const nextPath = next.kind === 'file' ? next.path : undefined;
    this.emit('superseded', { key: item.key, ...(path && path !== nextPath ? { path } : {}) });
  }

  #isSuperseded(item: Item): boolean {
    return this.#latest.get(item.key) !== item;
  }

  /** A file source that no longer exists (or is not a file) can never be uploaded. */
  async #sourceGone(item: Item): Promise<boolean> {
    if (item.source.kind !== 'file') return false;
    try {
      return !(await stat(item.source.path)).isFile();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return code === 'ENOENT' || code === 'ENOTDIR';
    }
  }

  #backoff(attempt: number): number {
    const base = Math.min(this.#maxRetryMs, this.#minRetryMs * 2 ** Math.min(attempt - 1, 30));
    return Math.round(base / 2 + (Math.random() * base) / 2);
  }

  #sleep(item: Item, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        item.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      item.wake = done;
    });
  }

  /** After an item settles: completes the flushes it was the last for, starts more work. */
  #settle(): void {
    for (const waiter of [...this.#flushes]) this.#settleFlush(waiter);
    this.#pump();
  }

  /** Resolves or rejects `waiter` if nothing it covers is pending; true if it did. */
  #settleFlush(waiter: FlushWaiter): boolean {
    const covers = (item: Item): boolean => item.origin <= waiter.mark;
    if ([...this.#active.values()].some(covers) || this.#queued.some(covers)) return false;
    clearTimeout(waiter.timer);
    this.#flushes.delete(waiter);
    const failed = [...this.#failures].filter(([, failure]) => failure.origin <= waiter.mark);
    if (failed.length === 0) waiter.resolve();
    else
      waiter.reject(
        new UploadFailedError(
          failed.map(([key]) => key),
          failed[0][1].error,
        ),
      );
    return true;
  }
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
