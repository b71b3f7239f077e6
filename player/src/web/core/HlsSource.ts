/**
 * Recording playback over HLS: hls.js (its light build, loaded only now, as its own chunk)
 * where Media Source Extensions exist, the browser's own HLS where they do not (iOS before
 * ManagedMediaSource). hls.js answers `isSupported()` for MSE and ManagedMediaSource alike,
 * so it is asked first; native HLS is the fallback, because Chromium answers "maybe" to
 * `canPlayType('application/vnd.apple.mpegurl')` without playing it (hls.js README).
 */
import type Hls from 'hls.js';
import type { ErrorData, Level } from 'hls.js';
import { Emitter } from './Emitter.ts';
import { warn } from './log.ts';
import { PlaybackError } from './PlaybackSource.ts';
import type { PlaybackSource, Quality, SourceEvents } from './PlaybackSource.ts';
import { computeHlsStats } from './stats.ts';
import type { MediaElementSample, PlayerStats } from './stats.ts';

export type HlsConstructor = typeof Hls;

export interface HlsSourceOptions {
  url: string;
  /** Loads hls.js (a dynamic import of the separate chunk). */
  loadHls: () => Promise<HlsConstructor>;
}

const HLS_MIME = 'application/vnd.apple.mpegurl';

function hasMediaSource(): boolean {
  return 'MediaSource' in globalThis || 'ManagedMediaSource' in globalThis;
}

export class HlsSource extends Emitter<SourceEvents> implements PlaybackSource {
  readonly kind = 'hls';
  readonly #options: HlsSourceOptions;
  #hls: Hls | undefined;
  #media: HTMLMediaElement | undefined;
  #destroyed = false;
  #mediaRecoveries = 0;
  #bytesLoaded = 0;
  /** Bits and media seconds of the fragments loaded: the stream's average bitrate. */
  #fragmentBits = 0;
  #fragmentSeconds = 0;
  #codecs: string[] = [];
  #lastFrames: { at: number; frames: number } | undefined;
  #fps: number | undefined;
  readonly #onEnded = (): void => this.emit('ended', {});

  constructor(options: HlsSourceOptions) {
    super();
    this.#options = options;
  }

  /** `hls.js` or `native`, once loaded. */
  engine: 'hls.js' | 'native' | undefined;

  async load(media: HTMLMediaElement, signal: AbortSignal): Promise<void> {
    this.#media = media;
    media.addEventListener('ended', this.#onEnded);
    const HlsClass = hasMediaSource() ? await this.#options.loadHls() : undefined;
    signal.throwIfAborted();
    if (HlsClass?.isSupported()) {
      this.engine = 'hls.js';
      await this.#loadWithHlsJs(HlsClass, media, signal);
    } else if (media.canPlayType(HLS_MIME)) {
      this.engine = 'native';
      await this.#loadNative(media, signal);
    } else {
      throw new PlaybackError('unsupported', 'this browser cannot play HLS recordings');
    }
  }

  #loadWithHlsJs(HlsClass: HlsConstructor, media: HTMLMediaElement, signal: AbortSignal) {
    const hls = new HlsClass({
      // A recording: no live-edge chasing, a modest forward buffer.
      lowLatencyMode: false,
      maxBufferLength: 30,
      backBufferLength: 30,
    });
    this.#hls = hls;
    const { Events } = HlsClass;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (error?: Error): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      const onAbort = (): void => settle(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      hls.on(Events.MANIFEST_PARSED, () => {
        settle();
        if (hls.levels.length > 1) {
          this.emit('qualities', { qualities: this.qualities(), selected: 'auto' });
        }
      });
      hls.on(Events.FRAG_LOADED, (_event, data) => {
        this.#bytesLoaded += data.frag.stats.loaded;
        if (data.frag.duration > 0) {
          this.#fragmentBits += data.frag.stats.loaded * 8;
          this.#fragmentSeconds += data.frag.duration;
        }
      });
      hls.on(Events.BUFFER_CODECS, (_event, data) => {
        const codecs = [data.video?.codec, data.audio?.codec, data.audiovideo?.codec];
        this.#codecs = codecs.filter((codec): codec is string => !!codec);
      });
      hls.on(Events.ERROR, (_event, data: ErrorData) => {
        if (!data.fatal) return;
        if (data.type === HlsClass.ErrorTypes.MEDIA_ERROR && this.#mediaRecoveries < 2) {
          // hls.js's documented recovery: re-attach the media and go on from where it was.
          this.#mediaRecoveries++;
          hls.recoverMediaError();
          return;
        }
        const error = new PlaybackError('media', `HLS ${data.type}: ${data.details}`, {
          cause: data.error,
        });
        if (!settled) settle(error);
        else this.#lose(error);
      });
      hls.loadSource(this.#options.url);
      hls.attachMedia(media);
    });
  }

