/**
 * The single-node state store: state lives in memory and is persisted to
 * `${dataDir}/state.json` after every change, so it survives a restart without any external
 * server. Changes are serialized through one promise chain, and each one replaces the file
 * atomically (write a temporary file, fsync it, rename it over the old one, fsync the
 * directory), so a crash leaves either the old or the new state, never a torn file.
 */
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import {
  ConflictError,
  InsufficientStorageError,
  InvalidStateError,
  isDiskFullError,
} from '../errors.ts';
import { createLogger, type Logger } from '../logger.ts';
import type {
  RecordingChanges,
  RecordingRecord,
  StateStore,
  StreamChanges,
  StreamRecord,
} from './StateStore.ts';
import {
  applyStreamChanges,
  assertRecordingRecord,
  assertStreamRecord,
  compareRecordingsNewestFirst,
  compareStreamRecords,
  isUnfinished,
  toRecordingRecord,
  toStreamRecord,
} from './records.ts';
import type {
  DeadWebhook,
  WebhookDelivery,
  WebhookEvent,
  WebhookOutboxStats,
  WebhookOutcome,
} from './WebhookOutbox.ts';
import { assertWebhookEvent } from './WebhookOutbox.ts';
import * as outbox from './embeddedOutbox.ts';

/**
 * Version of the on-disk format; bump it (and migrate) when the layout changes. Version 2
 * added `recordings`; a version 1 file is read as having none. Version 3 added `webhooks`
 * (the outbox); older files are read as having an empty one.
 */
const STATE_FILE_VERSION = 3;

interface StateFile {
  version: number;
  streams: StreamRecord[];
  recordings?: RecordingRecord[];
  webhooks?: outbox.OutboxFile;
}

interface State {
  streams: Map<string, StreamRecord>;
  recordings: Map<string, RecordingRecord>;
  webhooks: outbox.OutboxState;
}

export interface EmbeddedStateStoreOptions {
  /** Directory holding `state.json`; created when missing. */
  dataDir: string;
}

/** The state file exists but cannot be read as state. Data is left untouched for an operator. */
export class CorruptStateFileError extends Error {
  readonly file: string;

  constructor(file: string, reason: string, options?: { cause?: unknown }) {
    super(
      `state file ${file} is corrupt (${reason}); fix it or move it away to start empty`,
      options,
    );
    this.name = 'CorruptStateFileError';
    this.file = file;
  }
}

export class EmbeddedStateStore implements StateStore {
  readonly #file: string;
  readonly #log: Logger;
  /** Committed state: only replaced once the file holding it has been written. */
  #streams: Map<string, StreamRecord>;
  #recordings: Map<string, RecordingRecord>;
  #webhooks: outbox.OutboxState;
  /** Webhook deliveries claimed by this process (memory only: void after a restart). */
  readonly #leases: outbox.Leases = new Map();
  #idsByKeyHash: Map<string, string>;
  /** Tail of the write queue; every change chains onto it. */
  #queue: Promise<void> = Promise.resolve();
  #closed = false;
  /** The last write failed for want of room (logged once per episode). */
  #diskFull = false;

  private constructor(file: string, state: State) {
    this.#file = file;
    this.#log = createLogger('EmbeddedStateStore', { file });
    this.#streams = state.streams;
    this.#recordings = state.recordings;
    this.#webhooks = state.webhooks;
    this.#idsByKeyHash = indexByKeyHash(state.streams);
  }

  /** Opens (or initializes) the store under `dataDir`. Throws CorruptStateFileError. */
  static async create(options: EmbeddedStateStoreOptions): Promise<EmbeddedStateStore> {
    const dataDir = path.resolve(options.dataDir);
    await mkdir(dataDir, { recursive: true });
    const file = path.join(dataDir, 'state.json');
    const store = new EmbeddedStateStore(file, await loadStateFile(file));
    store.#log.info({ streams: store.#streams.size }, 'embedded state store opened');
    return store;
  }

  /** Path of the state file, for operators and tests. */
  get file(): string {
    return this.#file;
  }

  get closed(): boolean {
    return this.#closed;
  }

