/**
 * A swarm of WHEP viewers against one stream, each a real WebRTC peer with ICE, DTLS and SRTP:
 * cheap receive-only `ndc` viewers (libdatachannel) for the bulk, decoding `wrtc` viewers
 * (libwebrtc) where frames must really come out. Joins are paced (`rampPerSecond`) and capped
 * in flight; every viewer is sampled once per interval for its bitrate, and a progress line
 * goes to `onProgress`. Everything is bounded: joins by their timeouts, the swarm by
 * `maxDurationMs`.
 */
import { setMaxListeners } from 'node:events';
import { createLogger, type Logger } from '@wisp/core';
import { lossPercent } from './sequenceLoss.ts';
import { distribution, percentile } from './stats.ts';
import { SwarmViewer } from './SwarmViewer.ts';
import { formatProgressLine } from './swarmFormat.ts';
import {
  assertCount,
  resolveSwarmOptions,
  viewerKindAt,
  type ResolvedSwarmOptions,
} from './swarmOptions.ts';
import type {
  SwarmCounts,
  SwarmOptions,
  SwarmProgress,
  SwarmSnapshot,
  SwarmSummary,
  SwarmViewerKind,
  SwarmViewerStats,
} from './types.ts';

/** What the sampler remembers of one viewer. */
interface SampleState {
  at: number;
  packets: number;
  bytes: number;
  packetsLost: number | undefined;
  bitrateKbps: number | undefined;
  receiving: boolean;
  /** The first sample that saw packets: the base of the average bitrate and of `ndc` loss. */
  first: { at: number; packets: number; bytes: number; expected: number | undefined } | undefined;
}

export class Swarm {
  readonly #options: ResolvedSwarmOptions;
  readonly #logger: Logger;
  readonly #startedAt = performance.now();
  readonly #abort = new AbortController();
  /** Viewers whose join has finished (connected or failed), in the order they finished. */
  readonly #viewers: SwarmViewer[] = [];
  readonly #joins = new Set<Promise<void>>();
  readonly #samples = new Map<number, SampleState>();
  #target = 0;
  #started = 0;
  #ramp: Promise<void> = Promise.resolve();
  #sampleTimer: NodeJS.Timeout | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;
  #sampling = false;
  #closing: Promise<void> | undefined;

  /** Starts the swarm and resolves once the ramp to `viewers` has settled (or it closed). */
  static async start(options: SwarmOptions): Promise<Swarm> {
    const swarm = new Swarm(options);
    swarm.#startTimers();
    try {
      await swarm.rampTo(options.viewers);
    } catch (error) {
      await swarm.close();
      throw error;
    }
    return swarm;
  }

