/**
 * What the player pages expose on `window` for tests and embedders. The pages set these
 * objects once at start; `state` is a live getter, so reading it twice may give two values.
 */
import type { Player, PlayerMode, PlayerState } from './core/Player.ts';
import type { PlayerStats } from './core/stats.ts';

export type { PlayerMode, PlayerState } from './core/Player.ts';
export type { PlayerStats } from './core/stats.ts';

/** States of the publish page, also mirrored in `data-state` on `<body>`. */
export type PublisherState =
  'idle' | 'starting' | 'connecting' | 'live' | 'reconnecting' | 'stopped' | 'error';

/** The counters of the current session; an alias kept for older callers. */
export type PlaybackStats = PlayerStats;

export interface WispPlayerApi {
  readonly state: PlayerState;
  readonly mode: PlayerMode;
  /** The text of the status line. */
  readonly message: string;
  stats(): Promise<PlayerStats>;
  /** Ends the session (DELETE on the server) and stops reconnecting. */
  stop(): Promise<void>;
  /** The player core itself (events, qualities, recordings). */
  readonly player: Player;
}

export interface WispPublisherApi {
  readonly state: PublisherState;
  readonly message: string;
  /** Seconds since the session went live (0 when not live). */
  readonly liveSeconds: number;
  /** Same as clicking Go Live. */
  start(): Promise<void>;
  /** Same as clicking Stop: DELETE the session and release the camera. */
  stop(): Promise<void>;
}

declare global {
  interface Window {
    wispPlayer?: WispPlayerApi;
    wispPublisher?: WispPublisherApi;
  }
}
