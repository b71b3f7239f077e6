/**
 * Options, defaults and counters of `ObsLikePublisher`, kept apart from the class so it stays
 * readable.
 */
import type { SignalFn } from './signaling.ts';

export interface ObsLikePublisherOptions {
  /** The WHIP endpoint. Required unless `signal` is given. */
  whipUrl?: string;
  /** OBS's "Bearer Token" field: sent as `Authorization: Bearer` on POST and DELETE if set. */
  streamKey?: string;
  /** Replaces the HTTP exchange (in-process tests). No DELETE is sent then. */
  signal?: SignalFn;
  /** Send audio (Opus, mid "0"). Default true. */
  audio?: boolean;
  /** Send video (H.264, mid "1"). Default true. At least one of audio/video is required. */
  video?: boolean;
  /** Bitrate of the full-resolution layer. Default 2500. */
  videoBitrateKbps?: number;
  /** Default 160, OBS's default AAC/Opus bitrate. */
  audioBitrateKbps?: number;
  /**
   * OBS 32.1 "Simulcast, Total Layers": 1 (default) means no simulcast. With N > 1 the video
   * m-line carries RIDs "0".."N-1", rid "0" being full size; layer i is scaled to (N-i)/N of
   * the size and bitrate.
   */
  simulcastLayers?: number;
  /** Full-resolution size and frame rate. Default 640x360 at 30 fps. */
  width?: number;
  height?: number;
  fps?: number;
  /** The ffmpeg binary. Default `ffmpeg` from PATH. */
  ffmpegPath?: string;
  /** Local address libdatachannel binds for ICE. Default: all interfaces, like OBS. */
  bindAddress?: string;
  /** HTTP timeout of POST and DELETE. Default 8000 ms (OBS's). */
  httpTimeoutMs?: number;
  /** Default: an OBS-like `Mozilla/5.0 (OBS-Studio/32.1.0; ...)` string. */
  userAgent?: string;
  /**
   * Like OBS, close (and try the DELETE) when the connection goes `disconnected` or `failed`.
   * Default true.
   */
  stopOnDisconnect?: boolean;
  /** The ffmpeg sources end after this long, a bound on leaked processes. Default 3600 s. */
  maxDurationSec?: number;
  /**
   * What the picture and the sound are: the default moving test pattern and 440 Hz tone, or
   * `sync` (black with a white flash and a beep at the same instants, every
   * `periodSec` seconds for `flashSec`: to measure audio/video sync after the media went
   * through the platform), or a solid colour (`{ color: 'red' }`: to tell sources apart in a
   * composition).
   */
  pattern?: MediaPattern;
}

export type MediaPattern =
  'testsrc' | { sync: { periodSec: number; flashSec: number } } | { color: string };

export interface ObsLikePublisherStats {
  audioPacketsSent: number;
  audioBytesSent: number;
  videoPacketsSent: number;
  videoBytesSent: number;
  /** Video RTP packets per RID ("0" is full resolution). */
  videoPacketsSentByRid: Record<string, number>;
  /** RTCP sender reports from ffmpeg forwarded to the server. */
  rtcpPacketsSent: number;
  /** RTP packets ffmpeg made before the track was open (ICE/DTLS not done yet). */
  packetsDroppedBeforeOpen: number;
  nacksReceived: number;
  packetsRetransmitted: number;
  plisReceived: number;
  firsReceived: number;
}

export interface PacketsSent {
  audio: number;
  video: number;
  /** Video packets per RID. */
  byRid: Record<string, number>;
}

export type PublisherCloseReason = 'closed' | 'killed' | 'disconnected' | 'failed';

/** OBS 32.1 allows more, but four layers is already far beyond what tests need. */
export const MAX_SIMULCAST_LAYERS = 4;

export type ResolvedObsLikeOptions = ObsLikePublisherOptions &
  Required<
    Pick<
      ObsLikePublisherOptions,
      | 'audio'
      | 'video'
      | 'videoBitrateKbps'
      | 'audioBitrateKbps'
      | 'simulcastLayers'
      | 'width'
      | 'height'
      | 'fps'
    >
  >;

/** What OBS sends: `Mozilla/5.0 (OBS-Studio/<version>; <OS>; <locale>)`. */
export const OBS_USER_AGENT = 'Mozilla/5.0 (OBS-Studio/32.1.0; Linux x86_64; en-US)';

export function resolveObsLikeOptions(options: ObsLikePublisherOptions): ResolvedObsLikeOptions {
  const resolved = {
    ...options,
    audio: options.audio ?? true,
    video: options.video ?? true,
    videoBitrateKbps: options.videoBitrateKbps ?? 2500,
    audioBitrateKbps: options.audioBitrateKbps ?? 160,
    simulcastLayers: options.simulcastLayers ?? 1,
    width: options.width ?? 640,
    height: options.height ?? 360,
    fps: options.fps ?? 30,
  };
  if (!resolved.whipUrl && !resolved.signal) {
    throw new TypeError('ObsLikePublisher needs a whipUrl or a signal function');
  }
  if (!resolved.audio && !resolved.video) {
    throw new TypeError('ObsLikePublisher needs audio, video or both');
  }
  const n = resolved.simulcastLayers;
  if (!Number.isInteger(n) || n < 1 || n > MAX_SIMULCAST_LAYERS) {
    throw new TypeError(
      `simulcastLayers must be an integer in 1..${MAX_SIMULCAST_LAYERS}, got ${n}`,
    );
  }
  for (const key of ['videoBitrateKbps', 'audioBitrateKbps', 'width', 'height', 'fps'] as const) {
    const value = resolved[key];
    if (!Number.isFinite(value) || value <= 0) {
      throw new TypeError(`${key} must be a positive number, got ${value}`);
    }
  }
  return resolved;
}
