/**
 * A WHIP publisher that behaves on the wire like OBS Studio's WHIP output (30.2+, simulcast
 * as in 32.1), built on the same library OBS uses (libdatachannel, through node-datachannel).
 * See docs: /work/shared/docs/field-notes.md section 1 and `plugins/obs-webrtc/whip-output.cpp`.
 */
import { randomInt } from 'node:crypto';
import type dgram from 'node:dgram';
import { createLogger, type Logger } from '@wisp/core';
import { Audio, PeerConnection, Video, type Track } from 'node-datachannel';
import {
  obsLikeFfmpegArgs,
  spawnFfmpeg,
  stopFfmpeg,
  type FfmpegProcess,
  type VideoLayer,
} from './ffmpeg.ts';
import {
  PeerStateWatch,
  answerRtcpFeedback,
  bindUdp,
  exchangeOffer,
  randomAlphanumeric,
  sendOnTrack as send,
} from './ndc.ts';
import { isRtcp, withHeaderExtensions } from './rtp.ts';
import { RtpHistory } from './RtpHistory.ts';
import { deleteSessionQuietly } from './whipClient.ts';
import {
  OBS_USER_AGENT,
  resolveObsLikeOptions,
  type ObsLikePublisherOptions,
  type ObsLikePublisherStats,
  type PacketsSent,
  type PublisherCloseReason,
  type ResolvedObsLikeOptions,
} from './obsLikeOptions.ts';

/** Constants of OBS's WHIP output (`whip-output.cpp`). */
const AUDIO_MID = '0';
const VIDEO_MID = '1';
const AUDIO_PAYLOAD_TYPE = 111;
const VIDEO_PAYLOAD_TYPE = 96;
const EXT_ID_MID = 1;
const EXT_ID_RID = 2;
const RTP_PACKET_SIZE = 1200;

interface LayerState extends VideoLayer {
  socket: dgram.Socket;
  /** The RID as header extension bytes. */
  ridBytes: Buffer;
}

interface Internals {
  options: ResolvedObsLikeOptions;
  pc: PeerConnection;
  audioTrack: Track | undefined;
  videoTrack: Track | undefined;
  audioSocket: dgram.Socket | undefined;
  audioSsrc: number;
  layers: LayerState[];
  logger: Logger;
}

