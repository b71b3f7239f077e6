/**
 * A WHEP viewer on libwebrtc (`@roamhq/wrtc`) that really decodes: video frames arrive raw
 * through `nonstandard.RTCVideoSink`, audio through `RTCAudioSink`, so a test can assert that
 * pictures and sound come out, not just packets. libwebrtc here decodes VP8, VP9 and AV1 but
 * not H.264.
 */
import { createLogger, type Logger } from '@wisp/core';
import { PeerTimeoutError } from './errors.ts';
import { negotiate, type SignalFn } from './signaling.ts';
import { waitUntil } from './timing.ts';
import { deleteSessionQuietly } from './whipClient.ts';
import {
  RTCPeerConnection,
  localSdp,
  nonstandard,
  waitForConnected,
  waitForIceGathering,
  type I420Frame,
  type RTCAudioData,
} from './wrtc.ts';

export interface WrtcViewerOptions {
  /** The WHEP endpoint. Required unless `signal` is given. */
  whepUrl?: string;
  /** Sent as `Authorization: Bearer` on POST and DELETE if set. */
  token?: string;
  /** Replaces the HTTP exchange (in-process tests). No DELETE is sent then. */
  signal?: SignalFn;
  /** Offer a recvonly audio transceiver. Default true. */
  audio?: boolean;
  /** Offer a recvonly video transceiver. Default true. */
  video?: boolean;
  /** Called with every decoded frame (e.g. by a latency probe that reads a stamped time). */
  onFrame?: (frame: I420Frame, receivedAt: number) => void;
  /** STUN/TURN servers of the peer connection, e.g. from the WHEP `Link` headers. Default none. */
  iceServers?: RTCIceServer[];
  /** `relay` gathers and uses TURN relay candidates only (a viewer behind a strict firewall). */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** How long to wait for ICE gathering before sending the offer. Default 2000 ms. */
  iceGatheringTimeoutMs?: number;
  /** HTTP timeout of POST and DELETE. Default 8000 ms. */
  httpTimeoutMs?: number;
}

export interface WrtcViewerStats {
  framesDecoded: number;
  /** Size of the last decoded frame (0 before the first). */
  width: number;
  height: number;
  /** Milliseconds from `start()` to the first decoded frame. */
  timeToFirstFrameMs: number | undefined;
  /** Decoded audio samples per channel, and the number of sink callbacks. */
  audioSamples: number;
  audioChunks: number;
  timeToFirstAudioMs: number | undefined;
  connectionState: RTCPeerConnectionState;
}

/** libwebrtc's `inbound-rtp` counters for one kind (what `getStats()` reports). */
export interface WrtcInboundRtpStats {
  packetsReceived: number;
  bytesReceived: number;
  packetsLost: number;
  framesReceived: number | undefined;
  framesDecoded: number | undefined;
  keyFramesDecoded: number | undefined;
  pliCount: number | undefined;
  nackCount: number | undefined;
}

export class WrtcViewer {
  readonly #pc: RTCPeerConnection;
  readonly #options: WrtcViewerOptions;
  readonly #logger: Logger;
  readonly #startedAt = performance.now();
  readonly #sinks: { stop(): void }[] = [];
  #framesDecoded = 0;
  #width = 0;
  #height = 0;
  #firstFrameAt: number | undefined;
  #audioSamples = 0;
  #audioChunks = 0;
  #firstAudioAt: number | undefined;
  #location: string | undefined;
  #offerSdp = '';
  #answerSdp = '';
  #closing: Promise<void> | undefined;

  /** Offers recvonly audio+video, POSTs to the WHEP endpoint and sets the answer. */
  static async start(options: WrtcViewerOptions): Promise<WrtcViewer> {
    const viewer = new WrtcViewer(options);
    try {
      await viewer.#negotiate();
    } catch (error) {
      // After a 201 whose answer could not be applied, the server holds a session: DELETE it.
      await viewer.#teardown(true).catch(() => undefined);
      throw error;
    }
    return viewer;
  }

