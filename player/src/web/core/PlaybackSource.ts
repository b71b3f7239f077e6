/**
 * What the Player plays from: a live WHEP session or an HLS recording. A source attaches
 * itself to the media element in `load()`, reports trouble as events, and never decides on
 * retries: that is the Player's job (its ReconnectPolicy).
 */
import type { Listener } from './Emitter.ts';
import type { PlayerStats } from './stats.ts';

/** A selectable quality: a simulcast layer or an HLS level. `auto` is always offered first. */
export interface Quality {
  /** `auto`, or the source's own id for the layer/level. */
  id: string;
  label: string;
}

export interface SourceEvents extends Record<string, unknown> {
  /** The source stopped delivering (session failed, stream stalled, fatal network error). */
  lost: { error: Error };
  /** The selectable qualities changed (none or only `auto`: no choice to offer). */
  qualities: { qualities: Quality[]; selected: string };
  /** Playback reached the end (recordings only). */
  ended: Record<string, never>;
  /** The server asks for a new session there (WHEP `reconnect`: the edge is draining). */
  reconnect: { url: string | undefined };
  /** The server's viewer count (WHEP `viewercount`). */
  viewercount: { viewers: number };
}

export interface PlaybackSource {
  readonly kind: 'webrtc' | 'hls';
  on<K extends keyof SourceEvents>(type: K, listener: Listener<SourceEvents[K]>): () => void;
  /**
   * Connects and attaches to `media` (srcObject or MSE). Resolves when the media is attached;
   * the Player calls `play()`. Rejects with the cause (a `SignalingError` for WHEP answers).
   */
  load(media: HTMLMediaElement, signal: AbortSignal): Promise<void>;
  /**
   * Make-before-break (live sources): connects without touching the media element and
   * resolves once there is a picture to show; `attach` then puts it on the element.
   */
  prepare?(signal: AbortSignal): Promise<void>;
  attach?(media: HTMLMediaElement): void;
  stats(): Promise<PlayerStats>;
  /** Selects a quality by id (`auto` = the source decides). */
  setQuality(id: string): Promise<void>;
  /** Ends the source and detaches it from the media element. Idempotent. */
  destroy(options?: { keepalive?: boolean }): Promise<void>;
}

/** An error a source or the Player reports, with a reason code the UI can map to words. */
export class PlaybackError extends Error {
  readonly code:
    | 'not-found'
    | 'refused'
    | 'unsupported'
    | 'recording-not-found'
    | 'gave-up'
    | 'stalled'
    | 'connection-lost'
    | 'media';

  constructor(code: PlaybackError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PlaybackError';
    this.code = code;
  }
}
