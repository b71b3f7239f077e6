/**
 * The Player's public types: its states, events and options (Player.ts is the behaviour).
 */
import type { PublicStreamStatus, Recording } from './api.ts';
import type { HlsConstructor } from './HlsSource.ts';
import type { PlaybackSource, Quality } from './PlaybackSource.ts';
import type { PlayerTimings, ReconnectPolicy } from './reconnect.ts';

export type PlayerState =
  'idle' | 'connecting' | 'waiting' | 'playing' | 'reconnecting' | 'ended' | 'error' | 'stopped';

export type PlayerMode = 'live' | 'replay';

export interface PlayerEvents extends Record<string, unknown> {
  state: { state: PlayerState; previous: PlayerState; error?: Error };
  /** Live playback began: at start, or after the stream was offline (not after a reconnect). */
  live: Record<string, never>;
  /** The stream is not live: at start, or its broadcast ended. */
  offline: Record<string, never>;
  /** A fresh public status (name, viewers, recordings). */
  status: PublicStreamStatus;
  mode: { mode: PlayerMode; recording?: Recording; automatic: boolean };
  qualities: { qualities: Quality[]; selected: string };
  /** Something went wrong; `fatal` errors stop the player (state `error`). */
  error: { error: Error; fatal: boolean };
  /** The browser refused to start playback without a gesture: call `play()` from one. */
  autoplayblocked: { muted: boolean };
}

export type SourceSpec =
  | { kind: 'webrtc'; whepUrl: string; token?: string }
  | { kind: 'hls'; url: string; recording: Recording };

export interface PlayerOptions {
  /** `{PUBLIC_URL}/whep/:id`. */
  whepUrl: string;
  /** `{PUBLIC_URL}/watch/:id/status`; without it there is no replay and waiting polls WHEP. */
  statusUrl?: string;
  /** Bearer token for private streams. */
  token?: string;
  /** Play this recording instead of the live stream (`?recording=<id>`). */
  recordingId?: string;
  /** Replay the latest recording by itself when the stream is not live. Default true. */
  autoReplay?: boolean;
  /** URL of the hls.js chunk, loaded on first replay. */
  hlsScriptUrl?: string;
  /** Overrides how hls.js is loaded (tests, bundlers that import it themselves). */
  loadHls?: () => Promise<HlsConstructor>;
  reconnectPolicy?: ReconnectPolicy;
  timings?: Partial<PlayerTimings>;
  /** Overrides how sources are made (tests). */
  createSource?: (spec: SourceSpec, timings: PlayerTimings) => PlaybackSource;
  random?: () => number;
}