  async createStream(record: StreamRecord): Promise<void> {
    assertStreamRecord(record);
    await this.#mutate(({ streams }) => {
      if (streams.has(record.id)) throw new ConflictError(`stream ${record.id} already exists`);
      if (this.#idsByKeyHash.has(record.keyHash)) {
        throw new ConflictError('a stream with this key already exists');
      }
      streams.set(record.id, { ...record });
      return undefined;
    });
  }

  getStream(id: string): Promise<StreamRecord | undefined> {
    return this.#read(() => {
      const record = this.#streams.get(id);
      return record && { ...record };
    });
  }

  listStreams(): Promise<StreamRecord[]> {
    return this.#read(() =>
      [...this.#streams.values()].map((record) => ({ ...record })).sort(compareStreamRecords),
    );
  }

  findStreamByKeyHash(keyHash: string): Promise<StreamRecord | undefined> {
    return this.#read(() => {
      const id = this.#idsByKeyHash.get(keyHash);
      const record = id === undefined ? undefined : this.#streams.get(id);
      return record && { ...record };
    });
  }

  rotateStreamKey(id: string, newKeyHash: string): Promise<StreamRecord | undefined> {
    return this.#mutate(({ streams }) => {
      if (typeof newKeyHash !== 'string' || newKeyHash === '') {
        throw new TypeError('newKeyHash must be a non-empty string');
      }
      const current = streams.get(id);
      if (!current) return undefined;
      const owner = this.#idsByKeyHash.get(newKeyHash);
      if (owner !== undefined && owner !== id) {
        throw new ConflictError('a stream with this key already exists');
      }
      const updated = { ...current, keyHash: newKeyHash, updatedAt: new Date().toISOString() };
      streams.set(id, updated);
      return { ...updated };
    });
  }

  deleteStream(id: string): Promise<boolean> {
    return this.#mutate(({ streams }) => streams.delete(id));
  }

  updateStream(id: string, changes: StreamChanges): Promise<StreamRecord | undefined> {
    return this.#mutate(({ streams }) => {
      const current = streams.get(id);
      if (!current) return undefined;
      const updated = applyStreamChanges(current, changes);
      streams.set(id, updated);
      return { ...updated };
    });
  }

  async createRecording(record: RecordingRecord): Promise<void> {
    assertRecordingRecord(record);
    await this.#mutate(({ recordings }) => {
      if (recordings.has(record.id)) {
        throw new ConflictError(`recording ${record.id} already exists`);
      }
      recordings.set(record.id, structuredClone(record));
      return undefined;
    });
  }

  getRecording(id: string): Promise<RecordingRecord | undefined> {
    return this.#read(() => {
      const record = this.#recordings.get(id);
      return record && structuredClone(record);
    });
  }

  listRecordings(streamId: string): Promise<RecordingRecord[]> {
    return this.#read(() =>
      [...this.#recordings.values()]
        .filter((r) => r.streamIds.includes(streamId))
        .map((r) => structuredClone(r))
        .sort(compareRecordingsNewestFirst),
    );
  }

  listUnfinishedRecordings(): Promise<RecordingRecord[]> {
    return this.#read(() =>
      [...this.#recordings.values()]
        .filter(isUnfinished)
        .map((r) => structuredClone(r))
        .sort(compareRecordingsNewestFirst),
    );
  }

  updateRecording(id: string, changes: RecordingChanges): Promise<RecordingRecord | undefined> {
    return this.#mutate(({ recordings }) => {
      const current = recordings.get(id);
      if (!current) return undefined;
      const updated = { ...current, ...changes, updatedAt: new Date().toISOString() };
      assertRecordingRecord(updated);
      recordings.set(id, updated);
      return structuredClone(updated);
    });
  }

  deleteRecording(id: string): Promise<boolean> {
    return this.#mutate(({ recordings }) => recordings.delete(id));
  }

  async enqueueWebhook(event: WebhookEvent, targets: readonly string[]): Promise<boolean> {
    assertWebhookEvent(event);
    return this.#mutate(({ webhooks }) => outbox.enqueue(webhooks, event, targets, Date.now()));
  }

  /** Leases live in memory, so a claim writes nothing. */
  claimWebhookDeliveries(options: {
    now: number;
    limit: number;
    leaseMs: number;
  }): Promise<WebhookDelivery[]> {
    return this.#read(() => outbox.claim(this.#webhooks, this.#leases, options));
  }

  async completeWebhookDelivery(
    delivery: WebhookDelivery,
    outcome: WebhookOutcome,
  ): Promise<boolean> {
    const done = await this.#mutate(({ webhooks }) =>
      outbox.complete(webhooks, this.#leases, delivery, outcome, Date.now()),
    );
    if (done) outbox.releaseLease(this.#leases, delivery);
    return done;
  }

  listDeadWebhooks(limit = 100): Promise<DeadWebhook[]> {
    return this.#read(() => structuredClone(this.#webhooks.dead.slice(0, limit)));
  }

  webhookOutboxStats(): Promise<WebhookOutboxStats> {
    return this.#read(() => outbox.stats(this.#webhooks));
  }

  /** Waits for pending writes, then refuses further calls. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue;
    this.#log.info('embedded state store closed');
  }

  #closedError(): InvalidStateError {
    return new InvalidStateError('EmbeddedStateStore is closed');
  }

  /** Runs a read on the committed state; reads never wait for pending writes. */
  #read<T>(read: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closedError());
    return Promise.resolve(read());
  }

  /**
   * Runs `change` on a copy of the committed streams after every earlier change has finished,
   * writes the result, and only then makes it the committed state. A change that throws, or a
   * write that fails, leaves both memory and file as they were.
   */
  #mutate<T>(change: (state: State) => T): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closedError());
    const run = async (): Promise<T> => {
      const next: State = {
        streams: new Map(this.#streams),
        recordings: new Map(this.#recordings),
        webhooks: outbox.copyOutbox(this.#webhooks),
      };
      const result = change(next);
      try {
        await writeStateFile(this.#file, next);
      } catch (error) {
        if (error instanceof InsufficientStorageError && !this.#diskFull) {
          this.#diskFull = true;
          this.#log.error({ file: this.#file }, 'disk full: the state file cannot be written');
        }
        throw error;
      }
      if (this.#diskFull) {
        this.#diskFull = false;
        this.#log.info({ file: this.#file }, 'the state file is written again');
      }
      this.#streams = next.streams;
      this.#recordings = next.recordings;
      this.#webhooks = next.webhooks;
      this.#idsByKeyHash = indexByKeyHash(next.streams);
      return result;
    };
    const done = this.#queue.then(run);
    // The queue must keep going after a failed change; the caller still sees the failure.
    this.#queue = done.then(
      () => undefined,
      () => undefined,
    );
    return done;
  }
}

function indexByKeyHash(streams: Map<string, StreamRecord>): Map<string, string> {
  const index = new Map<string, string>();
  for (const record of streams.values()) index.set(record.keyHash, record.id);
  return index;
}

async function loadStateFile(file: string): Promise<State> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return { streams: new Map(), recordings: new Map(), webhooks: outbox.emptyOutbox() };
    }
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CorruptStateFileError(file, 'not valid JSON', { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null) {
    throw new CorruptStateFileError(file, 'not a JSON object');
  }
  const { version, streams, recordings = [], webhooks } = parsed as Partial<StateFile>;
  if (version !== STATE_FILE_VERSION && version !== 2 && version !== 1) {
    throw new CorruptStateFileError(file, `unsupported version ${String(version)}`);
  }
  if (!Array.isArray(streams)) throw new CorruptStateFileError(file, '"streams" is not a list');
  const byId = new Map<string, StreamRecord>();
  const keyHashes = new Set<string>();
  for (const [index, value] of streams.entries()) {
    const record = toStreamRecord(value);
    if (!record) throw new CorruptStateFileError(file, `stream #${index} is malformed`);
    if (byId.has(record.id) || keyHashes.has(record.keyHash)) {
      throw new CorruptStateFileError(file, `stream #${index} duplicates an id or key`);
    }
    byId.set(record.id, record);
    keyHashes.add(record.keyHash);
  }
  if (!Array.isArray(recordings)) {
    throw new CorruptStateFileError(file, '"recordings" is not a list');
  }
  const recordingsById = new Map<string, RecordingRecord>();
  for (const [index, value] of recordings.entries()) {
    const record = toRecordingRecord(value);
    if (!record) throw new CorruptStateFileError(file, `recording #${index} is malformed`);
    recordingsById.set(record.id, record);
  }
  const outboxState = outbox.fromOutboxFile(webhooks);
  if (typeof outboxState === 'string') throw new CorruptStateFileError(file, outboxState);
  return { streams: byId, recordings: recordingsById, webhooks: outboxState };
}

async function writeStateFile(file: string, next: State): Promise<void> {
  const state: StateFile = {
    version: STATE_FILE_VERSION,
    streams: [...next.streams.values()].sort(compareStreamRecords),
    recordings: [...next.recordings.values()].sort(compareRecordingsNewestFirst),
    webhooks: outbox.toOutboxFile(next.webhooks),
  };
  // Writes are serialized per store, so one fixed temporary name is enough and never leaves
  // more than one stray file behind after a crash.
  const temp = `${file}.tmp`;
  try {
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(state, null, 2)}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    // The old file is untouched and the change is not applied in memory either (#mutate);
    // the half-written temporary file would only take the room that is missing.
    await unlink(temp).catch(() => undefined);
    if (isDiskFullError(error)) {
      throw new InsufficientStorageError(
        `the disk holding the state file is full (${(error as NodeJS.ErrnoException).code}): nothing was changed`,
      );
    }
    throw error;
  }
  await syncDirectory(path.dirname(file));
}

/** Makes the rename durable. Not every platform can fsync a directory; those skip it. */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Windows cannot open a directory for fsync; the rename is still atomic there.
  } finally {
    await handle?.close();
  }
}