  #loadNative(media: HTMLMediaElement, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = (error?: Error): void => {
        media.removeEventListener('loadedmetadata', onLoaded);
        media.removeEventListener('error', onError);
        signal.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      const onLoaded = (): void => {
        done();
        media.addEventListener('error', () =>
          this.#lose(new PlaybackError('media', 'the recording stopped playing')),
        );
      };
      const onError = (): void => done(new PlaybackError('media', 'cannot load the recording'));
      const onAbort = (): void => done(signal.reason as Error);
      media.addEventListener('loadedmetadata', onLoaded);
      media.addEventListener('error', onError);
      signal.addEventListener('abort', onAbort, { once: true });
      media.src = this.#options.url;
    });
  }

  #lose(error: Error): void {
    if (this.#destroyed) return;
    this.emit('lost', { error });
  }

  qualities(): Quality[] {
    const levels: Level[] = this.#hls?.levels ?? [];
    if (levels.length < 2) return [];
    const list = levels
      .map((level, index) => ({
        id: String(index),
        label: level.height ? `${level.height}p` : `${Math.round(level.bitrate / 1000)} kbit/s`,
        height: level.height,
      }))
      .sort((a, b) => b.height - a.height)
      .map(({ id, label }) => ({ id, label }));
    return [{ id: 'auto', label: 'Auto' }, ...list];
  }

  setQuality(id: string): Promise<void> {
    if (this.#hls) this.#hls.currentLevel = id === 'auto' ? -1 : Number(id);
    return Promise.resolve();
  }

  stats(): Promise<PlayerStats> {
    const media = this.#media as HTMLVideoElement | undefined;
    const buffered: [number, number][] = [];
    for (let i = 0; media && i < media.buffered.length; i++) {
      buffered.push([media.buffered.start(i), media.buffered.end(i)]);
    }
    const quality = media?.getVideoPlaybackQuality?.();
    const sample: MediaElementSample = {
      currentTime: media?.currentTime ?? 0,
      buffered,
      videoWidth: media?.videoWidth ?? 0,
      videoHeight: media?.videoHeight ?? 0,
      ...(quality
        ? {
            totalVideoFrames: quality.totalVideoFrames,
            droppedVideoFrames: quality.droppedVideoFrames,
          }
        : {}),
    };
    const hls = this.#hls;
    const index = hls ? (hls.currentLevel >= 0 ? hls.currentLevel : hls.loadLevel) : -1;
    const level = hls && index >= 0 ? hls.levels[index] : undefined;
    // Frame rate from the presented frames between two reads (a playlist rarely says it).
    const now = performance.now();
    const frames = quality?.totalVideoFrames;
    if (frames !== undefined && this.#lastFrames && now - this.#lastFrames.at >= 500) {
      this.#fps = ((frames - this.#lastFrames.frames) * 1000) / (now - this.#lastFrames.at);
    }
    if (frames !== undefined && (!this.#lastFrames || now - this.#lastFrames.at >= 500)) {
      this.#lastFrames = { at: now, frames };
    }
    const measured = this.#fragmentSeconds > 0 ? this.#fragmentBits / this.#fragmentSeconds : 0;
    const bitrate = level?.bitrate || measured;
    const codec = level?.videoCodec ?? this.#codecs.join(' + ');
    const frameRate = level?.frameRate || (media && !media.paused ? this.#fps : undefined);
    return Promise.resolve(
      computeHlsStats(
        sample,
        {
          ...(bitrate ? { bitrate } : {}),
          ...(codec ? { codec } : {}),
          ...(frameRate ? { frameRate } : {}),
        },
        this.#bytesLoaded,
      ),
    );
  }

  destroy(): Promise<void> {
    if (this.#destroyed) return Promise.resolve();
    this.#destroyed = true;
    this.removeAllListeners();
    const media = this.#media;
    media?.removeEventListener('ended', this.#onEnded);
    try {
      this.#hls?.destroy();
    } catch (error) {
      warn('hls.js destroy failed', error);
    }
    this.#hls = undefined;
    if (media && this.engine === 'native') {
      media.removeAttribute('src');
      media.load();
    }
    return Promise.resolve();
  }
}
