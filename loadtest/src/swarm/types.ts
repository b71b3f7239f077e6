/**
 * Options, per-viewer stats and summaries of the viewer swarm, kept apart from `Swarm.ts` so
 * the class stays readable.
 */
import type { NdcVideoCodec } from '../peers/NdcViewer.ts';
import type { Distribution } from './stats.ts';

/** `ndc`: cheap receive-only libdatachannel viewers; `wrtc`: decoding libwebrtc viewers. */
export type SwarmViewerKind = 'ndc' | 'wrtc';
/** `mix`: mostly `ndc`, with a share of `wrtc` viewers (`wrtcShare`). */
export type SwarmKind = SwarmViewerKind | 'mix';

export type SwarmViewerState = 'joining' | 'connected' | 'disconnected' | 'failed' | 'closed';

export interface SwarmOptions {
  /** The WHEP endpoint every viewer POSTs to. */
  whepUrl: string;
  /** Viewers to ramp up to at start. `rampTo()` adds more later. */
  viewers: number;
  /** Default `ndc`. */
  kind?: SwarmKind;
  /** With `kind: 'mix'`, the share of decoding viewers, 0..1. Default 0.1. */
  wrtcShare?: number;
  /** Joins started per second. Default 10. */
  rampPerSecond?: number;
  /**
   * The swarm closes itself this long after `start()`, whatever happens: a bound on a
   * forgotten swarm. Default 10 minutes.
   */
  maxDurationMs?: number;
  /** Joins in flight at once (POST to connected); the ramp waits when this many are. Default 16. */
  maxConcurrentJoins?: number;
  /** Bearer token for WHEP POST and DELETE, if the endpoint wants one. */
  token?: string;
  /** Per viewer: WHEP POST to ICE+DTLS connected. Default 15000 ms. */
  connectTimeoutMs?: number;
  /** WHEP POST and DELETE timeout. Default 8000 ms. */
  httpTimeoutMs?: number;
  /** Video codecs the `ndc` viewers offer. Default NdcViewer's (H.264 then VP8). */
  ndcVideoCodecs?: NdcVideoCodec[];
  /**
   * RTP packets (audio + video) the source has sent so far, e.g. the publisher's counters.
   * With it, `ndc` viewers report loss as the packets they missed of those sent while they
   * were receiving; without it their loss is unknown (see the header of SwarmViewer.ts).
   */
  expectedPackets?: () => number;
  /** How often viewers are sampled (bitrate) and progress is reported. Default 1000 ms. */
  sampleIntervalMs?: number;
  /** Called after every sample with a one-line progress report. A throwing listener is ignored. */
  onProgress?: (progress: SwarmProgress) => void;
  /** Aborting closes the swarm (e.g. on Ctrl-C). */
  signal?: AbortSignal;
}

export interface SwarmViewerStats {
  index: number;
  kind: SwarmViewerKind;
  state: SwarmViewerState;
  /** Why the join failed or the connection ended. */
  error: string | undefined;
  /** When the join started, ms after the swarm's start. */
  joinStartedAtMs: number;
  /** WHEP POST round trip (offer sent to answer received). */
  postMs: number | undefined;
  /** Join start (before the offer is made) to ICE+DTLS connected. */
  connectMs: number | undefined;
  /** Join start to the first video RTP packet (`ndc` only). */
  firstPacketMs: number | undefined;
  /** Join start to the first decoded video frame (`wrtc` only). */
  firstFrameMs: number | undefined;
  /** RTP packets and bytes received, audio + video (`wrtc`: payload bytes, headers excluded). */
  packets: number;
  bytes: number;
  /** Packets lost: `wrtc` from libwebrtc's sequence-gap count, `ndc` against `expectedPackets`. */
  packetsLost: number | undefined;
  lossPct: number | undefined;
  /** Received bitrate over the last sample interval. */
  bitrateKbps: number | undefined;
  /** Received bitrate from the first sample with packets to the last sample. */
  averageKbps: number | undefined;
}

export interface SwarmCounts {
  /** Viewers the swarm is ramping to. */
  target: number;
  /** Joins started so far. */
  started: number;
  joining: number;
  connected: number;
  disconnected: number;
  failed: number;
  closed: number;
  /** Connected viewers that received packets in the last sample interval. */
  receiving: number;
}

export interface SwarmSummary {
  elapsedMs: number;
  counts: SwarmCounts;
  byKind: Record<SwarmViewerKind, number>;
  postMs: Distribution | undefined;
  connectMs: Distribution | undefined;
  firstPacketMs: Distribution | undefined;
  firstFrameMs: Distribution | undefined;
  /** Of connected viewers, over the last interval. */
  bitrateKbps: Distribution | undefined;
  averageKbps: Distribution | undefined;
  lossPct: Distribution | undefined;
  /** Packets lost / expected over every viewer whose loss is known. */
  totalLossPct: number | undefined;
  /** Failure reasons and how many viewers each. */
  errors: Record<string, number>;
}

export interface SwarmProgress {
  elapsedMs: number;
  counts: SwarmCounts;
  /** Median and lowest bitrate of connected viewers over the last interval. */
  medianKbps: number | undefined;
  minKbps: number | undefined;
  totalLossPct: number | undefined;
  /** One human line, e.g. for a terminal status line or a runner's progress(). */
  line: string;
}

/** Cumulative counters of one viewer at one moment (see `Swarm.snapshot()`). */
export interface ViewerSnapshot {
  index: number;
  kind: SwarmViewerKind;
  state: SwarmViewerState;
  packets: number;
  bytes: number;
  /** From libwebrtc's sequence-gap count (`wrtc`); undefined for `ndc`. */
  packetsLost: number | undefined;
}

export interface SwarmSnapshot {
  /** `performance.now()` when taken. */
  at: number;
  viewers: ViewerSnapshot[];
}
