/**
 * A WHIP publisher whose VP8 comes from a real GStreamer pipeline (Debian's
 * gstreamer1.0-plugins-good `vp8enc ! rtpvp8pay`), sent through libdatachannel. GStreamer's
 * payloader leaves the PictureID out by default (`picture-id-mode=none`; RFC 7741 section
 * 4.2 makes it optional), so this is the publisher of the "VP8 without PictureID" issue:
 * mediasoup 3.8.4's VP8 parser gave up on such packets, saw no keyframe, and every viewer
 * dropped the video. The payload is forwarded byte for byte and every descriptor is checked,
 * so a test can assert the SFU really got packets without a PictureID.
 */
import type dgram from 'node:dgram';
import { createLogger, type Logger } from '@wisp/core';
import { stopMediaTool, spawnMediaTool, type MediaToolProcess } from './mediaTool.ts';
import { bindUdp } from './ndc.ts';
import {
  NdcRtpPublisher,
  type NdcRtpPublisherOptions,
  type NdcRtpPublisherStats,
} from './NdcRtpPublisher.ts';
import { isRtp, isVp8KeyframePayload, parseVp8PayloadDescriptor, rtpPayload } from './rtp.ts';

/** `rtpvp8pay`'s `picture-id-mode`: GStreamer's default is `none`. */
export type Vp8PictureIdMode = 'none' | '7-bit' | '15-bit';

export interface GstVp8PipelineOptions {
  /** UDP port on 127.0.0.1 the RTP goes to. */
  port: number;
  width: number;
  height: number;
  fps: number;
  /** Frames between keyframes (`vp8enc keyframe-max-dist`). */
  keyframeMaxDist: number;
  targetBitrateKbps: number;
  pictureIdMode: Vp8PictureIdMode;
  /** The source stops after this long (`num-buffers`), a bound on a leaked process. */
  maxDurationSec: number;
  /** RTP packet size including the header. */
  mtu: number;
}

/**
 * `gst-launch-1.0` arguments: a live moving test pattern, VP8 in real time, RTP to
 * 127.0.0.1:`port`. Without `pt`/`ssrc` on the payloader: the publisher rewrites both.
 */
export function gstVp8PipelineArgs(options: GstVp8PipelineOptions): string[] {
  return [
    '-q',
    'videotestsrc',
    'is-live=true',
    'pattern=ball',
    `num-buffers=${Math.ceil(options.fps * options.maxDurationSec)}`,
    '!',
    `video/x-raw,width=${options.width},height=${options.height},framerate=${options.fps}/1`,
    '!',
    'vp8enc',
    'deadline=1',
    `keyframe-max-dist=${options.keyframeMaxDist}`,
    `target-bitrate=${options.targetBitrateKbps * 1000}`,
    '!',
    'rtpvp8pay',
    `picture-id-mode=${options.pictureIdMode}`,
    `mtu=${options.mtu}`,
    '!',
    'udpsink',
    'host=127.0.0.1',
    `port=${options.port}`,
  ];
}

export interface GstVp8PublisherOptions extends Omit<NdcRtpPublisherOptions, 'name'> {
  /** Default 640x360 at 30 fps. */
  width?: number;
  height?: number;
  fps?: number;
  /**
   * Frames between keyframes. Default: one second's worth. PLIs and FIRs from the server are
   * counted but cannot be answered: a `gst-launch-1.0` pipeline takes no force-key-unit
   * request from outside (that needs an application holding the pipeline), so a short
   * keyframe interval is what lets a new viewer start quickly.
   */
  keyframeMaxDist?: number;
  /** Default 800. */
  targetBitrateKbps?: number;
  /** Default `none`, GStreamer's default and the case of the issue. */
  pictureIdMode?: Vp8PictureIdMode;
  /** Default `gst-launch-1.0` from PATH. */
  gstLaunchPath?: string;
  /** Default 3600 s. */
  maxDurationSec?: number;
}

export interface GstVp8PublisherStats extends NdcRtpPublisherStats {
  /** RTP packets that arrived from GStreamer (forwarded or dropped before the track opened). */
  packetsFromGstreamer: number;
  /** Forwarded packets whose VP8 payload descriptor carries a PictureID (X = 1 and I = 1). */
  packetsWithPictureId: number;
  /** Forwarded packets without a PictureID (X = 0, or X = 1 and I = 0). */
  packetsWithoutPictureId: number;
  /** Forwarded packets whose payload descriptor is truncated. */
  packetsWithBadDescriptor: number;
  /** Forwarded first packets of VP8 keyframes. */
  keyframesSent: number;
}

/** RTP packet size: what OBS uses too, well under any loopback or WAN MTU. */
const MTU = 1200;

