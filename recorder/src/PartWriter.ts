/**
 * One part of a recording: the live tracks of one or more sources (a broadcast has one, a
 * composition several) consumed over mediasoup PlainTransports into one ffmpeg that writes
 * `p<N>.m3u8` with its init and segments in the recording's spool folder. A part ends when
 * its recording stops it (a source ended, the publisher was replaced, the layers changed, the
 * recording was finalized), or when ffmpeg exits on its own (reported with its stderr).
 *
 * mediasoup advises starting PlainTransport consumers paused until the receiver is ready,
 * because the first keyframe would otherwise be lost. Here consumers start at once into an
 * RtpRelay that keeps the packets until ffmpeg has bound its ports (so the broadcast's first
 * keyframe is kept, not only the next one); keyframes are requested every second until the
 * first segment exists, and (when H.264 is copied) every segment length after that, so
 * segments can be cut on time whatever the publisher's keyframe interval.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { types as ms } from 'mediasoup';
import { TypedEmitter, type Logger } from '@wisp/core';
import type { StreamLease, StreamTrack } from '@wisp/core/rtc';
import { canCopyVideo, recordArgs, type Layout, type RecordInput } from './ffmpeg/args.ts';
import { FfmpegProcess, type FfmpegExit } from './ffmpeg/FfmpegProcess.ts';
import { allocatePortPair } from './ffmpeg/ports.ts';
import { RtpRelay } from './ffmpeg/RtpRelay.ts';
import type { FfmpegBinaries } from './ffmpeg/resolve.ts';
import { ffmpegSdp, type SdpTrack } from './ffmpeg/sdp.ts';
import { parsePartPlaylist, type PartPlaylist } from './playlists.ts';

export interface PartWriterOptions {
  sources: readonly StreamLease[];
  layout: Layout;
  /** The recording's spool folder. */
  dir: string;
  part: number;
  segmentSeconds: number;
  ffmpeg: FfmpegBinaries;
  log: Logger;
}

export interface PartWriterEvents extends Record<string, unknown> {
  /** ffmpeg's playlist of this part changed (a new segment). */
  progress: PartPlaylist;
  /** The picture the part copies changed size or layer: a new part must begin. */
  restart: { reason: string };
  /** ffmpeg exited without being asked to. */
  failed: { exit: FfmpegExit };
}

interface Feed {
  transport: ms.PlainTransport;
  consumer: ms.Consumer;
  relay: RtpRelay;
  /** ffmpeg's RTP port (RTCP on the next). */
  port: number;
  codec: string;
  release(): void;
}

const EMPTY: PartPlaylist = { init: undefined, segments: [], ended: false };

export class PartWriter extends TypedEmitter<PartWriterEvents> {
  readonly part: number;
  readonly playlistFile: string;
  /** Whether the video is copied (H.264) rather than encoded. */
  readonly copy: boolean;
  readonly #options: PartWriterOptions;
  readonly #feeds: Feed[];
  readonly #ffmpeg: FfmpegProcess;
  #playlist: PartPlaylist = EMPTY;
  #text = '';
  #timers: NodeJS.Timeout[] = [];
  #stopping: Promise<PartPlaylist> | undefined;

  private constructor(
    options: PartWriterOptions,
    feeds: Feed[],
    ffmpeg: FfmpegProcess,
    copy: boolean,
  ) {
    super();
    this.#options = options;
    this.part = options.part;
    this.playlistFile = path.join(options.dir, `p${options.part}.m3u8`);
    this.#feeds = feeds;
    this.#ffmpeg = ffmpeg;
    this.copy = copy;
  }

  /** Sets up the consumers and ffmpeg; resolves once media flows to ffmpeg. */
  static async start(options: PartWriterOptions): Promise<PartWriter> {
    const feeds: Feed[] = [];
    let ffmpeg: FfmpegProcess | undefined;
    try {
      const inputs: RecordInput[] = [];
      for (const [index, lease] of options.sources.entries()) {
        const video = lease.tracks.find((t) => t.kind === 'video');
        const audio = lease.tracks.find((t) => t.kind === 'audio');
        const sdpTracks: SdpTrack[] = [];
        for (const track of [video, audio]) {
          if (!track) continue;
          const feed = await createFeed(lease.router, track);
          feeds.push(feed);
          const { port } = feed;
          sdpTracks.push({ kind: track.kind, rtpParameters: feed.consumer.rtpParameters, port });
        }
        const sdp = path.join(options.dir, `p${options.part}-${index}.sdp`);
        await writeFile(sdp, ffmpegSdp(sdpTracks));
        inputs.push({
          sdp,
          ...(video ? { video: video.codec.mimeType.split('/')[1] } : {}),
          audio: audio !== undefined,
        });
      }
      if (inputs.every((i) => !i.video && !i.audio)) throw new Error('the stream has no tracks');
      const copy = inputs.length === 1 && canCopyVideo(inputs[0].video);
      const args = recordArgs({
        inputs,
        layout: options.layout,
        segmentSeconds: options.segmentSeconds,
        dir: options.dir,
        part: options.part,
      });
      options.log.debug({ args }, 'starting ffmpeg');
      ffmpeg = new FfmpegProcess(options.ffmpeg.ffmpeg, args, options.log);
      if (ffmpeg.pid) {
        await writeFile(path.join(options.dir, `p${options.part}.pid`), String(ffmpeg.pid));
      }
      // ffmpeg opens its inputs one after the other and probes each before opening the
      // next: each relay starts as soon as its own ports are bound.
      const process = ffmpeg;
      await Promise.all(
        feeds.map(async (feed) => {
          await process.waitForUdpPorts([feed.port, feed.port + 1]);
          feed.relay.start({ rtp: feed.port, rtcp: feed.port + 1 });
        }),
      );
      const writer = new PartWriter(options, feeds, ffmpeg, copy);
      writer.#begin();
      return writer;
    } catch (error) {
      ffmpeg?.kill();
      for (const feed of feeds) closeFeed(feed);
      throw error;
    }
  }

