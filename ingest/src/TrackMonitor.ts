/**
 * Watches one Producer of a live stream: counts its packets (from `getStats()`, polled) and
 * its keyframes (mediasoup's `keyframe` trace event), and decides whether viewers can get
 * its media (`trackState`). A video track that receives packets for longer than the grace
 * period without a single keyframe the SFU can parse is logged once as a warning and shown
 * as `no-keyframe` in the stream's status, instead of failing silently.
 */
import type { types as ms } from 'mediasoup';
import { createLogger, type Logger, type TrackMediaState, type TrackMediaView } from '@wisp/core';
import { DEFAULT_NO_KEYFRAME_AFTER_MS, detectsKeyframes, trackState } from './trackHealth.ts';

export interface TrackMonitorOptions {
  producer: ms.Producer;
  streamId: string;
  sessionId: string;
  /** The track's mid in the offer (the producer's `appData.mid`). */
  mid: string;
  /** Video without a keyframe for this long is `no-keyframe`. Default 5000 ms. */
  noKeyframeAfterMs?: number;
  /** How often the producer's counters are read. Default 1000 ms. */
  pollIntervalMs?: number;
}

export class TrackMonitor {
  readonly #producer: ms.Producer;
  readonly #mid: string;
  readonly #codec: string;
  readonly #detectsKeyframes: boolean;
  readonly #noKeyframeAfterMs: number;
  readonly #log: Logger;
  readonly #timer: NodeJS.Timeout;
  /** The RTP timestamp of the last keyframe per SSRC: a keyframe spans several packets. */
  readonly #lastKeyframeTimestamp = new Map<number, number>();
  #packetsReceived = 0;
  #bytesReceived = 0;
  #keyframesReceived = 0;
  #firstPacketAt: number | undefined;
  #warned = false;
  #polling = false;
  #closed = false;

  /** Subscribes to keyframe traces (video codecs with keyframes) before media can flow. */
  static async create(options: TrackMonitorOptions): Promise<TrackMonitor> {
    const { producer } = options;
    const codec = producer.rtpParameters.codecs[0]?.mimeType ?? 'unknown';
    const detects = detectsKeyframes(producer.kind, codec);
    if (detects) await producer.enableTraceEvent(['keyframe']);
    return new TrackMonitor(options, codec, detects);
  }

  private constructor(options: TrackMonitorOptions, codec: string, detects: boolean) {
    this.#producer = options.producer;
    this.#mid = options.mid;
    this.#codec = codec;
    this.#detectsKeyframes = detects;
    this.#noKeyframeAfterMs = options.noKeyframeAfterMs ?? DEFAULT_NO_KEYFRAME_AFTER_MS;
    this.#log = createLogger('TrackMonitor', {
      streamId: options.streamId,
      sessionId: options.sessionId,
      mid: options.mid,
      kind: options.producer.kind,
    });
    this.#producer.on('trace', this.#onTrace);
    this.#producer.observer.once('close', () => this.close());
    this.#timer = setInterval(() => void this.#poll(), options.pollIntervalMs ?? 1000);
    this.#timer.unref();
  }

  get state(): TrackMediaState {
    return trackState(
      {
        detectsKeyframes: this.#detectsKeyframes,
        packetsReceived: this.#packetsReceived,
        keyframesReceived: this.#keyframesReceived,
        firstPacketAt: this.#firstPacketAt,
      },
      performance.now(),
      this.#noKeyframeAfterMs,
    );
  }

  view(): TrackMediaView {
    return {
      kind: this.#producer.kind,
      mid: this.#mid,
      codec: this.#codec,
      state: this.state,
      packetsReceived: this.#packetsReceived,
      bytesReceived: this.#bytesReceived,
      keyframesReceived: this.#detectsKeyframes ? this.#keyframesReceived : null,
    };
  }

  /** Idempotent. Also happens when the producer closes. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#producer.off('trace', this.#onTrace);
  }

  readonly #onTrace = (trace: ms.ProducerTraceEventData): void => {
    if (trace.type !== 'keyframe') return;
    const packet = rtpPacketOf(trace.info);
    if (packet) {
      if (this.#lastKeyframeTimestamp.get(packet.ssrc) === packet.timestamp) return;
      this.#lastKeyframeTimestamp.set(packet.ssrc, packet.timestamp);
    }
    this.#keyframesReceived++;
    if (this.#warned && this.#keyframesReceived === 1) {
      this.#warned = false;
      this.#log.info({ codec: this.#codec }, 'first keyframe received: video reaches viewers now');
    }
  };

  async #poll(): Promise<void> {
    if (this.#closed || this.#polling) return;
    this.#polling = true;
    try {
      const stats = await this.#producer.getStats();
      if (this.#closed) return;
      let packets = 0;
      let bytes = 0;
      for (const stream of stats) {
        packets += stream.packetCount;
        bytes += stream.byteCount;
      }
      this.#packetsReceived = packets;
      this.#bytesReceived = bytes;
      if (packets > 0) this.#firstPacketAt ??= performance.now();
      if (!this.#warned && this.#keyframesReceived === 0 && this.state === 'no-keyframe') {
        this.#warned = true;
        this.#log.warn(
          {
            codec: this.#codec,
            packetsReceived: packets,
            bytesReceived: bytes,
            noKeyframeAfterMs: this.#noKeyframeAfterMs,
          },
          'video received without any keyframe the SFU can parse: viewers get no picture',
        );
      }
    } catch (error) {
      // The producer closed between two polls (its transport went away): nothing to report.
      if (!this.#producer.closed) this.#log.debug({ err: error }, 'reading producer stats failed');
    } finally {
      this.#polling = false;
    }
  }
}

/**
 * The SSRC and RTP timestamp of a keyframe trace: `info.rtpPacket` in mediasoup 3.27, `info`
 * itself in 3.8.
 */
function rtpPacketOf(info: unknown): { ssrc: number; timestamp: number } | undefined {
  const candidate =
    typeof info === 'object' && info !== null && 'rtpPacket' in info ? info.rtpPacket : info;
  if (typeof candidate !== 'object' || candidate === null) return undefined;
  const { ssrc, timestamp } = candidate as { ssrc?: unknown; timestamp?: unknown };
  return typeof ssrc === 'number' && typeof timestamp === 'number'
    ? { ssrc, timestamp }
    : undefined;
}
