/**
 * A WHIP publisher on libwebrtc (`@roamhq/wrtc`), the stack inside Chrome: it encodes
 * synthetic raw frames with VP8 (or VP9/AV1) and a tone with Opus, so the server sees a
 * browser-like sender (BWE, RTX, transport-cc). Raw frames pass through a hook, which lets a
 * latency probe stamp a timestamp into the picture.
 */
import { createLogger, type Logger } from '@wisp/core';
import { negotiate, type SignalFn } from './signaling.ts';
import { i420Size, samplesPer10Ms, testPatternI420, toneFrame } from './syntheticMedia.ts';
import { deleteSessionQuietly } from './whipClient.ts';
import {
  RTCPeerConnection,
  RTCRtpSender,
  localSdp,
  nonstandard,
  waitForConnected,
  waitForIceGathering,
  type I420Frame,
  type RTCAudioSource,
  type RTCVideoSource,
} from './wrtc.ts';

export type WrtcVideoCodec = 'VP8' | 'VP9' | 'AV1';

export interface WrtcPublisherOptions {
  /** The WHIP endpoint. Required unless `signal` is given. */
  whipUrl?: string;
  /** Sent as `Authorization: Bearer` on POST and DELETE if set. */
  streamKey?: string;
  /** Replaces the HTTP exchange (in-process tests). No DELETE is sent then. */
  signal?: SignalFn;
  /** Default true. */
  audio?: boolean;
  /** Default true. */
  video?: boolean;
  /** Default 320x240 at 30 fps. */
  width?: number;
  height?: number;
  fps?: number;
  /** The only video codec offered. Default VP8. */
  videoCodec?: WrtcVideoCodec;
  /**
   * Called for every video frame before it is handed to the encoder. `frame.data` already
   * holds the moving test pattern; the hook may draw into it, or return other I420 bytes of
   * the same size.
   */
  onFrame?: (frameIndex: number, frame: I420Frame) => Uint8Array | void;
  /**
   * Called for every 10 ms audio frame (48 kHz mono, 16-bit) of the tone; may change the
   * samples in place (e.g. silence them between beeps) or return others of the same length.
   */
  onAudio?: (frameIndex: number, samples: Int16Array) => Int16Array | void;
  /** How long to wait for ICE gathering before sending the offer. Default 2000 ms. */
  iceGatheringTimeoutMs?: number;
  /** HTTP timeout of POST and DELETE. Default 8000 ms. */
  httpTimeoutMs?: number;
}

export interface WrtcPublisherStats {
  framesSent: number;
  audioFramesSent: number;
  connectionState: RTCPeerConnectionState;
  iceConnectionState: RTCIceConnectionState;
}

/** One scheduler tick drives audio (every 10 ms) and video (every 1/fps s) from the clock. */
const TICK_MS = 10;
const SAMPLE_RATE = 48_000;

export class WrtcPublisher {
  readonly #pc: RTCPeerConnection;
  readonly #options: WrtcPublisherOptions & { width: number; height: number; fps: number };
  readonly #logger: Logger;
  readonly #videoSource: RTCVideoSource | undefined;
  readonly #audioSource: RTCAudioSource | undefined;
  readonly #tracks: MediaStreamTrack[] = [];
  readonly #frame: I420Frame;
  #timer: NodeJS.Timeout | undefined;
  #startedAt = 0;
  #framesSent = 0;
  #audioFramesSent = 0;
  #location: string | undefined;
  #offerSdp = '';
  #answerSdp = '';
  #closing: Promise<void> | undefined;

  /** Offers, POSTs, sets the answer and starts the media clock. Does not wait for ICE. */
  static async start(options: WrtcPublisherOptions): Promise<WrtcPublisher> {
    const publisher = new WrtcPublisher(options);
    try {
      await publisher.#negotiate();
    } catch (error) {
      // After a 201 whose answer could not be applied, the server holds a session: DELETE it.
      await publisher.#teardown(true).catch(() => undefined);
      throw error;
    }
    return publisher;
  }

