/**
 * The recorder role: records every broadcast that should be recorded (the stream's `record`
 * setting, else `RECORDINGS`) and the compositions assigned to this node, from the same
 * leased StreamSource an edge uses (the local ingest in one process, a network pipe in a
 * cluster).
 *
 * Level-triggered like a Kubernetes controller: bus events (a stream went live or offline, a
 * composition was started or stopped) make it act at once, and a periodic reconcile repairs
 * whatever an event missed: live streams nobody records, unfinished recordings of this node
 * (a restart after a crash) or of a node that is gone.
 *
 * With several recorders each stream is recorded by one of them, chosen by rendezvous
 * hashing over the live recorder nodes, so they agree without talking to each other.
 */
import {
  TypedEmitter,
  createLogger,
  generateStreamId,
  type ControlBus,
  type ControlEvent,
  type NodeRegistry,
  type RecordingConfig,
  type RecorderMetrics,
  type RecordingRecord,
  type StateStore,
  type StreamRegistry,
} from '@wisp/core';
import type { StreamLease, StreamSource } from '@wisp/core/rtc';
import { liveRecorders, pick } from './assign.ts';
import type { Layout } from './ffmpeg/args.ts';
import type { FfmpegBinaries } from './ffmpeg/resolve.ts';
import { Recording } from './Recording.ts';
import type { RecordingStorage } from './storage/index.ts';

const log = createLogger('Recorder');

export interface RecorderOptions {
  nodeId: string;
  source: StreamSource;
  store: StateStore;
  bus: ControlBus;
  nodes: NodeRegistry;
  streams: StreamRegistry;
  storage: RecordingStorage;
  config: RecordingConfig;
  ffmpeg: FfmpegBinaries;
  /** A node seen less than this long ago is alive. */
  freshMs: number;
  /** How often to reconcile. Default 2000 ms. */
  reconcileMs?: number;
  /**
   * Finalize recordings on `close()` (one process: its streams end with it). In a cluster a
   * closing recorder leaves them unfinished for the next recorder to continue.
   */
  finalizeOnClose: boolean;
  /** Told of finished recordings and ffmpeg restarts (`wisp_recordings_finished_total`, ...). */
  metrics?: RecorderMetrics;
}

/** A recording this node writes, with the leases of its current part. */
interface Active {
  recording: Recording;
  layout: Layout;
  /** Live sources of the current part, by stream id. */
  leases: Map<string, StreamLease>;
  /** Streams of a composition that ended: not waited for again. */
  gone: Set<string>;
  failures: number[];
  /** Waiting for the stream to come back after its source ended. */
  waiting: boolean;
}

/** After a broadcast's recording failed, its stream is not recorded again for this long. */
const FAILED_COOLDOWN_MS = 60_000;

/** How long a broadcast waits for its stream to come back after a takeover. */
const TAKEOVER_GRACE_MS = 5000;
/** ...and when it does not know why the stream went offline. */
const UNKNOWN_GRACE_MS = 1500;

export interface RecorderEvents extends Record<string, unknown> {
  /**
   * A recording this node wrote is over: `ready` or `failed` (Recording.finalize). Once per
   * recording, on the node that finalized it (the webhooks' recording.* events).
   */
  recordingFinished: RecordingRecord;
}

