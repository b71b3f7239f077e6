/**
 * A cheap receive-only WHEP viewer on libdatachannel (`node-datachannel`): no decoding, it
 * counts RTP packets and bytes per track, keyframes, and the time to the first packet. Many
 * of them fit on one machine, so a load generator uses these for the bulk of viewers.
 */
import { createLogger, type Logger } from '@wisp/core';
import { Audio, PeerConnection, RtcpReceivingSession, Video, type Track } from 'node-datachannel';
import sdpTransform from 'sdp-transform';
import { InvalidStateError } from './errors.ts';
import { localOffer } from './ndc.ts';
import {
  isH264KeyframePayload,
  isRtp,
  isVp8KeyframePayload,
  rtpPayload,
  rtpPayloadType,
  rtpSsrc,
  rtpTimestamp,
} from './rtp.ts';
import { negotiate, stripCandidates, type SignalFn } from './signaling.ts';
import { waitUntil } from './timing.ts';
import { deleteSessionQuietly } from './whipClient.ts';

export type NdcVideoCodec = 'H264' | 'VP8' | 'VP9' | 'AV1';
export type MediaKind = 'audio' | 'video';

export interface NdcViewerOptions {
  /** The WHEP endpoint. Required unless `signal` is given. */
  whepUrl?: string;
  /** Sent as `Authorization: Bearer` on POST and DELETE if set. */
  token?: string;
  /** Replaces the HTTP exchange (in-process tests). No DELETE is sent then. */
  signal?: SignalFn;
  /** Default true. */
  audio?: boolean;
  /** Default true. */
  video?: boolean;
  /** Video codecs offered, in preference order. Default H.264 (42e01f) then VP8. */
  videoCodecs?: NdcVideoCodec[];
  /**
   * Send RTCP receiver reports and REMB (libdatachannel's `RtcpReceivingSession`), which also
   * makes `requestKeyframe()` work. Default true.
   */
  rtcpReports?: boolean;
  /**
   * Wait for ICE gathering and put the candidates in the offer. Default false: the offer has
   * none, which an ICE-lite server does not need (it learns the address from the checks).
   */
  includeCandidates?: boolean;
  /** Local address libdatachannel binds for ICE. Default: all interfaces. */
  bindAddress?: string;
  /** HTTP timeout of POST and DELETE. Default 8000 ms. */
  httpTimeoutMs?: number;
  /**
   * Called with every RTP packet (RTCP filtered out), e.g. to count loss from sequence gaps.
   * A hook that throws is ignored.
   */
  onRtp?: (kind: MediaKind, packet: Buffer, receivedAt: number) => void;
}

export interface NdcTrackStats {
  /** The codec negotiated for the m-line (from the answer), e.g. "H264" or "opus". */
  codec: string | undefined;
  packets: number;
  bytes: number;
  /** Distinct keyframes seen (H.264 and VP8 only), counted by RTP timestamp. */
  keyframes: number;
  /** Milliseconds from `start()`. */
  timeToFirstPacketMs: number | undefined;
  timeToFirstKeyframeMs: number | undefined;
  ssrcs: number[];
  payloadTypes: number[];
}

export interface NdcViewerStats {
  connectionState: string;
  timeToConnectedMs: number | undefined;
  audio: NdcTrackStats;
  video: NdcTrackStats;
}

interface TrackCounters {
  track: Track | undefined;
  codecs: Map<number, string>;
  packets: number;
  bytes: number;
  keyframes: number;
  lastKeyframeTimestamp: number | undefined;
  firstPacketAt: number | undefined;
  firstKeyframeAt: number | undefined;
  ssrcs: Set<number>;
  payloadTypes: Set<number>;
}

const AUDIO_MID = '0';
const VIDEO_MID = '1';
const PAYLOAD_TYPES: Record<NdcVideoCodec, number> = { H264: 96, VP8: 97, VP9: 98, AV1: 99 };

