/**
 * A WHIP publisher on libdatachannel (`node-datachannel`) that sends the RTP packets it is
 * handed: one VP8 video track, each packet given the SSRC and payload type the offer
 * announced and otherwise sent byte for byte. Whoever feeds it decides what the payload is:
 * a real encoder (`GstVp8Publisher` forwards GStreamer's packets) or a test that needs
 * payloads no encoder makes (truncated descriptors, a stream without keyframes).
 */
import { randomInt } from 'node:crypto';
import { createLogger, type Logger } from '@wisp/core';
import { PeerConnection, Video, type Track } from 'node-datachannel';
import {
  PeerStateWatch,
  answerRtcpFeedback,
  exchangeOffer,
  randomAlphanumeric,
  sendOnTrack,
  type FeedbackCounters,
} from './ndc.ts';
import { isRtp, withSsrcAndPayloadType } from './rtp.ts';
import { RtpHistory } from './RtpHistory.ts';
import type { SignalFn } from './signaling.ts';
import { deleteSessionQuietly } from './whipClient.ts';

const VIDEO_MID = '0';
/** The payload type the offer gives VP8 (GStreamer's `rtpvp8pay` default is 96 too). */
export const NDC_RTP_VP8_PAYLOAD_TYPE = 96;

export interface NdcRtpPublisherOptions {
  /** The WHIP endpoint. Required unless `signal` is given. */
  whipUrl?: string;
  /** Sent as `Authorization: Bearer` on POST and DELETE if set. */
  streamKey?: string;
  /** Replaces the HTTP exchange (in-process tests). No DELETE is sent then. */
  signal?: SignalFn;
  /** Local address libdatachannel binds for ICE. Default: all interfaces. */
  bindAddress?: string;
  /** HTTP timeout of POST and DELETE. Default 8000 ms. */
  httpTimeoutMs?: number;
  /** The logger's name, e.g. the peer that drives this one. Default `NdcRtpPublisher`. */
  name?: string;
}

export interface NdcRtpPublisherStats extends FeedbackCounters {
  videoPacketsSent: number;
  videoBytesSent: number;
  /** Packets handed over before the track was open (ICE/DTLS not done yet) or after close. */
  packetsDropped: number;
}

