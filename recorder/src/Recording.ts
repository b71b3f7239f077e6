/**
 * One recording as its recorder writes it: a sequence of parts (PartWriter), their files
 * uploaded to the recording storage as ffmpeg finishes them (segments first, then the
 * playlist that names them), and the record in the state store that says how far it got.
 *
 * Lifecycle: `recording` (parts come and go: a takeover, a layer change, a recorder restart
 * each start a new one) -> `finalizing` (the last part is stopped, the VOD playlist and the
 * poster are written, everything is flushed to storage) -> `ready`, or `failed` with the
 * reason. Nothing a part or the store does may touch the live stream: failures end here.
 */
import { mkdir, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  createLogger,
  type Logger,
  type RecordingChanges,
  type RecordingRecord,
  type StateStore,
} from '@wisp/core';
import type { StreamLease } from '@wisp/core/rtc';
import type { Layout } from './ffmpeg/args.ts';
import { FfmpegProcess } from './ffmpeg/FfmpegProcess.ts';
import type { FfmpegBinaries } from './ffmpeg/resolve.ts';
import { PartWriter } from './PartWriter.ts';
import {
  parsePartPlaylist,
  playlistDuration,
  recordingPlaylist,
  splitRecordingPlaylist,
  type PartPlaylist,
} from './playlists.ts';
import { contentTypeOf, Uploader, type RecordingStorage } from './storage/index.ts';

export interface RecordingOptions {
  record: RecordingRecord;
  store: StateStore;
  storage: RecordingStorage;
  /** The spool root; this recording writes under `<spoolDir>/<id>/`. */
  spoolDir: string;
  segmentSeconds: number;
  ffmpeg: FfmpegBinaries;
  /** How long finalizing waits for the storage before the recording is `failed`. */
  flushTimeoutMs?: number;
  /** Told when the recording is over (ready or failed). */
  onDone?: (record: RecordingRecord) => void;
}

export class Recording {
  readonly id: string;
  readonly dir: string;
  readonly #options: RecordingOptions;
  readonly #log: Logger;
  readonly #uploader: Uploader;
  #record: RecordingRecord;
  /** Parts that ended, oldest first. */
  readonly #parts: PartPlaylist[] = [];
  #writer: PartWriter | undefined;
  #starting: Promise<void> | undefined;
  /** Files already handed to the uploader. */
  readonly #queued = new Set<string>();
  #finalizing: Promise<RecordingRecord> | undefined;
  #lastError: string | undefined;
  #restartHandler: ((reason: string) => void) | undefined;
  /** The parts came from the storage, not from a spool here (no poster can be made). */
  #fromStorage = false;

  constructor(options: RecordingOptions) {
    this.#options = options;
    this.#record = options.record;
    this.id = options.record.id;
    this.dir = path.join(options.spoolDir, options.record.id);
    this.#log = createLogger('Recording', { recordingId: this.id });
    this.#uploader = new Uploader(options.storage, { log: this.#log });
  }

  get record(): RecordingRecord {
    return this.#record;
  }

  get streamIds(): readonly string[] {
    return this.#record.streamIds;
  }

  /** A part is being written now. */
  get writing(): boolean {
    return this.#writer !== undefined || this.#starting !== undefined;
  }

  get finalizing(): boolean {
    return this.#finalizing !== undefined;
  }

  /** Files handed to the storage and not stored yet (pending or retrying). */
  get uploadsPending(): number {
    return this.#uploader.pending;
  }

  /** Creates the recording's record and spool folder. */
  static async create(options: RecordingOptions): Promise<Recording> {
    const recording = new Recording(options);
    await mkdir(recording.dir, { recursive: true });
    await options.store.createRecording(options.record);
    recording.#log.info({ streamIds: options.record.streamIds }, 'recording started');
    return recording;
  }