export class Recorder extends TypedEmitter<RecorderEvents> {
  readonly #options: RecorderOptions;
  /** Broadcast recordings by stream id, and every active recording by id. */
  readonly #byStream = new Map<string, Active>();
  readonly #byId = new Map<string, Active>();
  /** Streams being looked at right now (one at a time per stream). */
  readonly #busy = new Set<string>();
  /** Why each stream last went offline (from the bus), with when. */
  readonly #offline = new Map<string, { reason: string; at: number }>();
  /** Streams whose recording just failed: not retried before the time given. */
  readonly #cooldown = new Map<string, number>();
  #unsubscribe: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: RecorderOptions) {
    super();
    this.#options = options;
  }

  async start(): Promise<void> {
    this.#unsubscribe = this.#options.bus.subscribe((event) => this.#onEvent(event));
    await this.reconcile().catch((error: unknown) => log.warn({ err: error }, 'reconcile failed'));
    this.#timer = setInterval(() => {
      void this.reconcile().catch((error: unknown) => log.warn({ err: error }, 'reconcile failed'));
    }, this.#options.reconcileMs ?? 2000);
    this.#timer.unref();
  }

  /** Recordings this node is writing. */
  get activeCount(): number {
    return this.#byId.size;
  }

  /** The recordings this node runs, by state, and their files waiting for the storage. */
  recordingCounts(): { recording: number; finalizing: number; uploadQueue: number } {
    const counts = { recording: 0, finalizing: 0, uploadQueue: 0 };
    for (const { recording } of this.#byId.values()) {
      if (recording.finalizing) counts.finalizing++;
      else counts.recording++;
      counts.uploadQueue += recording.uploadsPending;
    }
    return counts;
  }

  /** The recording of a stream's current broadcast here, if any. */
  recordingOf(streamId: string): Recording | undefined {
    return this.#byStream.get(streamId)?.recording;
  }

  /** Brings what this node records in line with what is live and unfinished. */
  async reconcile(): Promise<void> {
    if (this.#closed) return;
    const { store, streams, nodeId } = this.#options;
    for (const record of await store.listUnfinishedRecordings()) {
      if (this.#byId.has(record.id)) continue;
      if (record.node === nodeId || (await this.#orphanFor(record))) {
        await this.#adopt(record).catch((error: unknown) =>
          log.error({ err: error, recordingId: record.id }, 'could not resume a recording'),
        );
      }
    }
    for (const streamId of (await streams.owners()).keys()) {
      if (!this.#byStream.has(streamId)) void this.#onLive(streamId);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#unsubscribe?.();
    await Promise.allSettled(
      [...this.#byId.values()].map(async (active) => {
        for (const lease of active.leases.values()) lease.release();
        if (this.#options.finalizeOnClose) await active.recording.finalize();
        else await active.recording.abandon();
      }),
    );
    this.#byId.clear();
    this.#byStream.clear();
  }

  #onEvent(event: ControlEvent): void {
    if (this.#closed) return;
    switch (event.type) {
      case 'streamLive':
        this.#offline.delete(event.streamId);
        void this.#onLive(event.streamId);
        return;
      case 'streamOffline':
        this.#offline.set(event.streamId, { reason: event.reason, at: Date.now() });
        return;
      case 'compositionStarted':
        void this.#options.store.getRecording(event.recordingId).then((record) => {
          if (record && record.node === this.#options.nodeId && !this.#byId.has(record.id)) {
            return this.#adopt(record);
          }
          return undefined;
        });
        return;
      case 'compositionStopped': {
        const active = this.#byId.get(event.recordingId);
        if (active) void this.#finish(active);
        return;
      }
      default:
        return;
    }
  }

  /** A stream is live: record it (a new broadcast, or the next part of the current one). */
  async #onLive(streamId: string): Promise<void> {
    if (this.#busy.has(streamId) || this.#closed) return;
    this.#busy.add(streamId);
    try {
      const active = this.#byStream.get(streamId);
      if (active) {
        if (!active.waiting && !active.recording.writing && !active.recording.finalizing) {
          await this.#nextPart(active);
        }
        return;
      }
      if ((this.#cooldown.get(streamId) ?? 0) > Date.now()) return;
      if (!(await this.#shouldRecord(streamId))) return;
      if (!(await this.#assigned(streamId))) return;
      const lease = await this.#options.source.acquire(streamId);
      if (!lease) return;
      const now = new Date().toISOString();
      const record: RecordingRecord = {
        id: `rec_${generateStreamId()}`,
        kind: 'broadcast',
        streamIds: [streamId],
        status: 'recording',
        node: this.#options.nodeId,
        startedAt: now,
        parts: 0,
        updatedAt: now,
      };
      let recording: Recording;
      try {
        recording = await Recording.create(this.#recordingOptions(record));
      } catch (error) {
        lease.release();
        throw error;
      }
      const entry = this.#track(recording, 'grid');
      await this.#startPart(entry, [lease]);
    } catch (error) {
      log.error({ err: error, streamId }, 'could not start recording');
    } finally {
      this.#busy.delete(streamId);
    }
  }

  async #shouldRecord(streamId: string): Promise<boolean> {
    const record = await this.#options.store.getStream(streamId);
    if (!record) return false;
    return record.record ?? this.#options.config.defaultOn;
  }

  /** Whether this node is the recorder rendezvous hashing picks for `key`. */
  async #assigned(key: string): Promise<boolean> {
    const recorders = await this.#liveRecorders().catch(() => [] as string[]);
    if (recorders.length === 0) return true;
    return pick(key, recorders) === this.#options.nodeId;
  }

  async #liveRecorders(): Promise<string[]> {
    const live = await liveRecorders(this.#options.nodes, this.#options.freshMs);
    if (!live.includes(this.#options.nodeId)) live.push(this.#options.nodeId);
    return live;
  }

  /** An unfinished recording whose node is gone, that this node should take over. */
  async #orphanFor(record: RecordingRecord): Promise<boolean> {
    const node = await this.#options.nodes.get(record.node);
    if (node && Date.now() - node.lastSeen < this.#options.freshMs) return false;
    return this.#assigned(record.id);
  }

  /** Resumes an unfinished recording (after a crash, or one a composition request made). */
  async #adopt(record: RecordingRecord): Promise<void> {
    const { nodeId, store, source } = this.#options;
    if (record.node !== nodeId) {
      const updated = await store.updateRecording(record.id, { node: nodeId });
      if (!updated) return;
      record = updated;
    }
    const recording =
      record.parts === 0 && record.kind === 'composition'
        ? new Recording(this.#recordingOptions(record))
        : await Recording.recover(this.#recordingOptions(record));
    const entry = this.#track(recording, record.layout ?? 'grid');
    if (record.status === 'finalizing') {
      await this.#finish(entry);
      return;
    }
    const leases: StreamLease[] = [];
    for (const streamId of record.streamIds) {
      const lease = await source.acquire(streamId).catch(() => undefined);
      if (lease) leases.push(lease);
      else if (record.kind === 'composition') entry.gone.add(streamId);
    }
    if (leases.length === 0) {
      await this.#finish(entry);
      return;
    }
    await this.#startPart(entry, leases);
  }

  #track(recording: Recording, layout: Layout): Active {
    const entry: Active = {
      recording,
      layout,
      leases: new Map(),
      gone: new Set(),
      failures: [],
      waiting: false,
    };
    this.#byId.set(recording.id, entry);
    if (recording.record.kind === 'broadcast') {
      this.#byStream.set(recording.record.streamIds[0], entry);
    }
    recording.onRestart((reason) => {
      log.info({ recordingId: recording.id, reason }, 'new part');
      if (reason === 'ffmpeg failed') {
        const now = Date.now();
        entry.failures = [...entry.failures.filter((t) => now - t < 60_000), now];
        if (entry.failures.length >= 3) {
          log.error({ recordingId: recording.id }, 'ffmpeg keeps failing: recording ends');
          void this.#finish(entry);
          return;
        }
      }
      this.#options.metrics?.ffmpegRestarted();
      setTimeout(() => void this.#restartPart(entry), reason === 'ffmpeg failed' ? 1000 : 0);
    });
    return entry;
  }

  async #startPart(entry: Active, leases: StreamLease[]): Promise<void> {
    for (const lease of leases) {
      entry.leases.set(lease.streamId, lease);
      lease.onClosed(() => void this.#onSourceEnded(entry, lease));
    }
    try {
      await entry.recording.startPart([...entry.leases.values()], entry.layout);
      for (const lease of leases) this.#offline.delete(lease.streamId);
    } catch (error) {
      log.error({ err: error, recordingId: entry.recording.id }, 'could not start a part');
      setTimeout(() => void this.#restartPart(entry), 1000);
    }
  }

  /** The same sources, a new part (layers changed, ffmpeg failed). */
  async #restartPart(entry: Active): Promise<void> {
    if (entry.recording.finalizing || this.#closed) return;
    const leases = [...entry.leases.values()].filter((l) => !l.closed);
    if (leases.length === 0) return;
    try {
      await entry.recording.startPart(leases, entry.layout);
    } catch (error) {
      log.error({ err: error, recordingId: entry.recording.id }, 'could not restart the part');
      entry.failures.push(Date.now());
      if (entry.failures.length >= 3) void this.#finish(entry);
      else setTimeout(() => void this.#restartPart(entry), 1000);
    }
  }

  /** A source of the current part went offline. */
  async #onSourceEnded(entry: Active, lease: StreamLease): Promise<void> {
    if (entry.leases.get(lease.streamId) !== lease) return;
    const endedAt = new Date();
    entry.leases.delete(lease.streamId);
    lease.release();
    const { recording } = entry;
    if (recording.finalizing) return;
    const ending = recording.endPart();
    if (recording.record.kind === 'composition') {
      await ending;
      entry.gone.add(lease.streamId);
      const rest = [...entry.leases.values()].filter((l) => !l.closed);
      if (rest.length === 0) await this.#finish(entry, endedAt);
      else await recording.startPart(rest, entry.layout).catch(() => this.#finish(entry));
      return;
    }
    // A broadcast: a takeover brings the stream back at once; anything else ends it.
    const streamId = lease.streamId;
    const since = endedAt.getTime();
    let deadline = since + UNKNOWN_GRACE_MS;
    let next: StreamLease | undefined;
    entry.waiting = true;
    try {
      while (!this.#closed && Date.now() < deadline) {
        const offline = this.#offline.get(streamId);
        if (offline && offline.at >= since - 2000) {
          if (offline.reason !== 'replaced') break;
          deadline = since + TAKEOVER_GRACE_MS;
        }
        next = await this.#options.source.acquire(streamId).catch(() => undefined);
        if (next) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await ending;
    } finally {
      entry.waiting = false;
    }
    if (next) {
      if (recording.finalizing || recording.writing) next.release();
      else await this.#startPart(entry, [next]);
      return;
    }
    if (!this.#closed) await this.#finish(entry, endedAt);
  }

  async #nextPart(entry: Active): Promise<void> {
    const streamId = entry.recording.record.streamIds[0];
    const lease = await this.#options.source.acquire(streamId);
    if (lease) await this.#startPart(entry, [lease]);
  }

  async #finish(entry: Active, endedAt = new Date()): Promise<void> {
    for (const lease of entry.leases.values()) lease.release();
    entry.leases.clear();
    await entry.recording.finalize(endedAt);
  }

  #recordingOptions(record: RecordingRecord) {
    const { store, storage, config, ffmpeg } = this.#options;
    return {
      record,
      store,
      storage,
      spoolDir: config.spoolDir,
      segmentSeconds: config.segmentSeconds,
      flushTimeoutMs: config.uploadTimeoutMs,
      ffmpeg,
      onDone: (done: RecordingRecord) => {
        if (done.status === 'ready' || done.status === 'failed') {
          this.#options.metrics?.recordingFinished(done.status);
        }
        if (done.status === 'failed' && done.kind === 'broadcast') {
          this.#cooldown.set(done.streamIds[0], Date.now() + FAILED_COOLDOWN_MS);
        }
        if (done.status === 'ready' || done.status === 'failed') {
          this.emit('recordingFinished', done);
        }
        const entry = this.#byId.get(done.id);
        this.#byId.delete(done.id);
        if (entry && this.#byStream.get(done.streamIds[0]) === entry) {
          this.#byStream.delete(done.streamIds[0]);
        }
      },
    };
  }
}