export class NdcRtpPublisher {
  readonly #options: NdcRtpPublisherOptions;
  readonly #logger: Logger;
  readonly #pc: PeerConnection;
  readonly #track: Track;
  readonly #ssrc = randomInt(1, 2 ** 32 - 1);
  readonly #history = new RtpHistory(4096);
  readonly #state = new PeerStateWatch('libdatachannel RTP publisher');
  readonly #stats: NdcRtpPublisherStats = {
    videoPacketsSent: 0,
    videoBytesSent: 0,
    packetsDropped: 0,
    nacksReceived: 0,
    packetsRetransmitted: 0,
    plisReceived: 0,
    firsReceived: 0,
  };
  #open = false;
  #closing: Promise<void> | undefined;
  #location: string | undefined;
  #offerSdp = '';
  #answerSdp = '';

  /** Offers one send-only VP8 track, POSTs it and applies the answer. Does not wait for DTLS. */
  static async start(options: NdcRtpPublisherOptions): Promise<NdcRtpPublisher> {
    if (!options.whipUrl && !options.signal) {
      throw new TypeError('NdcRtpPublisher needs a whipUrl or a signal function');
    }
    const publisher = new NdcRtpPublisher(options);
    try {
      await publisher.#negotiate();
    } catch (error) {
      // After a 201 whose answer could not be applied, the server holds a session: DELETE it.
      await publisher.#teardown(true).catch(() => undefined);
      throw error;
    }
    return publisher;
  }

  private constructor(options: NdcRtpPublisherOptions) {
    this.#options = options;
    this.#logger = createLogger(options.name ?? 'NdcRtpPublisher', { whipUrl: options.whipUrl });
    this.#pc = new PeerConnection(options.name ?? 'NdcRtpPublisher', {
      iceServers: [],
      ...(options.bindAddress ? { bindAddress: options.bindAddress } : {}),
    });
    const msid = randomAlphanumeric(16);
    const video = new Video(VIDEO_MID, 'SendOnly');
    video.addSSRC(this.#ssrc, randomAlphanumeric(16), msid, `${msid}-video`);
    video.addVP8Codec(NDC_RTP_VP8_PAYLOAD_TYPE);
    this.#track = this.#pc.addTrack(video);
    this.#pc.onStateChange((state) => {
      this.#state.set(state);
      this.#logger.debug({ state }, 'peer connection state');
    });
    this.#track.onOpen(() => {
      this.#open = true;
    });
    this.#track.onClosed(() => {
      this.#open = false;
    });
    // RTCP from the server (NACK, PLI, receiver reports) arrives on the send-only track.
    this.#track.onMessage((message) =>
      answerRtcpFeedback(message, this.#track, this.#history, this.#stats),
    );
  }

  /** The WHIP session resource (absolute URL); undefined with an injected `signal`. */
  get location(): string | undefined {
    return this.#location;
  }

  get offerSdp(): string {
    return this.#offerSdp;
  }

  get answerSdp(): string {
    return this.#answerSdp;
  }

  /** The SSRC every sent packet carries (announced in the offer). */
  get ssrc(): number {
    return this.#ssrc;
  }

  /** libdatachannel's peer connection state. */
  get connectionState(): string {
    return this.#state.state;
  }

  /** True once DTLS is up and the track takes packets. */
  get open(): boolean {
    return this.#open;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  stats(): NdcRtpPublisherStats {
    return { ...this.#stats };
  }

  /** Resolves once ICE and DTLS are up; rejects on failure, close or timeout. */
  async waitConnected(timeoutMs = 10_000): Promise<void> {
    await this.#state.waitConnected(timeoutMs);
  }

  /**
   * Sends one RTP packet on the video track with this publisher's SSRC and payload type; the
   * rest of the packet (sequence number, timestamp, marker, payload) is kept byte for byte.
   * Returns false when it was dropped: not RTP, track not open yet, or closed.
   */
  sendRtp(packet: Uint8Array): boolean {
    if (!this.#open || this.#closing || !isRtp(packet)) {
      this.#stats.packetsDropped++;
      return false;
    }
    const rewritten = withSsrcAndPayloadType(packet, this.#ssrc, NDC_RTP_VP8_PAYLOAD_TYPE);
    this.#history.store(rewritten);
    if (!sendOnTrack(this.#track, rewritten)) {
      this.#stats.packetsDropped++;
      return false;
    }
    this.#stats.videoPacketsSent++;
    this.#stats.videoBytesSent += rewritten.length;
    return true;
  }

  /** Closes the peer connection, then DELETEs the session (unless `sendDelete: false`). */
  close(options: { sendDelete?: boolean } = {}): Promise<void> {
    this.#closing ??= this.#teardown(options.sendDelete ?? true);
    return this.#closing;
  }

  async #negotiate(): Promise<void> {
    const negotiated = await exchangeOffer(this.#pc, {
      url: this.#options.whipUrl,
      token: this.#options.streamKey,
      signal: this.#options.signal,
      timeoutMs: this.#options.httpTimeoutMs,
    });
    this.#offerSdp = negotiated.offerSdp;
    this.#answerSdp = negotiated.answerSdp;
    this.#location = negotiated.location;
    this.#pc.setRemoteDescription(negotiated.answerSdp, 'answer');
    this.#logger.debug({ location: negotiated.location }, 'WHIP session created');
  }

  async #teardown(sendDelete: boolean): Promise<void> {
    this.#state.end();
    this.#open = false;
    this.#pc.close();
    this.#state.set('closed');
    this.#history.clear();
    if (sendDelete && this.#location) {
      await deleteSessionQuietly(
        this.#location,
        this.#options.streamKey,
        { timeoutMs: this.#options.httpTimeoutMs },
        this.#logger,
      );
    }
    this.#logger.debug('publisher stopped');
  }
}