export class ObsLikePublisher {
  readonly #internals: Internals;
  readonly #history = new RtpHistory(4096);
  readonly #stats: ObsLikePublisherStats = {
    audioPacketsSent: 0,
    audioBytesSent: 0,
    videoPacketsSent: 0,
    videoBytesSent: 0,
    videoPacketsSentByRid: {},
    rtcpPacketsSent: 0,
    packetsDroppedBeforeOpen: 0,
    nacksReceived: 0,
    packetsRetransmitted: 0,
    plisReceived: 0,
    firsReceived: 0,
  };
  readonly #state = new PeerStateWatch('OBS-like publisher');
  #audioOpen = false;
  #videoOpen = false;
  #ffmpeg: FfmpegProcess | undefined;
  #closing: Promise<void> | undefined;
  #closeReason: PublisherCloseReason | undefined;
  #location: string | undefined;
  #offerSdp = '';
  #answerSdp = '';
  #responseHeaders: Record<string, string> = {};

  /** Starts publishing: offer, POST, answer, then media. Does not wait for ICE/DTLS. */
  static async start(options: ObsLikePublisherOptions): Promise<ObsLikePublisher> {
    const resolved = resolveObsLikeOptions(options);
    const logger = createLogger('ObsLikePublisher', { whipUrl: options.whipUrl });

    const audioSocket = resolved.audio ? await bindUdp() : undefined;
    const layers: LayerState[] = [];
    // OBS: audio SSRC = base, video layer i SSRC = base + 1 + i.
    const baseSsrc = randomInt(1, 2 ** 32 - 16);
    try {
      if (resolved.video) {
        const n = resolved.simulcastLayers;
        for (let i = 0; i < n; i++) {
          const socket = await bindUdp();
          const scale = (n - i) / n;
          const rid = String(i);
          layers.push({
            rid,
            width: even(resolved.width * scale),
            height: even(resolved.height * scale),
            bitrateKbps: Math.max(50, Math.round(resolved.videoBitrateKbps * scale)),
            ssrc: baseSsrc + 1 + i,
            port: socket.address().port,
            socket,
            ridBytes: Buffer.from(rid),
          });
        }
      }
    } catch (error) {
      audioSocket?.close();
      for (const layer of layers) layer.socket.close();
      throw error;
    }

    const pc = new PeerConnection('ObsLikePublisher', {
      iceServers: [],
      // OBS sets disableAutoGathering so the offer has no candidates and gathers after the
      // answer with gatherLocalCandidates(). node-datachannel 0.33 exposes the flag but not
      // gatherLocalCandidates(), so with it ICE never starts. Gathering is left on instead;
      // the offer still carries no candidates (they are never sent: no trickle, no PATCH).
      disableAutoGathering: false,
      ...(options.bindAddress ? { bindAddress: options.bindAddress } : {}),
    });

    // OBS: 16 random alphanumerics for the media stream id and the CNAME.
    const msid = randomAlphanumeric(16);
    const cname = randomAlphanumeric(16);
    let audioTrack: Track | undefined;
    let videoTrack: Track | undefined;
    if (resolved.audio) {
      const audio = new Audio(AUDIO_MID, 'SendOnly');
      audio.addOpusCodec(AUDIO_PAYLOAD_TYPE);
      audio.addSSRC(baseSsrc, cname, msid, `${msid}-audio`);
      audioTrack = pc.addTrack(audio);
    }
    if (resolved.video) {
      const video = new Video(VIDEO_MID, 'SendOnly');
      video.addSSRC(baseSsrc + 1, cname, msid, `${msid}-video`);
      video.parseSdpLine(`a=extmap:${EXT_ID_MID} urn:ietf:params:rtp-hdrext:sdes:mid`);
      video.parseSdpLine(`a=extmap:${EXT_ID_RID} urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id`);
      if (layers.length > 1) {
        // node-datachannel has no addRid(); the attribute lines are kept verbatim instead.
        for (const layer of layers) video.parseSdpLine(`a=rid:${layer.rid} send`);
        video.parseSdpLine(`a=simulcast:send ${layers.map((layer) => layer.rid).join(';')}`);
      }
      // libdatachannel's default H.264 fmtp, the one OBS advertises whatever the real profile:
      // profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1.
      video.addH264Codec(VIDEO_PAYLOAD_TYPE);
      videoTrack = pc.addTrack(video);
    }

    const publisher = new ObsLikePublisher({
      options: resolved,
      pc,
      audioTrack,
      videoTrack,
      audioSocket,
      audioSsrc: baseSsrc,
      layers,
      logger,
    });
    try {
      await publisher.#negotiate();
    } catch (error) {
      // After a 201 whose answer could not be applied, the server holds a session: DELETE it.
      await publisher.#teardown(true).catch(() => undefined);
      throw error;
    }
    return publisher;
  }

  private constructor(internals: Internals) {
    this.#internals = internals;
    const { pc, audioTrack, videoTrack } = internals;
    pc.onStateChange((state) => this.#onStateChange(state));
    audioTrack?.onOpen(() => {
      this.#audioOpen = true;
    });
    audioTrack?.onClosed(() => {
      this.#audioOpen = false;
    });
    videoTrack?.onOpen(() => {
      this.#videoOpen = true;
    });
    videoTrack?.onClosed(() => {
      this.#videoOpen = false;
    });
    // RTCP from the server (NACK, PLI, receiver reports) arrives on the send-only tracks.
    audioTrack?.onMessage((message) => this.#onRtcp(message, audioTrack));
    videoTrack?.onMessage((message) => this.#onRtcp(message, videoTrack));
  }

  /** The WHIP session resource (absolute URL); undefined with an injected `signal`. */
  get location(): string | undefined {
    return this.#location;
  }

  /** The offer as sent: no candidates, like OBS since 30.2. */
  get offerSdp(): string {
    return this.#offerSdp;
  }

  get answerSdp(): string {
    return this.#answerSdp;
  }

  /** Response headers of the POST (lower-case names), e.g. `link`. */
  get responseHeaders(): Record<string, string> {
    return this.#responseHeaders;
  }

  /** libdatachannel's peer connection state: new, connecting, connected, disconnected, failed, closed. */
  get connectionState(): string {
    return this.#state.state;
  }

  /** Why the publisher stopped, or undefined while it runs. */
  get closeReason(): PublisherCloseReason | undefined {
    return this.#closeReason;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  get packetsSent(): PacketsSent {
    return {
      audio: this.#stats.audioPacketsSent,
      video: this.#stats.videoPacketsSent,
      byRid: { ...this.#stats.videoPacketsSentByRid },
    };
  }

  /** SSRCs announced/used: audio = base, video layer i = base + 1 + i (as OBS). */
  get ssrcs(): { audio: number | undefined; video: Record<string, number> } {
    return {
      audio: this.#internals.options.audio ? this.#internals.audioSsrc : undefined,
      video: Object.fromEntries(this.#internals.layers.map((layer) => [layer.rid, layer.ssrc])),
    };
  }

  stats(): ObsLikePublisherStats {
    return { ...this.#stats, videoPacketsSentByRid: { ...this.#stats.videoPacketsSentByRid } };
  }

  /** Resolves once ICE and DTLS are up; rejects on failure, close or timeout. */
  async waitConnected(timeoutMs = 10_000): Promise<void> {
    await this.#state.waitConnected(timeoutMs);
  }

  /**
   * Stops like OBS's "Stop Streaming": ffmpeg, then the peer connection, then DELETE with the
   * bearer (skipped with `{ sendDelete: false }` or an injected signal). Idempotent.
   */
  close(options: { sendDelete?: boolean } = {}): Promise<void> {
    this.#closeReason ??= 'closed';
    this.#closing ??= this.#teardown(options.sendDelete ?? true);
    return this.#closing;
  }

  /** A crashed client: ffmpeg and the peer connection stop, no DELETE is sent. */
  kill(): Promise<void> {
    this.#closeReason ??= 'killed';
    this.#closing ??= this.#teardown(false);
    return this.#closing;
  }

  async #negotiate(): Promise<void> {
    const { pc, options, logger } = this.#internals;
    const negotiated = await exchangeOffer(pc, {
      url: options.whipUrl,
      token: options.streamKey,
      signal: options.signal,
      timeoutMs: options.httpTimeoutMs,
      headers: { 'User-Agent': options.userAgent ?? OBS_USER_AGENT },
    });
    this.#offerSdp = negotiated.offerSdp;
    this.#answerSdp = negotiated.answerSdp;
    this.#location = negotiated.location;
    this.#responseHeaders = negotiated.headers;
    pc.setRemoteDescription(negotiated.answerSdp, 'answer');
    logger.debug({ location: negotiated.location }, 'WHIP session created');

    // OBS starts its encoders' data capture once the answer is set.
    this.#bindForwarding();
    this.#ffmpeg = spawnFfmpeg(
      options.ffmpegPath ?? 'ffmpeg',
      obsLikeFfmpegArgs({
        fps: options.fps,
        width: options.width,
        height: options.height,
        layers: this.#internals.layers,
        audio: this.#internals.audioSocket
          ? {
              ssrc: this.#internals.audioSsrc,
              port: this.#internals.audioSocket.address().port,
              bitrateKbps: options.audioBitrateKbps,
            }
          : undefined,
        maxDurationSec: options.maxDurationSec ?? 3600,
        ...(options.pattern ? { pattern: options.pattern } : {}),
        videoPayloadType: VIDEO_PAYLOAD_TYPE,
        audioPayloadType: AUDIO_PAYLOAD_TYPE,
        packetSize: RTP_PACKET_SIZE,
      }),
      logger,
    );
    const ffmpeg = this.#ffmpeg;
    void ffmpeg.exited.then(({ code, signal }) => {
      if (!this.#closing) {
        logger.warn(
          { code, signal, stderr: ffmpeg.stderrTail() },
          'ffmpeg exited while publishing',
        );
      }
    });
  }

  #bindForwarding(): void {
    const { audioSocket, audioTrack, videoTrack, layers } = this.#internals;
    if (audioSocket && audioTrack) {
      audioSocket.on('message', (packet) => {
        if (!this.#audioOpen) {
          this.#stats.packetsDroppedBeforeOpen++;
          return;
        }
        if (isRtcp(packet)) {
          if (send(audioTrack, packet)) this.#stats.rtcpPacketsSent++;
          return;
        }
        this.#history.store(packet);
        if (send(audioTrack, packet)) {
          this.#stats.audioPacketsSent++;
          this.#stats.audioBytesSent += packet.length;
        }
      });
    }
    if (!videoTrack) return;
    const mid = Buffer.from(VIDEO_MID);
    for (const layer of layers) {
      const elements = [
        { id: EXT_ID_MID, value: mid },
        { id: EXT_ID_RID, value: layer.ridBytes },
      ];
      this.#stats.videoPacketsSentByRid[layer.rid] = 0;
      layer.socket.on('message', (packet) => {
        if (!this.#videoOpen) {
          this.#stats.packetsDroppedBeforeOpen++;
          return;
        }
        if (isRtcp(packet)) {
          if (send(videoTrack, packet)) this.#stats.rtcpPacketsSent++;
          return;
        }
        // OBS's packetizer writes the mid and rid header extensions on every video packet.
        const rewritten = withHeaderExtensions(packet, elements);
        this.#history.store(rewritten);
        if (send(videoTrack, rewritten)) {
          this.#stats.videoPacketsSent++;
          this.#stats.videoBytesSent += rewritten.length;
          this.#stats.videoPacketsSentByRid[layer.rid]++;
        }
      });
    }
  }

  #onRtcp(message: Buffer, track: Track): void {
    // OBS does not react to PLIs either: its encoders make keyframes on their interval.
    answerRtcpFeedback(message, track, this.#history, this.#stats);
  }

  #onStateChange(state: string): void {
    this.#state.set(state);
    this.#internals.logger.debug({ state }, 'peer connection state');
    const stopOnDisconnect = this.#internals.options.stopOnDisconnect ?? true;
    if (stopOnDisconnect && (state === 'disconnected' || state === 'failed') && !this.#closing) {
      this.#internals.logger.info({ state }, 'connection lost; stopping like OBS');
      this.#closeReason = state;
      // Nobody may be awaiting this close: its failure is logged, not left unhandled.
      this.#closing = this.#teardown(true).catch((error: unknown) => {
        this.#internals.logger.warn({ err: error }, 'stopping after connection loss failed');
      });
    }
  }

  async #teardown(sendDelete: boolean): Promise<void> {
    const { pc, audioSocket, layers, logger, options } = this.#internals;
    this.#state.end();
    const errors: unknown[] = [];
    if (this.#ffmpeg) {
      await stopFfmpeg(this.#ffmpeg).catch((error: unknown) => errors.push(error));
    }
    audioSocket?.close();
    for (const layer of layers) layer.socket.close();
    this.#audioOpen = false;
    this.#videoOpen = false;
    try {
      pc.close();
    } catch (error) {
      errors.push(error);
    }
    this.#state.set('closed');
    this.#history.clear();

    // OBS closes the peer connection first, then sends the DELETE and only logs its outcome.
    if (sendDelete && this.#location) {
      await deleteSessionQuietly(
        this.#location,
        options.streamKey,
        {
          timeoutMs: options.httpTimeoutMs,
          headers: { 'User-Agent': options.userAgent ?? OBS_USER_AGENT },
        },
        logger,
      );
    }
    logger.debug({ reason: this.#closeReason ?? 'start failed' }, 'publisher stopped');
    if (errors.length > 0) throw errors[0];
  }
}

function even(value: number): number {
  return Math.max(2, 2 * Math.round(value / 2));
}