export class NdcViewer {
  readonly #pc: PeerConnection;
  readonly #options: NdcViewerOptions;
  readonly #logger: Logger;
  readonly #startedAt = performance.now();
  readonly #counters: Record<MediaKind, TrackCounters> = {
    audio: newCounters(),
    video: newCounters(),
  };
  #state = 'new';
  #connectedAt: number | undefined;
  #location: string | undefined;
  #offerSdp = '';
  #answerSdp = '';
  #closing: Promise<void> | undefined;

  /** Offers recvonly tracks, POSTs to the WHEP endpoint and sets the answer. */
  static async start(options: NdcViewerOptions): Promise<NdcViewer> {
    const viewer = new NdcViewer(options);
    try {
      await viewer.#negotiate();
    } catch (error) {
      // After a 201 whose answer could not be applied, the server holds a session: DELETE it.
      await viewer.#teardown(true).catch(() => undefined);
      throw error;
    }
    return viewer;
  }

  private constructor(options: NdcViewerOptions) {
    if (!options.whepUrl && !options.signal) {
      throw new TypeError('NdcViewer needs a whepUrl or a signal function');
    }
    if (options.audio === false && options.video === false) {
      throw new TypeError('NdcViewer needs audio, video or both');
    }
    const videoCodecs = options.videoCodecs ?? ['H264', 'VP8'];
    if (options.video !== false && videoCodecs.length === 0) {
      throw new TypeError('NdcViewer needs at least one video codec');
    }
    this.#options = options;
    this.#logger = createLogger('NdcViewer', { whepUrl: options.whepUrl });
    this.#pc = new PeerConnection('NdcViewer', {
      iceServers: [],
      ...(options.bindAddress ? { bindAddress: options.bindAddress } : {}),
    });
    this.#pc.onStateChange((state) => {
      this.#state = state;
      if (state === 'connected') this.#connectedAt ??= performance.now();
    });

    if (options.audio !== false) {
      const audio = new Audio(AUDIO_MID, 'RecvOnly');
      audio.addOpusCodec(111);
      this.#attach('audio', this.#pc.addTrack(audio));
    }
    if (options.video !== false) {
      const video = new Video(VIDEO_MID, 'RecvOnly');
      for (const codec of videoCodecs) {
        const payloadType = PAYLOAD_TYPES[codec];
        if (codec === 'H264') video.addH264Codec(payloadType);
        else if (codec === 'VP8') video.addVP8Codec(payloadType);
        else if (codec === 'VP9') video.addVP9Codec(payloadType);
        else video.addAV1Codec(payloadType);
      }
      this.#attach('video', this.#pc.addTrack(video));
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

  /** libdatachannel's state: new, connecting, connected, disconnected, failed, closed. */
  get connectionState(): string {
    return this.#state;
  }

  /** Milliseconds from `start()` to the first RTP packet of `kind` (video by default). */
  timeToFirstPacketMs(kind: MediaKind = 'video'): number | undefined {
    const first = this.#counters[kind].firstPacketAt;
    return first === undefined ? undefined : first - this.#startedAt;
  }

  stats(): NdcViewerStats {
    return {
      connectionState: this.#state,
      timeToConnectedMs:
        this.#connectedAt === undefined ? undefined : this.#connectedAt - this.#startedAt,
      audio: this.#trackStats('audio'),
      video: this.#trackStats('video'),
    };
  }

  async waitConnected(timeoutMs = 10_000): Promise<void> {
    await waitUntil(
      () => {
        if (this.#state === 'failed' || this.#state === 'closed') {
          throw new InvalidStateError(`NdcViewer connection is ${this.#state}`);
        }
        return this.#state === 'connected';
      },
      timeoutMs,
      'the NdcViewer to connect',
    );
  }

  /** Resolves once `n` RTP packets of `kind` have arrived. */
  async waitForPackets(kind: MediaKind, n: number, timeoutMs = 10_000): Promise<void> {
    const counters = this.#counters[kind];
    await waitUntil(
      () => {
        if (this.#closing) throw new InvalidStateError('NdcViewer closed while waiting');
        return counters.packets >= n;
      },
      timeoutMs,
      `${n} ${kind} RTP packets (got ${counters.packets})`,
    );
  }

  /** Sends a PLI on the video track (needs `rtcpReports`, the default). */
  requestKeyframe(): boolean {
    return this.#counters.video.track?.requestKeyframe() ?? false;
  }

  /** Closes the peer connection, then DELETEs the session. Idempotent. */
  close(options: { sendDelete?: boolean } = {}): Promise<void> {
    this.#closing ??= this.#teardown(options.sendDelete ?? true);
    return this.#closing;
  }

  async #negotiate(): Promise<void> {
    const pc = this.#pc;
    const offer = await localOffer(pc);
    if (this.#options.includeCandidates) {
      await waitUntil(() => pc.gatheringState() === 'complete', 5000, 'ICE gathering').catch(
        () => undefined,
      );
      this.#offerSdp = pc.localDescription()?.sdp ?? offer;
    } else {
      this.#offerSdp = stripCandidates(offer);
    }
    const negotiated = await negotiate(this.#offerSdp, {
      url: this.#options.whepUrl,
      token: this.#options.token,
      signal: this.#options.signal,
      timeoutMs: this.#options.httpTimeoutMs,
    });
    this.#location = negotiated.location;
    this.#answerSdp = negotiated.answerSdp;
    this.#readCodecs(negotiated.answerSdp);
    pc.setRemoteDescription(negotiated.answerSdp, 'answer');
    this.#logger.debug({ location: this.#location }, 'WHEP session created');
  }

  #attach(kind: MediaKind, track: Track): void {
    const counters = this.#counters[kind];
    counters.track = track;
    if (this.#options.rtcpReports !== false) track.setMediaHandler(new RtcpReceivingSession());
    track.onMessage((message) => {
      // libdatachannel also hands RTCP (sender reports) to the track: only RTP is counted.
      if (!isRtp(message)) return;
      const now = performance.now();
      counters.firstPacketAt ??= now;
      counters.packets++;
      counters.bytes += message.length;
      if (this.#options.onRtp) {
        try {
          this.#options.onRtp(kind, message, now);
        } catch {
          // A consumer's bug must not stop the counting.
        }
      }
      const payloadType = rtpPayloadType(message);
      counters.payloadTypes.add(payloadType);
      counters.ssrcs.add(rtpSsrc(message));
      if (kind === 'video' && this.#isKeyframe(payloadType, message)) {
        const timestamp = rtpTimestamp(message);
        if (timestamp !== counters.lastKeyframeTimestamp) {
          counters.lastKeyframeTimestamp = timestamp;
          counters.keyframes++;
          counters.firstKeyframeAt ??= now;
        }
      }
    });
  }

  #isKeyframe(payloadType: number, packet: Buffer): boolean {
    const codec = this.#counters.video.codecs.get(payloadType)?.toUpperCase();
    if (codec === 'H264') return isH264KeyframePayload(rtpPayload(packet));
    if (codec === 'VP8') return isVp8KeyframePayload(rtpPayload(packet));
    return false;
  }

  #readCodecs(answerSdp: string): void {
    for (const media of sdpTransform.parse(answerSdp).media) {
      const counters =
        media.type === 'audio'
          ? this.#counters.audio
          : media.type === 'video'
            ? this.#counters.video
            : undefined;
      for (const rtp of media.rtp ?? []) counters?.codecs.set(rtp.payload, rtp.codec);
    }
  }

  #trackStats(kind: MediaKind): NdcTrackStats {
    const c = this.#counters[kind];
    const since = (at: number | undefined) => (at === undefined ? undefined : at - this.#startedAt);
    const firstPayloadType = c.payloadTypes.values().next().value ?? [...c.codecs.keys()][0];
    return {
      codec: firstPayloadType === undefined ? undefined : c.codecs.get(firstPayloadType),
      packets: c.packets,
      bytes: c.bytes,
      keyframes: c.keyframes,
      timeToFirstPacketMs: since(c.firstPacketAt),
      timeToFirstKeyframeMs: since(c.firstKeyframeAt),
      ssrcs: [...c.ssrcs],
      payloadTypes: [...c.payloadTypes],
    };
  }

  async #teardown(sendDelete: boolean): Promise<void> {
    if (sendDelete && this.#location) {
      await deleteSessionQuietly(
        this.#location,
        this.#options.token,
        { timeoutMs: this.#options.httpTimeoutMs },
        this.#logger,
      );
    }
    try {
      this.#pc.close();
    } catch (error) {
      this.#logger.warn({ err: error }, 'closing the peer connection failed');
    }
    this.#state = 'closed';
    this.#logger.debug('viewer closed');
  }
}

function newCounters(): TrackCounters {
  return {
    track: undefined,
    codecs: new Map(),
    packets: 0,
    bytes: 0,
    keyframes: 0,
    lastKeyframeTimestamp: undefined,
    firstPacketAt: undefined,
    firstKeyframeAt: undefined,
    ssrcs: new Set(),
    payloadTypes: new Set(),
  };
}