  get playlist(): PartPlaylist {
    return this.#playlist;
  }

  get pid(): number | undefined {
    return this.#ffmpeg.pid;
  }

  /** ffmpeg's last stderr lines. */
  get stderr(): string {
    return this.#ffmpeg.stderr;
  }

  /**
   * Ends the part: ffmpeg finishes its last segment and writes ENDLIST. Resolves with the
   * part's final playlist. Idempotent.
   */
  stop(): Promise<PartPlaylist> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /** Kills ffmpeg without letting it finish (tests: what a crash leaves). */
  kill(): void {
    this.#ffmpeg.kill();
  }

  #begin(): void {
    const { segmentSeconds, log } = this.#options;
    const videos = this.#feeds.filter((f) => f.consumer.kind === 'video');
    const requestKeyFrames = () => {
      for (const feed of videos) void feed.consumer.requestKeyFrame().catch(() => undefined);
    };
    requestKeyFrames();
    // Until the first segment: every second (a request can be lost or ignored).
    const startup = setInterval(() => {
      if (this.#playlist.segments.length > 0) clearInterval(startup);
      else requestKeyFrames();
    }, 1000);
    this.#timers.push(startup);
    if (this.copy) {
      this.#timers.push(setInterval(requestKeyFrames, segmentSeconds * 1000));
      for (const feed of videos) {
        let first = true;
        feed.consumer.on('layerschange', (layers) => {
          // The first report is the consumer settling on a layer; later ones change the
          // picture size inside a copied stream, which one fMP4 init cannot describe.
          if (first) {
            first = false;
            return;
          }
          if (this.#playlist.segments.length > 0) {
            this.emit('restart', { reason: `layers changed to ${JSON.stringify(layers)}` });
          }
        });
      }
    }
    this.#timers.push(setInterval(() => void this.#poll(), 250));
    void this.#ffmpeg.exited.then((exit) => {
      if (exit.requested) return;
      log.error({ code: exit.code, signal: exit.signal, stderr: exit.stderr }, 'ffmpeg exited');
      this.emit('failed', { exit });
    });
  }

  async #poll(): Promise<void> {
    const text = await readFile(this.playlistFile, 'utf8').catch(() => '');
    if (text === '' || text === this.#text) return;
    this.#text = text;
    try {
      this.#playlist = parsePartPlaylist(text);
    } catch (error) {
      this.#options.log.warn({ err: error }, 'could not parse the part playlist');
      return;
    }
    this.emit('progress', this.#playlist);
  }

  async #stop(): Promise<PartPlaylist> {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    const exit = await this.#ffmpeg.stop({
      wake: () => {
        // One packet on one input is enough for ffmpeg to see the signal; audio first.
        const feeds = [...this.#feeds].sort((a, b) =>
          a.consumer.kind === b.consumer.kind ? 0 : a.consumer.kind === 'audio' ? -1 : 1,
        );
        feeds.find((feed) => feed.relay.wake(feed.codec));
      },
    });
    if (exit.code !== 0 && exit.code !== 255 && !exit.signal) {
      this.#options.log.warn({ code: exit.code, stderr: exit.stderr }, 'ffmpeg ended badly');
    }
    for (const feed of this.#feeds) closeFeed(feed);
    this.#text = '';
    await this.#poll();
    await rm(path.join(this.#options.dir, `p${this.part}.pid`), { force: true });
    this.removeAllListeners();
    return this.#playlist;
  }
}

/**
 * A PlainTransport into a relay towards ffmpeg's port pair, and a consumer of `track` on it.
 * The consumer starts at once (the relay holds its packets until ffmpeg listens), so the
 * first keyframe is not lost while ffmpeg starts.
 */
async function createFeed(router: ms.Router, track: StreamTrack): Promise<Feed> {
  const ports = await allocatePortPair();
  let relay: RtpRelay | undefined;
  let transport: ms.PlainTransport | undefined;
  try {
    relay = await RtpRelay.open();
    transport = await router.createPlainTransport({
      listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
      rtcpMux: false,
      comedia: false,
    });
    await transport.connect({ ip: '127.0.0.1', port: relay.ports.rtp, rtcpPort: relay.ports.rtcp });
    relay.setSource(transport.rtcpTuple!.localPort);
    const consumer = await transport.consume({
      producerId: track.id,
      rtpCapabilities: {
        // No RTX: ffmpeg cannot use it; it asks for losses with NACK and gets them resent
        // in the media stream.
        codecs: (router.rtpCapabilities.codecs ?? []).filter((c) => !/\/rtx$/i.test(c.mimeType)),
        headerExtensions: [],
      },
    });
    return {
      transport,
      consumer,
      relay,
      port: ports.rtp,
      codec: track.codec.mimeType,
      release: () => ports.release(),
    };
  } catch (error) {
    transport?.close();
    relay?.close();
    ports.release();
    throw error;
  }
}

function closeFeed(feed: Feed): void {
  feed.transport.close();
  feed.relay.close();
  feed.release();
}