  private constructor(options: SwarmOptions) {
    this.#options = resolveSwarmOptions(options);
    this.#logger = createLogger('Swarm', { whepUrl: options.whepUrl });
    // Every join in flight and the ramp's pause listen on the abort signal; Node warns from
    // 11 listeners on, which is expected here rather than a leak.
    setMaxListeners(this.#options.maxConcurrentJoins + 4, this.#abort.signal);
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Milliseconds since `start()`. */
  get elapsedMs(): number {
    return performance.now() - this.#startedAt;
  }

  /**
   * Adds viewers until `total` joins have been started, at the ramp rate, and resolves once
   * every join has settled. Calls are serialized; a `total` below the current count does
   * nothing (viewers are never removed one by one).
   */
  rampTo(total: number): Promise<void> {
    assertCount('total', total, 0);
    const ramp = this.#ramp.then(() => this.#rampTo(total));
    this.#ramp = ramp.catch(() => undefined);
    return ramp;
  }

  counts(): SwarmCounts {
    const counts: SwarmCounts = {
      target: this.#target,
      started: this.#started,
      joining: this.#joins.size,
      connected: 0,
      disconnected: 0,
      failed: 0,
      closed: 0,
      receiving: 0,
    };
    for (const viewer of this.#viewers) {
      const state = viewer.state;
      if (state !== 'joining') counts[state]++;
      if (state === 'connected' && this.#samples.get(viewer.index)?.receiving) counts.receiving++;
    }
    return counts;
  }

  /** Per-viewer stats as of the last sample (timings are live). */
  viewerStats(): SwarmViewerStats[] {
    return this.#rows().map((row) => row.stats);
  }

  summary(): SwarmSummary {
    const rows = this.#rows();
    const stats = rows.map((row) => row.stats);
    const connected = stats.filter((s) => s.state === 'connected');
    const errors: Record<string, number> = {};
    for (const s of stats) if (s.error) errors[s.error] = (errors[s.error] ?? 0) + 1;
    const byKind: Record<SwarmViewerKind, number> = { ndc: 0, wrtc: 0 };
    for (const s of stats) byKind[s.kind]++;
    let lost = 0;
    let expected = 0;
    for (const row of rows) {
      if (row.stats.packetsLost === undefined) continue;
      lost += row.stats.packetsLost;
      expected += row.expected;
    }
    return {
      elapsedMs: this.elapsedMs,
      counts: this.counts(),
      byKind,
      postMs: distribution(stats.map((s) => s.postMs)),
      connectMs: distribution(stats.map((s) => s.connectMs)),
      firstPacketMs: distribution(stats.map((s) => s.firstPacketMs)),
      firstFrameMs: distribution(stats.map((s) => s.firstFrameMs)),
      bitrateKbps: distribution(connected.map((s) => s.bitrateKbps)),
      averageKbps: distribution(connected.map((s) => s.averageKbps)),
      lossPct: distribution(stats.map((s) => s.lossPct)),
      totalLossPct: lossPercent(lost, expected),
      errors,
    };
  }

  /**
   * Cumulative counters of every joined viewer, read in one go: for `ndc` viewers in the same
   * tick, so a caller can read its source's counters right before and diff two snapshots.
   */
  async snapshot(): Promise<SwarmSnapshot> {
    const at = performance.now();
    const viewers = await Promise.all(
      this.#viewers.map(async (viewer) => {
        const counters = await viewer.counters();
        return { index: viewer.index, kind: viewer.kind, state: viewer.state, ...counters };
      }),
    );
    return { at, viewers };
  }

  /** Closes every viewer (DELETE, then the peer) and stops the timers. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#teardown();
    return this.#closing;
  }

  #startTimers(): void {
    const { sampleIntervalMs, maxDurationMs, signal } = this.#options;
    this.#sampleTimer = setInterval(() => {
      void this.#sample();
    }, sampleIntervalMs);
    this.#expiryTimer = setTimeout(() => {
      this.#logger.warn({ maxDurationMs }, 'swarm reached its maximum duration; closing');
      void this.close();
    }, maxDurationMs);
    // The peers keep the process alive while the swarm runs; the timers need not.
    this.#sampleTimer.unref();
    this.#expiryTimer.unref();
    if (signal) {
      if (signal.aborted) void this.close();
      else signal.addEventListener('abort', () => void this.close(), { once: true });
    }
  }

  async #rampTo(total: number): Promise<void> {
    this.#target = Math.max(this.#target, total);
    const intervalMs = 1000 / this.#options.rampPerSecond;
    let next = performance.now();
    while (this.#started < total && !this.closed) {
      const waitMs = next - performance.now();
      if (waitMs > 0) await this.#sleep(waitMs);
      while (this.#joins.size >= this.#options.maxConcurrentJoins && !this.closed) {
        await Promise.race(this.#joins);
      }
      if (this.closed) break;
      this.#startJoin(this.#started++);
      // Never a burst to catch up: a slow server lowers the join rate instead.
      next = Math.max(next + intervalMs, performance.now());
    }
    await Promise.all(this.#joins);
  }

  #startJoin(index: number): void {
    const kind = viewerKindAt(index, this.#options.kind, this.#options.wrtcShare);
    const join = SwarmViewer.join({
      index,
      kind,
      whepUrl: this.#options.whepUrl,
      token: this.#options.token,
      connectTimeoutMs: this.#options.connectTimeoutMs,
      httpTimeoutMs: this.#options.httpTimeoutMs,
      ndcVideoCodecs: this.#options.ndcVideoCodecs,
      logger: this.#logger,
      signal: this.#abort.signal,
    })
      .then(async (viewer) => {
        this.#viewers.push(viewer);
        if (viewer.error) this.#logger.debug({ index, error: viewer.error }, 'join failed');
        // A join that finished while the swarm was closing is closed here.
        if (this.closed) await viewer.close();
      })
      .catch((error: unknown) => {
        this.#logger.warn({ err: error, index }, 'join bookkeeping failed');
      })
      .finally(() => {
        this.#joins.delete(join);
      });
    this.#joins.add(join);
  }

  async #sample(): Promise<void> {
    if (this.#sampling || this.closed) return;
    this.#sampling = true;
    try {
      const expected = this.#options.expectedPackets?.();
      const snapshot = await this.snapshot();
      for (const viewer of snapshot.viewers) {
        const previous = this.#samples.get(viewer.index);
        const bitrateKbps =
          previous && snapshot.at > previous.at
            ? ((viewer.bytes - previous.bytes) * 8) / (snapshot.at - previous.at)
            : undefined;
        this.#samples.set(viewer.index, {
          at: snapshot.at,
          packets: viewer.packets,
          bytes: viewer.bytes,
          packetsLost: viewer.packetsLost,
          bitrateKbps,
          receiving: previous !== undefined && viewer.packets > previous.packets,
          first:
            previous?.first ??
            (viewer.packets > 0
              ? { at: snapshot.at, packets: viewer.packets, bytes: viewer.bytes, expected }
              : undefined),
        });
      }
      this.#reportProgress();
    } catch (error) {
      this.#logger.warn({ err: error }, 'sampling the viewers failed');
    } finally {
      this.#sampling = false;
    }
  }

  #reportProgress(): void {
    const onProgress = this.#options.onProgress;
    if (!onProgress) return;
    const counts = this.counts();
    const kbps: number[] = [];
    for (const viewer of this.#viewers) {
      const rate = this.#samples.get(viewer.index)?.bitrateKbps;
      if (viewer.state === 'connected' && rate !== undefined) kbps.push(rate);
    }
    const totalLossPct = this.summary().totalLossPct;
    const progress: Omit<SwarmProgress, 'line'> = {
      elapsedMs: this.elapsedMs,
      counts,
      medianKbps: percentile(kbps, 50),
      minKbps: kbps.length > 0 ? Math.min(...kbps) : undefined,
      totalLossPct,
    };
    try {
      onProgress({ ...progress, line: formatProgressLine(progress) });
    } catch (error) {
      this.#logger.warn({ err: error }, 'onProgress listener threw');
    }
  }

  /** Stats of every joined viewer, with the packets it should have had (the loss base). */
  #rows(): { stats: SwarmViewerStats; expected: number }[] {
    const expectedNow = this.#options.expectedPackets?.();
    return this.#viewers.map((viewer) => {
      const sample = this.#samples.get(viewer.index);
      const first = sample?.first;
      const lost = this.#lostOf(viewer.kind, sample, expectedNow);
      // Sequence-gap loss (every wrtc viewer, ndc viewers with sequence tracking) counts from
      // the first packet; the source comparison (ndc otherwise) from the first sample.
      const received =
        viewer.kind === 'wrtc' || sample?.packetsLost !== undefined
          ? (sample?.packets ?? 0)
          : sample && first
            ? sample.packets - first.packets
            : 0;
      const expected = lost === undefined ? 0 : received + lost;
      const stats: SwarmViewerStats = {
        index: viewer.index,
        kind: viewer.kind,
        state: viewer.state,
        error: viewer.error,
        joinStartedAtMs: viewer.joinStartedAt - this.#startedAt,
        postMs: viewer.postMs,
        connectMs: viewer.connectMs,
        firstPacketMs: viewer.firstPacketMs,
        firstFrameMs: viewer.firstFrameMs,
        packets: sample?.packets ?? 0,
        bytes: sample?.bytes ?? 0,
        packetsLost: lost,
        lossPct: lost === undefined ? undefined : lossPercent(lost, expected),
        bitrateKbps: sample?.bitrateKbps,
        averageKbps:
          sample && first && sample.at > first.at
            ? ((sample.bytes - first.bytes) * 8) / (sample.at - first.at)
            : undefined,
      };
      return { stats, expected };
    });
  }

  /** Loss of one viewer: libwebrtc's count, or (ndc) the source's packets it did not get. */
  #lostOf(
    kind: SwarmViewerKind,
    sample: SampleState | undefined,
    expectedNow: number | undefined,
  ): number | undefined {
    if (kind === 'wrtc' || sample?.packetsLost !== undefined) return sample?.packetsLost;
    const base = sample?.first;
    if (!sample || !base || base.expected === undefined || expectedNow === undefined) {
      return undefined;
    }
    return Math.max(0, expectedNow - base.expected - (sample.packets - base.packets));
  }

  async #sleep(ms: number): Promise<void> {
    if (this.closed) return;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    await new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      onAbort = resolve;
      this.#abort.signal.addEventListener('abort', onAbort, { once: true });
    });
    clearTimeout(timer);
    if (onAbort) this.#abort.signal.removeEventListener('abort', onAbort);
  }

  async #teardown(): Promise<void> {
    this.#abort.abort();
    clearInterval(this.#sampleTimer);
    clearTimeout(this.#expiryTimer);
    // Joins in flight see the abort and release what they hold; then every viewer closes,
    // a bounded number at a time so 300 DELETEs do not land at once.
    await Promise.allSettled(this.#joins);
    const viewers = [...this.#viewers];
    const errors: unknown[] = [];
    for (let i = 0; i < viewers.length; i += 16) {
      const results = await Promise.allSettled(viewers.slice(i, i + 16).map((v) => v.close()));
      for (const result of results) if (result.status === 'rejected') errors.push(result.reason);
    }
    if (errors.length > 0) {
      this.#logger.warn({ err: errors[0], failures: errors.length }, 'closing viewers failed');
    }
    this.#logger.debug({ viewers: viewers.length }, 'swarm closed');
  }
}