  private constructor(options: WrtcPublisherOptions) {
    const width = options.width ?? 320;
    const height = options.height ?? 240;
    const fps = options.fps ?? 30;
    if (!options.whipUrl && !options.signal) {
      throw new TypeError('WrtcPublisher needs a whipUrl or a signal function');
    }
    if (options.audio === false && options.video === false) {
      throw new TypeError('WrtcPublisher needs audio, video or both');
    }
    for (const [key, value] of Object.entries({ width, height, fps })) {
      if (!Number.isInteger(value) || value <= 0) {
        throw new TypeError(`${key} must be a positive integer, got ${value}`);
      }
    }
    this.#options = { ...options, width, height, fps };
    this.#logger = createLogger('WrtcPublisher', { whipUrl: options.whipUrl });
    this.#frame = { width, height, data: new Uint8Array(i420Size(width, height)) };
    this.#pc = new RTCPeerConnection({ iceServers: [] });

    if (options.audio !== false) {
      this.#audioSource = new nonstandard.RTCAudioSource();
      const track = this.#audioSource.createTrack();
      this.#tracks.push(track);
      this.#pc.addTransceiver(track, { direction: 'sendonly' });
    }
    if (options.video !== false) {
      this.#videoSource = new nonstandard.RTCVideoSource();
      const track = this.#videoSource.createTrack();
      this.#tracks.push(track);
      const transceiver = this.#pc.addTransceiver(track, { direction: 'sendonly' });
      const codec = options.videoCodec ?? 'VP8';
      const preferred = (RTCRtpSender.getCapabilities('video')?.codecs ?? []).filter(
        (c) => c.mimeType === `video/${codec}` || c.mimeType === 'video/rtx',
      );
      // Only the transceiver is touched, never `.sender`: holding an RTCRtpSender wrapper
      // until process exit makes @roamhq/wrtc 0.10 crash in its finalizer.
      transceiver.setCodecPreferences(preferred);
    }
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

  get framesSent(): number {
    return this.#framesSent;
  }

  stats(): WrtcPublisherStats {
    return {
      framesSent: this.#framesSent,
      audioFramesSent: this.#audioFramesSent,
      connectionState: this.#pc.connectionState,
      iceConnectionState: this.#pc.iceConnectionState,
    };
  }

  /** Resolves when the connection is `connected`; rejects on failed/closed or timeout. */
  async waitConnected(timeoutMs = 10_000): Promise<void> {
    await waitForConnected(this.#pc, timeoutMs, 'the wrtc publisher to connect');
  }

  /** Stops media, closes the peer connection, then DELETEs the session. Idempotent. */
  close(options: { sendDelete?: boolean } = {}): Promise<void> {
    this.#closing ??= this.#teardown(options.sendDelete ?? true);
    return this.#closing;
  }

  /** A crashed client: everything stops, no DELETE. */
  kill(): Promise<void> {
    return this.close({ sendDelete: false });
  }

  async #negotiate(): Promise<void> {
    const pc = this.#pc;
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIceGathering(pc, this.#options.iceGatheringTimeoutMs ?? 2000);
    this.#offerSdp = localSdp(pc);
    const negotiated = await negotiate(this.#offerSdp, {
      url: this.#options.whipUrl,
      token: this.#options.streamKey,
      signal: this.#options.signal,
      timeoutMs: this.#options.httpTimeoutMs,
    });
    this.#location = negotiated.location;
    this.#answerSdp = negotiated.answerSdp;
    await pc.setRemoteDescription({ type: 'answer', sdp: negotiated.answerSdp });
    this.#logger.debug({ location: this.#location }, 'WHIP session created');
    this.#startedAt = performance.now();
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
  }

  /** Sends every frame that is due by the clock, so timer jitter does not change the rate. */
  #tick(): void {
    const elapsedMs = performance.now() - this.#startedAt;
    if (this.#audioSource) {
      const due = Math.floor(elapsedMs / 10) + 1;
      // After a long stall (a blocked event loop) old audio is skipped, not sent in a burst.
      if (due - this.#audioFramesSent > 20) this.#audioFramesSent = due - 1;
      while (this.#audioFramesSent < due) {
        let samples = toneFrame(this.#audioFramesSent, SAMPLE_RATE);
        try {
          samples = this.#options.onAudio?.(this.#audioFramesSent, samples) ?? samples;
        } catch (error) {
          this.#logger.warn({ err: error }, 'onAudio hook threw; sending the tone');
        }
        this.#audioSource.onData({
          samples,
          sampleRate: SAMPLE_RATE,
          bitsPerSample: 16,
          channelCount: 1,
          numberOfFrames: samplesPer10Ms(SAMPLE_RATE),
        });
        this.#audioFramesSent++;
      }
    }
    if (this.#videoSource) {
      const due = Math.floor((elapsedMs * this.#options.fps) / 1000) + 1;
      if (this.#framesSent < due) {
        // Video is never sent in bursts: one frame per tick at most, skipping missed ones.
        this.#framesSent = due - 1;
        const { width, height } = this.#frame;
        testPatternI420(this.#framesSent, width, height, this.#frame.data);
        let data = this.#frame.data;
        try {
          data = this.#options.onFrame?.(this.#framesSent, this.#frame) ?? this.#frame.data;
        } catch (error) {
          this.#logger.warn({ err: error }, 'onFrame hook threw; sending the test pattern');
        }
        this.#videoSource.onFrame({ width, height, data });
        this.#framesSent++;
      }
    }
  }

  async #teardown(sendDelete: boolean): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    // DELETE first, then close: libwebrtc's close sends a DTLS close_notify, and a server
    // that reacts to it at once would answer the DELETE with 404.
    if (sendDelete && this.#location) {
      await deleteSessionQuietly(
        this.#location,
        this.#options.streamKey,
        { timeoutMs: this.#options.httpTimeoutMs },
        this.#logger,
      );
    }
    for (const track of this.#tracks) track.stop();
    this.#pc.close();
    this.#logger.debug('publisher closed');
  }
}
