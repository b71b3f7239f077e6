/**
 * Live playback over WHEP. Watches its session: `disconnected` first tries an ICE restart
 * (and so does a network change), then gives the session up after a grace period; `failed`,
 * no bytes for `stallTimeoutMs` (the publisher left, an edge died) or none at all within
 * `firstMediaTimeoutMs` report `lost`, and the Player starts a new session.
 */
import { Emitter } from './Emitter.ts';
import { warn } from './log.ts';
import { PlaybackError } from './PlaybackSource.ts';
import type { PlaybackSource, Quality, SourceEvents } from './PlaybackSource.ts';
import type { PlayerTimings } from './reconnect.ts';
import { computeLiveStats, EMPTY_STATS, takeSnapshot } from './stats.ts';
import type { PlayerStats, StatsSnapshot } from './stats.ts';
import { WhepClient } from './WhepClient.ts';
import type { MediaLayers } from './WhepClient.ts';

export interface WhepSourceOptions {
  whepUrl: string;
  token?: string;
  timings: PlayerTimings;
}

/** How often the session's counters are read (stall watchdog and the overlay's deltas). */
const SAMPLE_MS = 500;

export class WhepSource extends Emitter<SourceEvents> implements PlaybackSource {
  readonly kind = 'webrtc';
  readonly #options: WhepSourceOptions;
  #client: WhepClient | undefined;
  #destroyed = false;
  #lost = false;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #disconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #history: StatsSnapshot[] = [];
  #lastBytes = 0;
  #lastProgressAt = 0;
  #layers: MediaLayers | undefined;
  #selected = 'auto';
  readonly #onNetworkChange = (): void => this.#restartIce('network change');

  constructor(options: WhepSourceOptions) {
    super();
    this.#options = options;
  }

  get client(): WhepClient | undefined {
    return this.#client;
  }

  async load(media: HTMLMediaElement, signal: AbortSignal): Promise<void> {
    await this.prepare(signal, false);
    this.attach(media);
  }

