/**
 * What the player pages expose on `window` for tests and embedders. The pages set these
 * objects once at start; `state` is a live getter, so reading it twice may give two values.
 */

/** States of the watch page, also mirrored in `data-state` on `<body>` and the `<video>`. */
export type PlayerState =
  'connecting' | 'waiting' | 'playing' | 'reconnecting' | 'error' | 'stopped';

/** States of the publish page, also mirrored in `data-state` on `<body>`. */
export type PublisherState =
  'idle' | 'starting' | 'connecting' | 'live' | 'reconnecting' | 'stopped' | 'error';

/** Counters of the current WHEP session (zeros when there is none). */
export interface PlaybackStats {
  framesDecoded: number;
  bytesReceived: number;
  packetsLost: number;
  frameWidth: number;
  frameHeight: number;
}

export interface WispPlayerApi {
  readonly state: PlayerState;
  /** The text of the status line. */
  readonly message: string;
  stats(): Promise<PlaybackStats>;
  /** Ends the session (DELETE on the server) and stops reconnecting. */
  stop(): Promise<void>;
}

export interface WispPublisherApi {
  readonly state: PublisherState;
  readonly message: string;
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
