/**
 * The latency probe: a WrtcPublisher stamps every raw frame with its capture time, a
 * WrtcViewer reads the stamp back from every decoded frame, and the difference is the
 * glass-to-glass latency of that frame. Publisher and viewer live in this process, so both
 * ends read the same clock (`performance.now()`) and no clock synchronisation is involved.
 */
import { withTimeout } from '../peers/timing.ts';
import { WrtcPublisher, type WrtcVideoCodec } from '../peers/WrtcPublisher.ts';
import { WrtcViewer } from '../peers/WrtcViewer.ts';
import type { I420Frame } from '../peers/wrtc.ts';
import { directSignals } from './directSignals.ts';
import { startInProcessPlatform, type LatencyPlatform, type PlatformStarter } from './platform.ts';
import { drawStamp, readStamp, stampAgeMs, stampValueFromMs, type StampReading } from './stamp.ts';
import { summarize, type LatencySummary } from './stats.ts';

/**
 * `p2p`: publisher straight to viewer, no server (the floor). `ingest`: one SFU hop, the
 * viewer served from the ingest router (`EDGE_SERVE_FROM_SOURCE=true`). `edge`: two SFU hops,
 * the stream piped from the ingest router to a fan-out router on another worker, as an edge.
 */
export type LatencyPath = 'p2p' | 'ingest' | 'edge';

export const LATENCY_PATHS: readonly LatencyPath[] = ['p2p', 'ingest', 'edge'];

export interface MeasureLatencyOptions {
  path: LatencyPath;
  /** How long latencies are collected, after the warm-up. */
  durationMs: number;
  /**
   * Frames decoded in this time after the first one are not counted. Default 4000 ms: on
   * loopback libwebrtc's receiver starts near 20 ms and settles about 20 ms higher within 3 to
   * 4 s, as its playout delay grows towards its target (jitter, decode time, render delay).
   */
  warmupMs?: number;
  /** Picture and rate of the publisher. Default 640x360 at 30 fps. */
  width?: number;
  height?: number;
  fps?: number;
  /** Default VP8. */
  videoCodec?: WrtcVideoCodec;
  /**
   * Send and receive audio too. Default false: with audio the receiver delays video to line
   * it up with audio playout (lip sync), which would measure the audio path as well.
   */
  audio?: boolean;
  /** Starts the platform of the server paths. Default: the in-process test platform. */
  startPlatform?: PlatformStarter;
  /** Mediasoup workers of the started platform. Default 2 (so `edge` can cross workers). */
  workers?: number;
  /** Bound on signalling, connecting and the first decoded frame, each. Default 15000 ms. */
  connectTimeoutMs?: number;
  /** One line per phase. */
  progress?: (message: string) => void;
}

export interface LatencyMeasurement {
  path: LatencyPath;
  /** Latency of every frame with a readable stamp, in ms, in arrival order. */
  samples: number[];
  /** When each sample's frame arrived, in ms since the window opened. */
  sampleTimes: number[];
  summary: LatencySummary;
  /** Frames decoded in the measurement window, and how many of them had a readable stamp. */
  framesDecoded: number;
  stampsRead: number;
  /** `stampsRead / framesDecoded` (NaN when nothing was decoded). */
  decodedRatio: number;
  /** Frames the publisher handed to its encoder in the window. */
  framesSent: number;
  /** Frames whose stamp could not be read, by reason. */
  unreadable: Record<string, number>;
  /** Decoded picture sizes seen in the window (`640x360` -> frames). */
  sizes: Record<string, number>;
  /** The smallest read margin of any accepted stamp (0.5 is a perfect picture). */
  minMargin: number;
  /** Length of the measurement window. */
  windowMs: number;
  /** What the path really went through, e.g. routers per worker. */
  topology: string;
}

/** A stamp that decodes to a latency outside this range is counted as unreadable. */
const MAX_PLAUSIBLE_MS = 10_000;

/** Collects per-frame latencies while its window is open. */
class LatencyCollector {
  readonly samples: number[] = [];
  readonly sampleTimes: number[] = [];
  readonly unreadable: Record<string, number> = {};
  readonly sizes: Record<string, number> = {};
  framesDecoded = 0;
  minMargin = 0.5;
  firstFrameAt: number | undefined;
  #open = false;
  #openedAt = 0;

  /** Starts counting frames; returns when. */
  open(): number {
    this.#openedAt = performance.now();
    this.#open = true;
    return this.#openedAt;
  }

  close(): void {
    this.#open = false;
  }