  /**
   * Connects and watches the session without the media element; with `firstFrame`, resolves
   * only once video has decoded a frame (so attaching it shows a picture at once).
   */
  async prepare(signal: AbortSignal, firstFrame = true): Promise<void> {
    const client = await WhepClient.connect({
      endpoint: this.#options.whepUrl,
      ...(this.#options.token ? { token: this.#options.token } : {}),
      iceGatheringTimeoutMs: this.#options.timings.iceGatheringTimeoutMs,
      signal,
    });
    if (this.#destroyed || signal.aborted) {
      await client.close();
      signal.throwIfAborted();
      return;
    }
    this.#client = client;
    this.#lastProgressAt = performance.now();
    client.pc.addEventListener('connectionstatechange', () => this.#onConnectionState());
    globalThis.addEventListener?.('online', this.#onNetworkChange);
    connection()?.addEventListener?.('change', this.#onNetworkChange);
    this.#watchdog = setInterval(() => void this.#sample(), SAMPLE_MS);
    client
      .subscribe(['reconnect', 'viewercount'], (event, data) => {
        if (this.#destroyed) return;
        if (event === 'reconnect') {
          this.emit('reconnect', { url: typeof data.url === 'string' ? data.url : undefined });
        } else if (event === 'viewercount' && typeof data.viewercount === 'number') {
          this.emit('viewercount', { viewers: data.viewercount });
        }
      })
      .catch((error: unknown) => warn('no WHEP events', error));
    if (!firstFrame) return;
    const deadline = performance.now() + this.#options.timings.firstMediaTimeoutMs;
    while (!(await this.#decodedFrames())) {
      if (this.#lost || this.#destroyed || performance.now() > deadline) {
        throw new PlaybackError('connection-lost', 'the new session showed no picture');
      }
      signal.throwIfAborted();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  attach(media: HTMLMediaElement): void {
    if (!this.#client) return;
    media.srcObject = this.#client.stream;
    void this.#loadLayers();
  }

  /** Whether the video decoder has produced a frame yet. */
  async #decodedFrames(): Promise<boolean> {
    let decoded = false;
    (await this.#client?.pc.getStats())?.forEach(
      (s: { type?: string; kind?: string; framesDecoded?: number }) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video' && (s.framesDecoded ?? 0) > 0)
          decoded = true;
      },
    );
    return decoded;
  }

  async #loadLayers(): Promise<void> {
    const client = this.#client;
    if (!client?.layerUrl) return;
    try {
      const media = await client.layers();
      // One video: the first with more than one spatial layer (simulcast or SVC).
      this.#layers = media.find((m) => m.spatialLayers > 1);
    } catch (error) {
      warn('cannot read the simulcast layers', error);
      return;
    }
    if (!this.#layers || this.#destroyed) return;
    this.emit('qualities', { qualities: this.qualities(), selected: this.#selected });
  }

  /** `auto`, then the spatial layers from the highest down. */
  qualities(): Quality[] {
    const count = this.#layers?.spatialLayers ?? 0;
    if (count < 2) return [];
    const names = count === 2 ? ['Low', 'High'] : count === 3 ? ['Low', 'Medium', 'High'] : [];
    const layers: Quality[] = [];
    for (let layer = count - 1; layer >= 0; layer--) {
      layers.push({ id: `s${layer}`, label: names[layer] ?? `Layer ${layer + 1}` });
    }
    return [{ id: 'auto', label: 'Auto' }, ...layers];
  }

  async setQuality(id: string): Promise<void> {
    const client = this.#client;
    const layers = this.#layers;
    this.#selected = id;
    if (!client || !layers) return;
    const match = /^s(\d+)$/.exec(id);
    await client.selectLayer(layers.mediaId, match ? { spatialLayerId: Number(match[1]) } : 'auto');
  }

  async stats(): Promise<PlayerStats> {
    const client = this.#client;
    if (!client || this.#destroyed) return { ...EMPTY_STATS };
    const current = takeSnapshot(await client.pc.getStats(), performance.now());
    // Rates over about a second: the newest sample at least 800 ms older than this one.
    const previous = [...this.#history].reverse().find((s) => current.at - s.at >= 800);
    return computeLiveStats(current, previous ?? this.#history[0]);
  }

  /** Reads the counters: feeds the overlay's history and the stall watchdog. */
  async #sample(): Promise<void> {
    const client = this.#client;
    if (!client || this.#destroyed || this.#lost) return;
    let snapshot: StatsSnapshot;
    try {
      snapshot = takeSnapshot(await client.pc.getStats(), performance.now());
    } catch (error) {
      warn('getStats failed', error);
      return;
    }
    this.#history.push(snapshot);
    if (this.#history.length > 6) this.#history.shift();
    const bytes = computeLiveStats(snapshot).bytesReceived;
    const now = snapshot.at;
    if (bytes > this.#lastBytes) {
      this.#lastBytes = bytes;
      this.#lastProgressAt = now;
      return;
    }
    const { stallTimeoutMs, firstMediaTimeoutMs } = this.#options.timings;
    const limit = this.#lastBytes > 0 ? stallTimeoutMs : firstMediaTimeoutMs;
    if (now - this.#lastProgressAt > limit) {
      this.#fail(new PlaybackError('stalled', 'no media for a while: the stream stalled'));
    }
  }

  #onConnectionState(): void {
    const state = this.#client?.pc.connectionState;
    if (state === 'connected') {
      clearTimeout(this.#disconnectTimer);
      this.#disconnectTimer = undefined;
    } else if (state === 'disconnected') {
      // ICE may come back by itself or with a restart; give both a moment.
      this.#restartIce('disconnected');
      this.#disconnectTimer ??= setTimeout(
        () => this.#fail(new PlaybackError('connection-lost', 'the connection was lost')),
        this.#options.timings.disconnectedGraceMs,
      );
    } else if (state === 'failed' || state === 'closed') {
      this.#fail(new PlaybackError('connection-lost', `the connection ${state}`));
    }
  }

  #restartIce(why: string): void {
    const client = this.#client;
    if (!client || this.#destroyed || this.#lost) return;
    if (why === 'network change' && client.pc.connectionState === 'new') return;
    client.restartIce().catch((error: unknown) => {
      // 412 (ETag mismatch), 404 (session gone): only a new session helps.
      warn(`ICE restart after ${why} failed`, error);
      this.#fail(new PlaybackError('connection-lost', 'the ICE restart failed', { cause: error }));
    });
  }

  #fail(error: Error): void {
    if (this.#lost || this.#destroyed) return;
    this.#lost = true;
    this.#stopWatching();
    this.emit('lost', { error });
  }

  #stopWatching(): void {
    clearInterval(this.#watchdog);
    clearTimeout(this.#disconnectTimer);
    this.#watchdog = this.#disconnectTimer = undefined;
    globalThis.removeEventListener?.('online', this.#onNetworkChange);
    connection()?.removeEventListener?.('change', this.#onNetworkChange);
  }

  async destroy(options: { keepalive?: boolean } = {}): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#stopWatching();
    this.removeAllListeners();
    const client = this.#client;
    this.#client = undefined;
    await client?.close(options);
  }
}

/** The Network Information API where it exists (Chromium): fires on interface changes. */
function connection(): EventTarget | undefined {
  return (globalThis.navigator as { connection?: EventTarget } | undefined)?.connection;
}