export class GstVp8Publisher {
  readonly #publisher: NdcRtpPublisher;
  readonly #socket: dgram.Socket;
  readonly #logger: Logger;
  readonly #pictureIdMode: Vp8PictureIdMode;
  readonly #counts = {
    packetsFromGstreamer: 0,
    packetsWithPictureId: 0,
    packetsWithoutPictureId: 0,
    packetsWithBadDescriptor: 0,
    keyframesSent: 0,
  };
  #gst: MediaToolProcess | undefined;
  #closing: Promise<void> | undefined;
  #warnedPictureId = false;

  /** Negotiates (POST, answer), then starts GStreamer. Does not wait for ICE/DTLS. */
  static async start(options: GstVp8PublisherOptions): Promise<GstVp8Publisher> {
    const fps = options.fps ?? 30;
    const pipeline: Omit<GstVp8PipelineOptions, 'port'> = {
      width: options.width ?? 640,
      height: options.height ?? 360,
      fps,
      keyframeMaxDist: options.keyframeMaxDist ?? fps,
      targetBitrateKbps: options.targetBitrateKbps ?? 800,
      pictureIdMode: options.pictureIdMode ?? 'none',
      maxDurationSec: options.maxDurationSec ?? 3600,
      mtu: MTU,
    };
    for (const key of ['width', 'height', 'fps', 'keyframeMaxDist', 'targetBitrateKbps'] as const) {
      if (!Number.isInteger(pipeline[key]) || pipeline[key] <= 0) {
        throw new TypeError(`${key} must be a positive integer, got ${pipeline[key]}`);
      }
    }
    const socket = await bindUdp();
    let publisher: NdcRtpPublisher;
    try {
      publisher = await NdcRtpPublisher.start({ ...options, name: 'GstVp8Publisher' });
    } catch (error) {
      socket.close();
      throw error;
    }
    const peer = new GstVp8Publisher(publisher, socket, pipeline.pictureIdMode);
    peer.#startGstreamer(options.gstLaunchPath ?? 'gst-launch-1.0', {
      ...pipeline,
      port: socket.address().port,
    });
    return peer;
  }

  private constructor(
    publisher: NdcRtpPublisher,
    socket: dgram.Socket,
    pictureIdMode: Vp8PictureIdMode,
  ) {
    this.#publisher = publisher;
    this.#socket = socket;
    this.#pictureIdMode = pictureIdMode;
    this.#logger = createLogger('GstVp8Publisher', { whipUrl: publisher.location });
    socket.on('message', (packet) => this.#forward(packet));
  }

  get location(): string | undefined {
    return this.#publisher.location;
  }

  get offerSdp(): string {
    return this.#publisher.offerSdp;
  }

  get answerSdp(): string {
    return this.#publisher.answerSdp;
  }

  get connectionState(): string {
    return this.#publisher.connectionState;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** The last lines GStreamer wrote to stderr, for failure messages. */
  gstreamerStderr(): string {
    return this.#gst?.stderrTail() ?? '';
  }

  stats(): GstVp8PublisherStats {
    return { ...this.#publisher.stats(), ...this.#counts };
  }

  async waitConnected(timeoutMs = 10_000): Promise<void> {
    await this.#publisher.waitConnected(timeoutMs);
  }

  /** Stops GStreamer, closes the peer connection and DELETEs the session. Idempotent. */
  close(options: { sendDelete?: boolean } = {}): Promise<void> {
    this.#closing ??= this.#teardown(options.sendDelete ?? true);
    return this.#closing;
  }

  #startGstreamer(command: string, pipeline: GstVp8PipelineOptions): void {
    const gst = spawnMediaTool(command, gstVp8PipelineArgs(pipeline), this.#logger);
    this.#gst = gst;
    void gst.exited.then(({ code, signal }) => {
      if (!this.#closing) {
        this.#logger.warn(
          { code, signal, stderr: gst.stderrTail() },
          'gst-launch-1.0 exited while publishing',
        );
      }
    });
  }

  #forward(packet: Buffer): void {
    if (!isRtp(packet)) return;
    this.#counts.packetsFromGstreamer++;
    if (!this.#publisher.sendRtp(packet)) return;
    const payload = rtpPayload(packet);
    const descriptor = parseVp8PayloadDescriptor(payload);
    if (!descriptor) {
      this.#counts.packetsWithBadDescriptor++;
    } else if (descriptor.pictureId === undefined) {
      this.#counts.packetsWithoutPictureId++;
    } else {
      this.#counts.packetsWithPictureId++;
      if (this.#pictureIdMode === 'none' && !this.#warnedPictureId) {
        this.#warnedPictureId = true;
        this.#logger.warn('rtpvp8pay sent a PictureID although picture-id-mode=none');
      }
    }
    if (isVp8KeyframePayload(payload)) this.#counts.keyframesSent++;
  }

  async #teardown(sendDelete: boolean): Promise<void> {
    const errors: unknown[] = [];
    if (this.#gst) await stopMediaTool(this.#gst).catch((error: unknown) => errors.push(error));
    this.#socket.close();
    await this.#publisher.close({ sendDelete }).catch((error: unknown) => errors.push(error));
    if (errors.length > 0) throw errors[0];
  }
}
