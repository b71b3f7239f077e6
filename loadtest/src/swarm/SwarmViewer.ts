/**
 * One viewer of the swarm: an `NdcViewer` (cheap, counts RTP) or a `WrtcViewer` (decodes),
 * joined through WHEP with the POST timed on its own. The WHEP exchange goes through the
 * peers' `signal` hook with the same `postSdp` client they use, so this wrapper knows when
 * the POST started and owns the session's DELETE (sent before the peer closes, the order the
 * peers use; see the loadtest README).
 *
 * Loss: `ndc` viewers count sequence gaps of every RTP stream they receive (`RtpLossTracker`
 * fed by NdcViewer's `onRtp` hook); `wrtc` viewers report libwebrtc's own sequence-gap loss
 * (`packetsLost` of `inbound-rtp`). Both count from each stream's first packet.
 */
import type { Logger } from '@wisp/core';
import { NdcViewer, type NdcVideoCodec } from '../peers/NdcViewer.ts';
import { deleteSessionQuietly, postSdp } from '../peers/whipClient.ts';
import { WrtcViewer } from '../peers/WrtcViewer.ts';
import { RtpLossTracker } from './sequenceLoss.ts';
import type { SwarmViewerKind, SwarmViewerState } from './types.ts';

export interface SwarmViewerOptions {
  index: number;
  kind: SwarmViewerKind;
  whepUrl: string;
  token: string | undefined;
  connectTimeoutMs: number;
  httpTimeoutMs: number;
  ndcVideoCodecs: NdcVideoCodec[] | undefined;
  logger: Logger;
  /** Aborting ends a join in progress (the swarm is closing). */
  signal: AbortSignal;
}

export interface SwarmViewerCounters {
  packets: number;
  bytes: number;
  packetsLost: number | undefined;
}

type Peer = { kind: 'ndc'; viewer: NdcViewer } | { kind: 'wrtc'; viewer: WrtcViewer };

export class SwarmViewer {
  readonly #loss = new RtpLossTracker();
  readonly index: number;
  readonly kind: SwarmViewerKind;
  /** `performance.now()` when the join started. */
  readonly joinStartedAt: number;
  readonly #options: SwarmViewerOptions;
  #peer: Peer | undefined;
  #location: string | undefined;
  #state: SwarmViewerState = 'joining';
  #error: string | undefined;
  #postMs: number | undefined;
  #connectMs: number | undefined;
  #closing: Promise<void> | undefined;

  /**
   * Joins: offer, WHEP POST, answer, then waits for ICE+DTLS. Never rejects: a failed join
   * resolves with `state === 'failed'` and `error` set, its resources released.
   */
  static async join(options: SwarmViewerOptions): Promise<SwarmViewer> {
    const viewer = new SwarmViewer(options);
    try {
      await viewer.#connect();
      viewer.#state = 'connected';
    } catch (error) {
      viewer.#error = describeError(error);
      await viewer.#teardown().catch(() => undefined);
      viewer.#state = 'failed';
    }
    return viewer;
  }

  private constructor(options: SwarmViewerOptions) {
    this.index = options.index;
    this.kind = options.kind;
    this.#options = options;
    this.joinStartedAt = performance.now();
  }