  /**
   * Picks up a recording a recorder left unfinished (it crashed or was killed): ffmpeg
   * processes still running from it are killed, the parts it wrote are read back and their
   * files queued for upload. Without a spool here (another machine wrote it), only what the
   * storage holds is used.
   */
  static async recover(options: RecordingOptions): Promise<Recording> {
    const recording = new Recording(options);
    await mkdir(recording.dir, { recursive: true });
    const files = await readdir(recording.dir).catch(() => [] as string[]);
    const numbers = files
      .map((f) => /^p(\d+)\.m3u8$/.exec(f)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    for (const n of numbers) {
      await killStaleFfmpeg(path.join(recording.dir, `p${n}.pid`));
      const text = await readFile(path.join(recording.dir, `p${n}.m3u8`), 'utf8');
      try {
        recording.#parts.push(parsePartPlaylist(text));
      } catch (error) {
        recording.#log.warn({ err: error, part: n }, 'unreadable part playlist skipped');
      }
    }
    if (recording.#parts.length === 0) {
      // No spool here: finalize what the storage holds (those files are already stored).
      const stored = await options.storage.get(`${recording.id}/index.m3u8`).catch(() => undefined);
      if (stored) {
        const chunks: Buffer[] = [];
        for await (const chunk of stored.body) chunks.push(Buffer.from(chunk as Buffer));
        for (const part of splitRecordingPlaylist(Buffer.concat(chunks).toString('utf8'))) {
          recording.#parts.push(part);
          for (const file of [part.init, ...part.segments.map((s) => s.uri)]) {
            if (file) recording.#queued.add(file);
          }
        }
        recording.#fromStorage = true;
      }
    }
    const highest = Math.max(options.record.parts, ...numbers, 0);
    if (highest !== options.record.parts) await recording.#update({ parts: highest });
    recording.#log.info({ parts: recording.#parts.length }, 'recording recovered');
    if (recording.#parts.length > 0) recording.#publish(false);
    return recording;
  }

  /** Starts a new part from `sources` (the live leases of the recorded streams). */
  startPart(sources: readonly StreamLease[], layout: Layout = 'grid'): Promise<void> {
    if (this.#finalizing) return Promise.resolve();
    const start = async () => {
      await this.#stopWriter();
      await mkdir(this.dir, { recursive: true });
      const part = this.#record.parts + 1;
      const writer = await PartWriter.start({
        sources,
        layout,
        dir: this.dir,
        part,
        segmentSeconds: this.#options.segmentSeconds,
        ffmpeg: this.#options.ffmpeg,
        log: this.#log.child({ part }),
      });
      this.#writer = writer;
      writer.on('progress', () => this.#publish(false));
      writer.on('restart', ({ reason }) => this.#restartHandler?.(reason));
      writer.on('failed', ({ exit }) => {
        this.#lastError = `ffmpeg exited (${exit.code ?? exit.signal}): ${lastLine(exit.stderr)}`;
        void this.#update({ error: this.#lastError }).catch(() => undefined);
        void this.#stopWriter().then(() => this.#restartHandler?.('ffmpeg failed'));
      });
      await this.#update({ parts: part });
      this.#log.info({ part, copy: writer.copy }, 'part started');
    };
    const starting = start()
      .catch((error: unknown) => {
        this.#lastError = error instanceof Error ? error.message : String(error);
        throw error;
      })
      .finally(() => {
        if (this.#starting === starting) this.#starting = undefined;
      });
    this.#starting = starting;
    return starting;
  }

  /** Ends the current part (its source ended or changed); the recording stays open. */
  async endPart(): Promise<void> {
    await this.#starting?.catch(() => undefined);
    await this.#stopWriter();
  }

  /** The current part asked for a new one (layers changed): `handler` gets the reason. */
  onRestart(handler: (reason: string) => void): void {
    this.#restartHandler = handler;
  }

  /**
   * Ends the recording: the last part is finished, the VOD playlist and poster written and
   * everything flushed to storage. `ready` when it holds at least one segment, else `failed`.
   */
  finalize(endedAt = new Date()): Promise<RecordingRecord> {
    this.#finalizing ??= this.#finalize(endedAt);
    return this.#finalizing;
  }

  /** Stops writing without finalizing (shutdown): a restarted recorder resumes it. */
  async abandon(): Promise<void> {
    await this.#starting?.catch(() => undefined);
    const writer = this.#writer;
    this.#writer = undefined;
    if (writer) this.#parts.push(await writer.stop());
    this.#publish(false);
    await this.#uploader.flush(5000).catch(() => undefined);
    await this.#uploader.close();
  }

  async #finalize(endedAt: Date): Promise<RecordingRecord> {
    try {
      await this.#update({ status: 'finalizing' });
      await this.#starting?.catch(() => undefined);
      await this.#stopWriter();
      const parts = this.#parts.filter((p) => p.init && p.segments.length > 0);
      if (parts.length === 0) {
        throw new Error(this.#lastError ?? 'nothing was recorded (no media reached ffmpeg)');
      }
      this.#publish(true);
      if (!this.#fromStorage)
        await this.#poster(parts).catch((error: unknown) => {
          this.#log.warn({ err: error }, 'no poster');
        });
      await this.#uploader.flush(this.#options.flushTimeoutMs ?? 30_000);
      const started = Date.parse(this.#record.startedAt);
      const durationSeconds = Math.max(
        0,
        Math.round(((endedAt.getTime() - started) / 1000) * 1000) / 1000,
      );
      const record = await this.#update({
        status: 'ready',
        endedAt: endedAt.toISOString(),
        durationSeconds,
      });
      this.#log.info(
        { durationSeconds, media: playlistDuration(parts), parts: parts.length },
        'recording ready',
      );
      await rm(this.dir, { recursive: true, force: true });
      return record;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.#log.error({ err: error }, 'recording failed');
      const record = await this.#update({
        status: 'failed',
        endedAt: endedAt.toISOString(),
        error: message,
      }).catch(() => ({
        ...this.#record,
        status: 'failed' as const,
        endedAt: endedAt.toISOString(),
        error: message,
      }));
      // Also when the store refused: whoever is told it is over sees that it failed.
      this.#record = record;
      return record;
    } finally {
      await this.#uploader.close();
      this.#options.onDone?.(this.#record);
    }
  }

  async #stopWriter(): Promise<void> {
    const writer = this.#writer;
    if (!writer) return;
    this.#writer = undefined;
    const playlist = await writer.stop();
    this.#parts.push(playlist);
    this.#publish(false);
    this.#log.info({ part: writer.part, segments: playlist.segments.length }, 'part ended');
  }