  private constructor(options: WrtcViewerOptions) {
    if (!options.whepUrl && !options.signal) {
      throw new TypeError('WrtcViewer needs a whepUrl or a signal function');
    }
    if (options.audio === false && options.video === false) {
      throw new TypeError('WrtcViewer needs audio, video or both');
    }
    this.#options = options;
    this.#logger = createLogger('WrtcViewer', { whepUrl: options.whepUrl });
    this.#pc = new RTCPeerConnection({
      iceServers: options.iceServers ?? [],
      iceTransportPolicy: options.iceTransportPolicy ?? 'all',
    });
    if (options.audio !== false) this.#pc.addTransceiver('audio', { direction: 'recvonly' });
    if (options.video !== false) this.#pc.addTransceiver('video', { direction: 'recvonly' });
    this.#pc.addEventListener('track', (event) => this.#onTrack(event.track));
  }

  get location(): string | undefined {
    return this.#location;
  }

  get offerSdp(): string {
    return this.#offerSdp;
  }

  get answerSdp(): string {
    return this.#answerSdp;
  }

  get connectionState(): RTCPeerConnectionState {
    return this.#pc.connectionState;
  }

  get framesDecoded(): number {
    return this.#framesDecoded;
  }

  /** Milliseconds from `start()` to the first decoded video frame, once there is one. */
  get timeToFirstFrameMs(): number | undefined {
    return this.#firstFrameAt === undefined ? undefined : this.#firstFrameAt - this.#startedAt;
  }

  stats(): WrtcViewerStats {
    return {
      framesDecoded: this.#framesDecoded,
      width: this.#width,
      height: this.#height,
      timeToFirstFrameMs: this.timeToFirstFrameMs,
      audioSamples: this.#audioSamples,
      audioChunks: this.#audioChunks,
      timeToFirstAudioMs:
        this.#firstAudioAt === undefined ? undefined : this.#firstAudioAt - this.#startedAt,
      connectionState: this.#pc.connectionState,
    };
  }

  async waitConnected(timeoutMs = 10_000): Promise<void> {
    await waitForConnected(this.#pc, timeoutMs, 'the wrtc viewer to connect');
  }

  /**
   * Resolves once `n` frames in total have been decoded. On timeout the error says whether
   * video RTP arrived at all, which tells a forwarding problem from a decoding one.
   */
  async waitForFrames(n: number, timeoutMs = 10_000): Promise<void> {
    try {
      await waitUntil(
        () => this.#framesDecoded >= n || this.#closing !== undefined,
        timeoutMs,
        `${n} decoded frames`,
      );
    } catch (error) {
      if (!(error instanceof PeerTimeoutError)) throw error;
      const video = (await this.inboundRtpStats().catch(() => undefined))?.video;
      throw new PeerTimeoutError(
        `${n} decoded frames (got ${this.#framesDecoded}; libwebrtc counted ` +
          `${video?.packetsReceived ?? 'no'} video RTP packets, ` +
          `${video?.keyFramesDecoded ?? 0} keyframes decoded, ${video?.pliCount ?? 0} PLIs sent)`,
        timeoutMs,
      );
    }
    if (this.#framesDecoded < n) throw new Error('WrtcViewer closed while waiting for frames');
  }

  /** The `inbound-rtp` counters of the peer connection, per kind. */
  async inboundRtpStats(): Promise<Partial<Record<'audio' | 'video', WrtcInboundRtpStats>>> {
    const result: Partial<Record<'audio' | 'video', WrtcInboundRtpStats>> = {};
    const report = await this.#pc.getStats();
    report.forEach((entry: Record<string, unknown>) => {
      if (entry.type !== 'inbound-rtp' || (entry.kind !== 'audio' && entry.kind !== 'video'))
        return;
      const number = (key: string): number | undefined =>
        typeof entry[key] === 'number' ? entry[key] : undefined;
      result[entry.kind] = {
        packetsReceived: number('packetsReceived') ?? 0,
        bytesReceived: number('bytesReceived') ?? 0,
        packetsLost: number('packetsLost') ?? 0,
        framesReceived: number('framesReceived'),
        framesDecoded: number('framesDecoded'),
        keyFramesDecoded: number('keyFramesDecoded'),
        pliCount: number('pliCount'),
        nackCount: number('nackCount'),
      };
    });
    return result;
  }

  /**
   * The candidate types (`host`, `srflx`, `prflx`, `relay`) of the pair the connection uses,
   * from `getStats()`; undefined before a pair is selected.
   */
  async selectedCandidateTypes(): Promise<{ local: string; remote: string } | undefined> {
    const entries = new Map<string, Record<string, unknown>>();
    (await this.#pc.getStats()).forEach((entry: Record<string, unknown>) =>
      entries.set(entry.id as string, entry),
    );
    const transport = [...entries.values()].find((e) => e.type === 'transport');
    const pair = entries.get(transport?.selectedCandidatePairId as string);
    if (!pair) return undefined;
    const type = (id: unknown): string => String(entries.get(id as string)?.candidateType);
    return { local: type(pair.localCandidateId), remote: type(pair.remoteCandidateId) };
  }

  /** Resolves once `n` audio samples (per channel) have been decoded. */
  async waitForAudio(samples: number, timeoutMs = 10_000): Promise<void> {
    await waitUntil(
      () => this.#audioSamples >= samples || this.#closing !== undefined,
      timeoutMs,
      `${samples} decoded audio samples (got ${this.#audioSamples})`,
    );
    if (this.#audioSamples < samples) throw new Error('WrtcViewer closed while waiting for audio');
  }

  /** Stops the sinks, closes the peer connection and DELETEs the session. Idempotent. */
  close(options: { sendDelete?: boolean } = {}): Promise<void> {
    this.#closing ??= this.#teardown(options.sendDelete ?? true);
    return this.#closing;
  }

  async #negotiate(): Promise<void> {
    const pc = this.#pc;
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIceGathering(pc, this.#options.iceGatheringTimeoutMs ?? 2000);
    this.#offerSdp = localSdp(pc);
    const negotiated = await negotiate(this.#offerSdp, {
      url: this.#options.whepUrl,
      token: this.#options.token,
      signal: this.#options.signal,
      timeoutMs: this.#options.httpTimeoutMs,
    });
    this.#location = negotiated.location;
    this.#answerSdp = negotiated.answerSdp;
    await pc.setRemoteDescription({ type: 'answer', sdp: negotiated.answerSdp });
    this.#logger.debug({ location: this.#location }, 'WHEP session created');
  }

  #onTrack(track: MediaStreamTrack): void {
    if (this.#closing) return;
    if (track.kind === 'video') {
      const sink = new nonstandard.RTCVideoSink(track);
      this.#sinks.push(sink);
      sink.onframe = ({ frame }: { frame: I420Frame }) => {
        const now = performance.now();
        this.#firstFrameAt ??= now;
        this.#framesDecoded++;
        this.#width = frame.width;
        this.#height = frame.height;
        try {
          this.#options.onFrame?.(frame, now);
        } catch (error) {
          this.#logger.warn({ err: error }, 'onFrame hook threw');
        }
      };
    } else if (track.kind === 'audio') {
      const sink = new nonstandard.RTCAudioSink(track);
      this.#sinks.push(sink);
      sink.ondata = (data: RTCAudioData) => {
        this.#firstAudioAt ??= performance.now();
        this.#audioChunks++;
        this.#audioSamples += data.numberOfFrames ?? data.samples.length / (data.channelCount ?? 1);
      };
    }
  }

  async #teardown(sendDelete: boolean): Promise<void> {
    // DELETE first, then close: libwebrtc's close sends a DTLS close_notify, and a server
    // that reacts to it at once would answer the DELETE with 404.
    if (sendDelete && this.#location) {
      await deleteSessionQuietly(
        this.#location,
        this.#options.token,
        { timeoutMs: this.#options.httpTimeoutMs },
        this.#logger,
      );
    }
    // Sinks must be stopped: a live sink keeps libwebrtc threads (and the process) running.
    for (const sink of this.#sinks) sink.stop();
    this.#pc.close();
    this.#logger.debug('viewer closed');
  }
}