  /** The current state, refreshed from the peer connection. */
  get state(): SwarmViewerState {
    if (this.#state !== 'connected' && this.#state !== 'disconnected') return this.#state;
    const state = this.#peer?.viewer.connectionState;
    if (state === 'connected') this.#state = 'connected';
    else if (state === 'disconnected') this.#state = 'disconnected';
    else if (state === 'failed' || state === 'closed') {
      this.#state = 'failed';
      this.#error ??= `connection ${state}`;
    }
    return this.#state;
  }

  get error(): string | undefined {
    return this.#error;
  }

  get postMs(): number | undefined {
    return this.#postMs;
  }

  get connectMs(): number | undefined {
    return this.#connectMs;
  }

  /** Join start to the first video RTP packet (`ndc`). */
  get firstPacketMs(): number | undefined {
    return this.#peer?.kind === 'ndc' ? this.#peer.viewer.timeToFirstPacketMs('video') : undefined;
  }

  /** Join start to the first decoded video frame (`wrtc`). */
  get firstFrameMs(): number | undefined {
    return this.#peer?.kind === 'wrtc' ? this.#peer.viewer.timeToFirstFrameMs : undefined;
  }

  /** Cumulative packets and bytes received (audio + video). */
  async counters(): Promise<SwarmViewerCounters> {
    const peer = this.#peer;
    if (!peer) return { packets: 0, bytes: 0, packetsLost: undefined };
    if (peer.kind === 'ndc') {
      const { audio, video } = peer.viewer.stats();
      return {
        packets: audio.packets + video.packets,
        bytes: audio.bytes + video.bytes,
        packetsLost: this.#loss.counts().lost,
      };
    }
    const inbound = await peer.viewer.inboundRtpStats();
    const kinds = [inbound.audio, inbound.video].filter((entry) => entry !== undefined);
    return {
      packets: kinds.reduce((sum, entry) => sum + entry.packetsReceived, 0),
      bytes: kinds.reduce((sum, entry) => sum + entry.bytesReceived, 0),
      packetsLost: kinds.reduce((sum, entry) => sum + Math.max(0, entry.packetsLost), 0),
    };
  }

  /** DELETEs the WHEP session, then closes the peer. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#teardown().finally(() => {
      if (this.#state !== 'failed') this.#state = 'closed';
    });
    return this.#closing;
  }

  async #connect(): Promise<void> {
    const { whepUrl, token, httpTimeoutMs, connectTimeoutMs, signal } = this.#options;
    const signalFn = async (offerSdp: string): Promise<string> => {
      if (signal.aborted) throw new Error('swarm closed before the POST');
      const postStartedAt = performance.now();
      const result = await postSdp(whepUrl, offerSdp, { token, timeoutMs: httpTimeoutMs });
      this.#location = result.location;
      this.#postMs = performance.now() - postStartedAt;
      return result.answer;
    };
    if (this.kind === 'ndc') {
      const viewer = await NdcViewer.start({
        signal: signalFn,
        videoCodecs: this.#options.ndcVideoCodecs,
        httpTimeoutMs,
        onRtp: (_kind, packet) => this.#loss.pushPacket(packet),
      });
      this.#peer = { kind: 'ndc', viewer };
      await abortable(viewer.waitConnected(connectTimeoutMs), signal);
      this.#connectMs = viewer.stats().timeToConnectedMs;
    } else {
      const viewer = await WrtcViewer.start({ signal: signalFn, httpTimeoutMs });
      this.#peer = { kind: 'wrtc', viewer };
      await abortable(viewer.waitConnected(connectTimeoutMs), signal);
      this.#connectMs = performance.now() - this.joinStartedAt;
    }
  }

  async #teardown(): Promise<void> {
    const { token, httpTimeoutMs, logger } = this.#options;
    const location = this.#location;
    this.#location = undefined;
    if (location) {
      await deleteSessionQuietly(location, token, { timeoutMs: httpTimeoutMs }, logger);
    }
    // With the `signal` hook the peers send no DELETE of their own.
    await this.#peer?.viewer.close();
  }
}

/** Rejects as soon as `signal` aborts; the wait itself is bounded by its own timeout. */
async function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) throw new Error('swarm closed during the join');
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new Error('swarm closed during the join'));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
    // The losing wait still settles on its own (by its timeout); nothing may be left unhandled.
    promise.catch(() => undefined);
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    // SignalingError carries the HTTP status; keep messages short enough to group by.
    const status = (error as { status?: unknown }).status;
    const message = error.message.split('\n')[0].slice(0, 160);
    return typeof status === 'number' && status > 0 ? `HTTP ${status}: ${message}` : message;
  }
  return String(error);
}