  /**
   * Queues every finished file not queued yet, then the recording playlist (a barrier: it
   * is stored only after the segments it names).
   */
  #publish(final: boolean): void {
    const current = this.#writer?.playlist;
    const parts = current ? [...this.#parts, current] : [...this.#parts];
    for (const part of parts) {
      for (const file of [part.init, ...part.segments.map((s) => s.uri)]) {
        if (!file || this.#queued.has(file)) continue;
        this.#queued.add(file);
        this.#uploader.enqueueFile(this.#key(file), path.join(this.dir, file), contentTypeOf(file));
      }
    }
    if (parts.every((p) => p.segments.length === 0)) return;
    const text = recordingPlaylist(parts, final);
    this.#uploader.enqueueBody(this.#key('index.m3u8'), text, contentTypeOf('index.m3u8'), {
      barrier: true,
    });
    void writeFile(path.join(this.dir, 'index.m3u8'), text).catch(() => undefined);
  }

  async #poster(parts: PartPlaylist[]): Promise<void> {
    // The middle segment of the longest part: past any start-up black frames.
    const part = parts.reduce((a, b) => (b.segments.length > a.segments.length ? b : a));
    const segment = part.segments[Math.floor(part.segments.length / 2)];
    const source = path.join(this.dir, 'poster-source.mp4');
    const handle = await open(source, 'w');
    try {
      await handle.writeFile(await readFile(path.join(this.dir, part.init!)));
      await handle.writeFile(await readFile(path.join(this.dir, segment.uri)));
    } finally {
      await handle.close();
    }
    const poster = path.join(this.dir, 'poster.jpg');
    const ffmpeg = new FfmpegProcess(
      this.#options.ffmpeg.ffmpeg,
      [
        '-hide_banner',
        '-nostdin',
        '-loglevel',
        'error',
        '-y',
        '-i',
        source,
        '-map',
        '0:v:0',
        '-frames:v',
        '1',
        '-vf',
        'scale=640:-2',
        '-q:v',
        '4',
        poster,
      ],
      this.#log,
    );
    const exit = await ffmpeg.exited;
    if (exit.code !== 0) throw new Error(`poster: ${lastLine(exit.stderr)}`);
    this.#uploader.enqueueFile(this.#key('poster.jpg'), poster, contentTypeOf('poster.jpg'));
  }

  async #update(changes: RecordingChanges): Promise<RecordingRecord> {
    const updated = await this.#options.store.updateRecording(this.id, changes);
    if (!updated) throw new Error('the recording was deleted');
    this.#record = updated;
    return updated;
  }

  #key(file: string): string {
    return `${this.id}/${file}`;
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

/** Kills an ffmpeg a crashed recorder left behind (its pid file names it). */
async function killStaleFfmpeg(pidFile: string): Promise<void> {
  const pid = Number(await readFile(pidFile, 'utf8').catch(() => ''));
  if (!Number.isInteger(pid) || pid <= 0) return;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (cmdline.includes('ffmpeg') && cmdline.includes(path.dirname(pidFile))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  await rm(pidFile, { force: true });
}
