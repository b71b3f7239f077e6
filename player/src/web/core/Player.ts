/**
 * The player core, without DOM of its own (hls.js-style: `attachMedia`, typed events,
 * `destroy()`): plays a wisp stream live over WHEP, waits while it is not live and starts by
 * itself when it is, reconnects through its ReconnectPolicy when a session is lost, and when
 * the stream is over replays its latest recording over HLS. The pages, the `<wisp-player>`
 * element and the `/embed/:id` iframe are thin views over it.
 *
 * Live and replay sources are PlaybackSources; which one plays is decided here from WHEP's
 * answers (409 = not live) and the public status (`GET /watch/:id/status`).
 */
import { fetchStreamStatus } from './api.ts';
import type { PublicStreamStatus, Recording } from './api.ts';
import type {
  PlayerEvents,
  PlayerMode,
  PlayerOptions,
  PlayerState,
  SourceSpec,
} from './playerTypes.ts';
import { Emitter } from './Emitter.ts';
import { HlsSource } from './HlsSource.ts';
import type { HlsConstructor } from './HlsSource.ts';
import { errorName, warn } from './log.ts';
import { PlaybackError } from './PlaybackSource.ts';
import type { PlaybackSource, Quality } from './PlaybackSource.ts';
import { BackoffReconnectPolicy, DEFAULT_TIMINGS, retryAfterDelayMs } from './reconnect.ts';
import type { PlayerTimings, ReconnectPolicy } from './reconnect.ts';

export type {
  PlayerEvents,
  PlayerMode,
  PlayerOptions,
  PlayerState,
  SourceSpec,
} from './playerTypes.ts';
import { SignalingError } from './signaling.ts';
import { EMPTY_STATS } from './stats.ts';
import type { PlayerStats } from './stats.ts';
import { WhepSource } from './WhepSource.ts';

/** Default ReconnectPolicy of the viewer: 0.5 s doubling to 10 s, ±50 %, never gives up. */
export const DEFAULT_RECONNECT_POLICY: ReconnectPolicy = new BackoffReconnectPolicy();

/** Loads hls.js from the separate chunk `url` (a module whose default export is Hls). */
export function hlsLoaderFor(url: string): () => Promise<HlsConstructor> {
  let loading: Promise<HlsConstructor> | undefined;
  return () => {
    // The URL is only known at run time, so bundlers leave this import alone.
    loading ??= (import(/* @vite-ignore */ url) as Promise<{ default: HlsConstructor }>).then(
      (module) => module.default,
    );
    loading.catch(() => (loading = undefined));
    return loading;
  };
}