  readonly onFrame = (frame: I420Frame, receivedAt: number): void => {
    this.firstFrameAt ??= receivedAt;
    if (!this.#open) return;
    this.framesDecoded++;
    const size = `${frame.width}x${frame.height}`;
    this.sizes[size] = (this.sizes[size] ?? 0) + 1;
    const reading: StampReading = readStamp(frame);
    if (!reading.ok) {
      this.unreadable[reading.reason] = (this.unreadable[reading.reason] ?? 0) + 1;
      return;
    }
    const latency = stampAgeMs(reading.value, receivedAt);
    if (latency > MAX_PLAUSIBLE_MS) {
      this.unreadable.implausible = (this.unreadable.implausible ?? 0) + 1;
      return;
    }
    this.samples.push(latency);
    this.sampleTimes.push(receivedAt - this.#openedAt);
    this.minMargin = Math.min(this.minMargin, reading.margin);
  };
}

/** Stamps the capture time into each raw frame just before it goes to the encoder. */
function stampFrame(_frameIndex: number, frame: I420Frame): void {
  drawStamp(frame, stampValueFromMs(performance.now()));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface Peers {
  publisher: WrtcPublisher;
  viewer: WrtcViewer;
}

/** Starts both direct peers at once (each one's signal waits for the other's offer). */
async function startDirect(
  publisherOptions: Parameters<typeof WrtcPublisher.start>[0],
  viewerOptions: Parameters<typeof WrtcViewer.start>[0],
  timeoutMs: number,
): Promise<Peers> {
  const signals = directSignals(timeoutMs);
  const [publisher, viewer] = await Promise.allSettled([
    WrtcPublisher.start({ ...publisherOptions, signal: signals.publisherSignal }),
    WrtcViewer.start({ ...viewerOptions, signal: signals.viewerSignal }),
  ]);
  if (publisher.status === 'fulfilled' && viewer.status === 'fulfilled') {
    return { publisher: publisher.value, viewer: viewer.value };
  }
  if (publisher.status === 'fulfilled') await publisher.value.close();
  if (viewer.status === 'fulfilled') await viewer.value.close();
  throw publisher.status === 'rejected'
    ? publisher.reason
    : (viewer as PromiseRejectedResult).reason;
}

/** Describes the routers a server path used, from the routers each worker holds. */
function describeRouters(routers: number[]): string {
  const total = routers.reduce((sum, n) => sum + n, 0);
  const busy = routers.filter((n) => n > 0).length;
  return `${total} router(s) on ${busy} of ${routers.length} mediasoup worker(s) [${routers.join(', ')}]`;
}

/**
 * Measures the glass-to-glass latency of one path: connects a stamping publisher and a
 * reading viewer, waits for the first decoded frame, skips the warm-up, then collects for
 * `durationMs`. Everything it starts is closed before it returns or throws.
 */
export async function measureLatency(options: MeasureLatencyOptions): Promise<LatencyMeasurement> {
  const { path, durationMs } = options;
  const warmupMs = options.warmupMs ?? 4000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 15_000;
  const progress = options.progress ?? (() => undefined);
  if (!LATENCY_PATHS.includes(path)) {
    throw new TypeError(`path must be one of ${LATENCY_PATHS.join(', ')}, got ${String(path)}`);
  }
  if (!(durationMs > 0) || !(warmupMs >= 0)) {
    throw new TypeError(`durationMs must be positive and warmupMs not negative`);
  }
  const collector = new LatencyCollector();
  const publisherOptions = {
    audio: options.audio ?? false,
    width: options.width ?? 640,
    height: options.height ?? 360,
    fps: options.fps ?? 30,
    videoCodec: options.videoCodec ?? 'VP8',
    onFrame: stampFrame,
    httpTimeoutMs: connectTimeoutMs,
  };
  const viewerOptions = {
    audio: options.audio ?? false,
    onFrame: collector.onFrame,
    httpTimeoutMs: connectTimeoutMs,
  };

  let platform: LatencyPlatform | undefined;
  let publisher: WrtcPublisher | undefined;
  let viewer: WrtcViewer | undefined;
  let failure: unknown;
  try {
    let topology = 'direct: publisher and viewer connected to each other, no server';
    if (path === 'p2p') {
      progress(`${path}: connecting the publisher straight to the viewer`);
      ({ publisher, viewer } = await startDirect(
        publisherOptions,
        viewerOptions,
        connectTimeoutMs,
      ));
    } else {
      progress(`${path}: starting a platform`);
      platform = await (options.startPlatform ?? startInProcessPlatform)({
        EDGE_SERVE_FROM_SOURCE: path === 'ingest' ? 'true' : 'false',
        MEDIASOUP_WORKERS: String(options.workers ?? 2),
      });
      const stream = await platform.createStream(`latency probe (${path})`);
      publisher = await WrtcPublisher.start({
        ...publisherOptions,
        whipUrl: stream.whipUrl,
        streamKey: stream.streamKey,
      });
      await publisher.waitConnected(connectTimeoutMs);
      viewer = await WrtcViewer.start({ ...viewerOptions, whepUrl: stream.whepUrl });
    }
    await viewer.waitConnected(connectTimeoutMs);
    await viewer.waitForFrames(1, connectTimeoutMs);
    if (platform?.routersPerWorker) topology = describeRouters(await platform.routersPerWorker());

    progress(`${path}: warming up for ${warmupMs} ms, then measuring ${durationMs} ms`);
    await sleep(Math.max(0, collector.firstFrameAt! + warmupMs - performance.now()));
    const sentBefore = publisher.framesSent;
    const openedAt = collector.open();
    await sleep(durationMs);
    collector.close();
    const windowMs = performance.now() - openedAt;
    const framesSent = publisher.framesSent - sentBefore;

    const stampsRead = collector.samples.length;
    const result: LatencyMeasurement = {
      path,
      samples: collector.samples,
      sampleTimes: collector.sampleTimes,
      summary: summarize(collector.samples),
      framesDecoded: collector.framesDecoded,
      stampsRead,
      decodedRatio:
        collector.framesDecoded === 0 ? Number.NaN : stampsRead / collector.framesDecoded,
      framesSent,
      unreadable: collector.unreadable,
      sizes: collector.sizes,
      minMargin: collector.minMargin,
      windowMs,
      topology,
    };
    progress(
      `${path}: p50 ${result.summary.p50.toFixed(1)} ms, p95 ` +
        `${result.summary.p95.toFixed(1)} ms over ${stampsRead}/${collector.framesDecoded} frames`,
    );
    return result;
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    collector.close();
    // Peers close best-effort; a platform that cannot stop is an error of its own, unless the
    // measurement already failed (then the first error is the one worth reporting).
    await viewer?.close().catch(() => undefined);
    await publisher?.close().catch(() => undefined);
    if (platform) {
      await withTimeout(platform.stop(), 30_000, 'the platform to stop').catch((error: unknown) => {
        if (failure === undefined) throw error;
      });
    }
  }
}