export class Player extends Emitter<PlayerEvents> {
  readonly #options: PlayerOptions;
  readonly #timings: PlayerTimings;
  readonly #policy: ReconnectPolicy;
  readonly #random: () => number;
  readonly #loadHls: () => Promise<HlsConstructor>;
  #media: HTMLMediaElement | undefined;
  #state: PlayerState = 'idle';
  #mode: PlayerMode = 'live';
  #recording: Recording | undefined;
  #automaticReplay = false;
  #status: PublicStreamStatus | undefined;
  #source: PlaybackSource | undefined;
  #abort: AbortController | undefined;
  /** Bumped by every switch of source; async work of an older one compares and bails. */
  #generation = 0;
  #retryCount = 0;
  #failingSince: number | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #statusTimer: ReturnType<typeof setTimeout> | undefined;
  #statusFetch: Promise<PublicStreamStatus | undefined> | undefined;
  #qualities: Quality[] = [];
  #quality = 'auto';
  #wasLive = false;
  /** 409s in a row while the status said live. */
  #refusedWhileLive = 0;
  #liveEndedAt: number | undefined;
  /** The recording that was `recording` while we watched live: the one to replay after. */
  #liveRecordingId: string | undefined;
  #destroyed = false;
  /** A make-before-break move in progress (#moveTo): true once it switched. */
  #moving: Promise<boolean> | undefined;
  #error: Error | undefined;
  readonly #mediaListeners: [string, () => void][] = [
    ['playing', () => this.#onMediaPlaying()],
    ['ended', () => this.#onMediaEnded()],
  ];

  constructor(options: PlayerOptions) {
    super();
    this.#options = options;
    this.#timings = { ...DEFAULT_TIMINGS, ...options.timings };
    this.#policy = options.reconnectPolicy ?? DEFAULT_RECONNECT_POLICY;
    this.#random = options.random ?? Math.random;
    this.#loadHls =
      options.loadHls ??
      (options.hlsScriptUrl
        ? hlsLoaderFor(options.hlsScriptUrl)
        : () => Promise.reject(new PlaybackError('unsupported', 'no hls.js URL configured')));
  }

  get state(): PlayerState {
    return this.#state;
  }

  get mode(): PlayerMode {
    return this.#mode;
  }

  /** The recording playing (replay mode). */
  get recording(): Recording | undefined {
    return this.#mode === 'replay' ? this.#recording : undefined;
  }

  /** Whether the replay was chosen by the player (true) or by the viewer. */
  get automaticReplay(): boolean {
    return this.#automaticReplay;
  }

  /** What stopped the player, while its state is `error`. */
  get error(): Error | undefined {
    return this.#state === 'error' ? this.#error : undefined;
  }

  get status(): PublicStreamStatus | undefined {
    return this.#status;
  }

  get qualities(): Quality[] {
    return this.#qualities;
  }

  get quality(): string {
    return this.#quality;
  }

  get media(): HTMLMediaElement | undefined {
    return this.#media;
  }

  get source(): PlaybackSource | undefined {
    return this.#source;
  }

  /** Plays into `media` (one element for the player's whole life, across reconnects). */
  attachMedia(media: HTMLMediaElement): void {
    this.#detachMedia();
    this.#media = media;
    for (const [type, listener] of this.#mediaListeners) media.addEventListener(type, listener);
  }

  #detachMedia(): void {
    const media = this.#media;
    if (!media) return;
    for (const [type, listener] of this.#mediaListeners) media.removeEventListener(type, listener);
  }

  /** Starts: the recording asked for in the options, else live (waiting if it is not). */
  start(): void {
    if (this.#destroyed) throw new PlaybackError('gave-up', 'the player was destroyed');
    if (!this.#media) throw new TypeError('attachMedia() first');
    if (this.#state !== 'idle' && this.#state !== 'stopped' && this.#state !== 'error') return;
    void this.#refreshStatus();
    if (this.#options.recordingId) void this.playRecording(this.#options.recordingId);
    else this.playLive();
  }

  /** Switches to (or retries) the live stream. */
  playLive(): void {
    this.#retryCount = 0;
    this.#failingSince = undefined;
    this.#automaticReplay = false;
    this.#setMode('live');
    void this.#connectLive();
  }

  /** Plays a recording by id (looked up in the public status) or as given. */
  async playRecording(recording: string | Recording, automatic = false): Promise<void> {
    let chosen = typeof recording === 'string' ? undefined : recording;
    if (!chosen) {
      const status = this.#status ?? (await this.#refreshStatus());
      chosen = status?.recordings.find((r) => r.id === recording);
    }
    if (this.#destroyed) return;
    if (!chosen) {
      this.emit('error', {
        error: new PlaybackError('recording-not-found', 'this recording is not available'),
        fatal: false,
      });
      this.playLive();
      return;
    }
    this.#retryCount = 0;
    this.#failingSince = undefined;
    this.#automaticReplay = automatic;
    this.#recording = chosen;
    this.#setMode('replay', chosen, automatic);
    void this.#connectReplay(chosen);
  }

  /**
   * Starts playback from a user gesture: after autoplay was refused, to unmute, or to replay a
   * recording that ended.
   */
  async play(options: { unmute?: boolean } = {}): Promise<void> {
    const media = this.#media;
    if (!media) return;
    if (options.unmute) media.muted = false;
    if (this.#state === 'ended' && this.#mode === 'replay') media.currentTime = 0;
    await this.#play(false);
  }

  async setQuality(id: string): Promise<void> {
    this.#quality = id;
    this.emit('qualities', { qualities: this.#qualities, selected: id });
    await this.#source?.setQuality(id);
  }

  async stats(): Promise<PlayerStats> {
    return this.#source ? this.#source.stats() : { ...EMPTY_STATS };
  }

  /** Ends the current session (DELETE) and stops; `start()` begins again. */
  async stop(options: { keepalive?: boolean } = {}): Promise<void> {
    const closing = this.#teardown(options);
    clearTimeout(this.#statusTimer);
    this.#statusTimer = undefined;
    if (this.#media) this.#media.srcObject = null;
    this.#setState('stopped');
    await closing;
  }

  /** Stops for good and lets go of the media element and every listener. */
  async destroy(options: { keepalive?: boolean } = {}): Promise<void> {
    if (this.#destroyed) return;
    await this.stop(options);
    this.#destroyed = true;
    this.#detachMedia();
    this.#media = undefined;
    this.removeAllListeners();
  }

  // --- live ---------------------------------------------------------------------------------

  async #connectLive(): Promise<void> {
    const { generation, signal } = await this.#begin();
    this.#setState(this.#retryCount > 0 || this.#wasLive ? 'reconnecting' : 'connecting');
    const source = this.#createSource({
      kind: 'webrtc',
      whepUrl: this.#options.whepUrl,
      ...(this.#options.token ? { token: this.#options.token } : {}),
    });
    try {
      await source.load(this.#media!, signal);
    } catch (error) {
      await source.destroy();
      if (generation === this.#generation) this.#onLiveError(error);
      return;
    }
    if (generation !== this.#generation) {
      await source.destroy();
      return;
    }
    this.#adopt(source, generation);
    if (this.#quality !== 'auto') {
      source.setQuality(this.#quality).catch((error: unknown) => warn('quality', error));
    }
    await this.#play(true);
  }

  #onLiveError(error: unknown): void {
    if (!(error instanceof SignalingError)) {
      if (errorName(error) === 'AbortError') return;
      this.#retry(asError(error));
      return;
    }
    if (error.status === 409) {
      this.#offline(error.retryAfterSeconds);
      return;
    }
    if (error.status === 404) {
      this.#fatal(new PlaybackError('not-found', 'there is no such stream', { cause: error }));
      return;
    }
    if (error.status >= 400 && error.status < 500 && error.status !== 429) {
      // The server understood and refused (private stream, unsupported offer): asking again
      // the same way cannot help.
      this.#fatal(new PlaybackError('refused', error.message, { cause: error }));
      return;
    }
    this.#retry(error, error.retryAfterSeconds);
  }

  /** The stream is not live: wait for it, or replay its latest recording. */
  #offline(retryAfterSeconds?: number): void {
    if (this.#media) this.#media.srcObject = null;
    const firstTime = this.#state !== 'waiting';
    if (this.#wasLive) {
      this.#wasLive = false;
      this.#liveEndedAt = Date.now();
    }
    this.#retryCount = 0;
    this.#failingSince = undefined;
    this.#setState('waiting');
    if (firstTime) this.emit('offline', {});
    const delay = retryAfterDelayMs(retryAfterSeconds, this.#timings, 0.2, this.#random);
    const generation = this.#generation;
    if (!this.#options.statusUrl) {
      this.#schedule(delay, () => void this.#connectLive());
      return;
    }
    void this.#refreshStatus().then((status) => {
      if (generation !== this.#generation || this.#state !== 'waiting') return;
      if (status?.live) {
        // Live by the status, yet WHEP said 409: once, it just went live (connect now); again
        // and again, the two disagree for a while (a cluster catching up): not in a loop.
        if (this.#refusedWhileLive++ === 0) void this.#connectLive();
        else this.#schedule(delay, () => void this.#connectLive());
        return;
      }
      this.#refusedWhileLive = 0;
      const replay = status && this.#replayCandidate(status);
      if (replay) {
        void this.playRecording(replay, true);
        return;
      }
      // Without a status (old server, network), WHEP itself tells when the stream is live.
      this.#schedule(delay, () => {
        if (status) this.#offline(retryAfterSeconds);
        else void this.#connectLive();
      });
    });
  }

  /**
   * Which recording to replay by itself while the stream is offline: none when replay is off or
   * nothing is ready; the one recorded while we watched, once it is ready (it may take a while
   * to finalize); otherwise the newest ready one, but only some seconds after a broadcast
   * ended, so a publisher who drops and comes back does not flip viewers to an old recording.
   */
  #replayCandidate(status: PublicStreamStatus): Recording | undefined {
    if (this.#options.autoReplay === false) return undefined;
    const ready = status.recordings.filter((r) => r.status === 'ready');
    const sinceEnd = this.#liveEndedAt === undefined ? Infinity : Date.now() - this.#liveEndedAt;
    if (this.#liveRecordingId) {
      const ours = ready.find((r) => r.id === this.#liveRecordingId);
      if (ours) return ours;
      if (sinceEnd < this.#timings.replayWaitMs) return undefined;
    } else if (sinceEnd < this.#timings.offlineGraceMs) {
      return undefined;
    }
    return ready[0];
  }

  // --- replay -------------------------------------------------------------------------------

  async #connectReplay(recording: Recording): Promise<void> {
    const { generation, signal } = await this.#begin();
    this.#setState(this.#retryCount > 0 ? 'reconnecting' : 'connecting');
    const source = this.#createSource({ kind: 'hls', url: recording.hlsUrl, recording });
    try {
      await source.load(this.#media!, signal);
    } catch (error) {
      await source.destroy();
      if (generation !== this.#generation || errorName(error) === 'AbortError') return;
      if (error instanceof PlaybackError && error.code === 'unsupported') this.#fatal(error);
      else this.#retry(asError(error));
      return;
    }
    if (generation !== this.#generation) {
      await source.destroy();
      return;
    }
    this.#adopt(source, generation);
    source.on('ended', () => {
      if (generation === this.#generation) this.#setState('ended');
    });
    await this.#play(true);
  }

  // --- shared -------------------------------------------------------------------------------

  #createSource(spec: SourceSpec): PlaybackSource {
    if (this.#options.createSource) return this.#options.createSource(spec, this.#timings);
    if (spec.kind === 'webrtc') {
      return new WhepSource({
        whepUrl: spec.whepUrl,
        ...(spec.token ? { token: spec.token } : {}),
        timings: this.#timings,
      });
    }
    return new HlsSource({ url: spec.url, loadHls: this.#loadHls });
  }

  /** Makes `source` the current one and listens to it. */
  #adopt(source: PlaybackSource, generation: number): void {
    this.#source = source;
    this.#qualities = [];
    source.on('lost', ({ error }) => {
      if (generation !== this.#generation) return;
      // Lost while moving to another edge (the old session closed first): the move decides.
      const moving = this.#moving ?? Promise.resolve(false);
      void moving.then((moved) => {
        if (moved || generation !== this.#generation) return;
        void this.#teardown().then(() => this.#retry(error));
      });
    });
    source.on('reconnect', ({ url }) => {
      if (generation === this.#generation) this.#moveTo(url ?? this.#options.whepUrl, generation);
    });
    source.on('viewercount', ({ viewers }) => {
      if (generation !== this.#generation || !this.#status) return;
      this.#status = { ...this.#status, viewers };
      this.emit('status', this.#status);
    });
    source.on('qualities', ({ qualities }) => {
      if (generation !== this.#generation) return;
      this.#qualities = qualities;
      if (!qualities.some((q) => q.id === this.#quality)) this.#quality = 'auto';
      this.emit('qualities', { qualities, selected: this.#quality });
    });
  }

  /**
   * The edge is draining (WHEP `reconnect`): make-before-break. A new session is made through
   * `url` (the front door, which picks another edge) while the old one keeps playing; once
   * the new one has decoded a frame the media element switches to it and the old session is
   * DELETEd, so the picture never goes black. If the new one fails, the old plays on until it
   * ends, and then the usual reconnect applies.
   */
  #moveTo(url: string, generation: number): void {
    const old = this.#source;
    const signal = this.#abort?.signal;
    if (this.#moving || !old || !signal || this.#mode !== 'live') return;
    const next = this.#createSource({
      kind: 'webrtc',
      whepUrl: url,
      ...(this.#options.token ? { token: this.#options.token } : {}),
    });
    this.#moving = (async () => {
      try {
        if (!next.prepare || !next.attach) throw new Error('this source cannot move');
        await next.prepare(signal);
      } catch (error) {
        warn('could not move to another edge', error);
        await next.destroy();
        return false;
      }
      if (generation !== this.#generation || !this.#media) {
        await next.destroy();
        return false;
      }
      this.#adopt(next, generation);
      next.attach(this.#media);
      if (this.#quality !== 'auto') {
        next.setQuality(this.#quality).catch((error: unknown) => warn('quality', error));
      }
      void this.#play(true);
      await old.destroy();
      return true;
    })().finally(() => (this.#moving = undefined));
  }

  /** Ends what plays and starts a new generation; resolves once the old source is gone. */
  async #begin(): Promise<{ generation: number; signal: AbortSignal }> {
    await this.#teardown();
    const abort = new AbortController();
    this.#abort = abort;
    return { generation: this.#generation, signal: abort.signal };
  }

  async #teardown(options: { keepalive?: boolean } = {}): Promise<void> {
    this.#generation++;
    this.#abort?.abort();
    this.#abort = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const source = this.#source;
    this.#source = undefined;
    if (this.#qualities.length > 0) {
      this.#qualities = [];
      this.emit('qualities', { qualities: [], selected: this.#quality });
    }
    await source?.destroy(options);
  }

  /** Asks the policy when to try again; gives up (fatal) when it says so. */
  #retry(reason: Error, retryAfterSeconds?: number): void {
    if (this.#destroyed || this.#state === 'stopped') return;
    this.#failingSince ??= Date.now();
    const delay = this.#policy.nextRetryDelayInMs({
      retryCount: this.#retryCount,
      elapsedMs: Date.now() - this.#failingSince,
      retryReason: reason,
      serverUrl: this.#mode === 'live' ? this.#options.whepUrl : this.#recording?.hlsUrl,
    });
    if (delay === null) {
      this.#fatal(new PlaybackError('gave-up', 'could not reconnect', { cause: reason }));
      return;
    }
    this.#retryCount++;
    this.emit('error', { error: reason, fatal: false });
    this.#setState('reconnecting');
    const asked =
      retryAfterSeconds === undefined
        ? 0
        : retryAfterDelayMs(retryAfterSeconds, this.#timings, 0.2, this.#random);
    const generation = this.#generation;
    this.#schedule(Math.max(delay, asked), () => {
      if (generation !== this.#generation) return;
      if (this.#mode === 'replay' && this.#recording) void this.#connectReplay(this.#recording);
      else void this.#connectLive();
    });
  }

  #fatal(error: Error): void {
    void this.#teardown();
    if (this.#media) this.#media.srcObject = null;
    this.#error = error;
    this.emit('error', { error, fatal: true });
    this.#setState('error', error);
  }

  #schedule(delayMs: number, run: () => void): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#destroyed && this.#state !== 'stopped') run();
    }, delayMs);
  }

  /** Plays; a refused autoplay is retried muted, then left to a gesture (`play()`). */
  async #play(automatic: boolean): Promise<void> {
    const media = this.#media;
    if (!media) return;
    const generation = this.#generation;
    try {
      await media.play();
    } catch (error) {
      if (errorName(error) === 'AbortError') {
        // A new load interrupted this play() (hls.js setting the MSE source, or a newer source
        // of ours). For the current source, try again once the media can play.
        media.addEventListener(
          'canplay',
          () => {
            if (generation === this.#generation && media.paused) void this.#play(automatic);
          },
          { once: true },
        );
        return;
      }
      if (errorName(error) !== 'NotAllowedError') return;
      if (automatic && !media.muted) {
        media.muted = true;
        return this.#play(automatic);
      }
      this.emit('autoplayblocked', { muted: media.muted });
    }
  }

  #onMediaPlaying(): void {
    if (!this.#source) return;
    this.#refusedWhileLive = 0;
    this.#retryCount = 0;
    this.#failingSince = undefined;
    this.#setState('playing');
    if (this.#mode === 'live' && !this.#wasLive) {
      this.#wasLive = true;
      this.#liveEndedAt = undefined;
      this.emit('live', {});
      void this.#refreshStatus();
    }
  }

  #onMediaEnded(): void {
    if (this.#mode === 'replay' && this.#source) this.#setState('ended');
  }

  #setMode(mode: PlayerMode, recording?: Recording, automatic = false): void {
    this.#mode = mode;
    if (mode === 'live') this.#recording = undefined;
    this.emit('mode', { mode, ...(recording ? { recording } : {}), automatic });
  }

  #setState(state: PlayerState, error?: Error): void {
    const previous = this.#state;
    if (previous === state && !error) return;
    this.#state = state;
    this.emit('state', { state, previous, ...(error ? { error } : {}) });
  }

  // --- status -------------------------------------------------------------------------------

  /**
   * Fetches the public status, emits it, and schedules the next refresh (while live or
   * replaying; waiting polls on its own clock). An automatic replay gives way to the live
   * stream as soon as the status says it is live again.
   */
  #refreshStatus(): Promise<PublicStreamStatus | undefined> {
    this.#statusFetch ??= this.#fetchStatus().finally(() => {
      this.#statusFetch = undefined;
    });
    return this.#statusFetch;
  }

  async #fetchStatus(): Promise<PublicStreamStatus | undefined> {
    const url = this.#options.statusUrl;
    if (!url || this.#destroyed) return undefined;
    let status: PublicStreamStatus | undefined;
    try {
      status = await fetchStreamStatus(url);
    } catch (error) {
      warn('cannot read the stream status', error);
    }
    if (this.#destroyed || this.#state === 'stopped') return status;
    if (status) {
      this.#status = status;
      if (status.live) {
        const current = status.recordings.find((r) => r.status === 'recording');
        if (current) this.#liveRecordingId = current.id;
      }
      this.emit('status', status);
      if (status.live && this.#mode === 'replay' && this.#automaticReplay) this.playLive();
    }
    this.#scheduleStatus();
    return status;
  }

  /** The next refresh, jittered so viewers who arrived together do not poll together. */
  #scheduleStatus(): void {
    clearTimeout(this.#statusTimer);
    const refresh = this.#timings.statusRefreshMs * (0.8 + 0.4 * this.#random());
    this.#statusTimer = setTimeout(() => {
      // While waiting, #offline polls on the server's Retry-After clock instead.
      if (this.#state === 'waiting') this.#scheduleStatus();
      else void this.#refreshStatus();
    }, refresh);
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
