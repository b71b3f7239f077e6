/**
 * Time to first frame of a WHEP viewer: sequential joins against a live stream, each timed
 * from the start of its WHEP POST to the first DECODED video frame (a libwebrtc viewer), then
 * the same joins with the cheap libdatachannel viewer timed to the first video RTP packet, so
 * the decoder's share shows. Each join closes (DELETE, then the peer) before the next starts.
 */
import { createLogger, type Logger } from '@wisp/core';
import {
  startLocalPlatform as startPlatform,
  type LocalPlatform as TestPlatform,
} from '@wisp/server';
import type { BenchContext, Metric, Scenario, ScenarioResult, Table } from '../bench/types.ts';
import { SignalingError } from '../peers/errors.ts';
import { NdcViewer } from '../peers/NdcViewer.ts';
import { sleep, waitUntil } from '../peers/timing.ts';
import { deleteSessionQuietly, postSdp } from '../peers/whipClient.ts';
import { WrtcPublisher } from '../peers/WrtcPublisher.ts';
import { WrtcViewer } from '../peers/WrtcViewer.ts';
import { closeInOrder } from './closeInOrder.ts';
import { distribution, round, type Distribution } from './stats.ts';

export interface TtffPlan {
  /** Decoding (libwebrtc) joins. */
  joins: number;
  /** Packet-counting (libdatachannel) joins, for comparison. */
  ndcJoins: number;
  /**
   * Pause between joins. Over 300 ms, so a join's keyframe request is not the one libwebrtc's
   * publisher ignores (it makes at most one keyframe per 300 ms, `kMinKeyframeSendIntervalMs`
   * in encoder_rtcp_feedback.cc) and mediasoup re-asks only after 1000 ms.
   */
  pauseMs: number;
  /** Per join: POST to first frame or packet. */
  timeoutMs: number;
}

export function ttffPlan(size: BenchContext['size']): TtffPlan {
  return size === 'smoke'
    ? { joins: 5, ndcJoins: 5, pauseMs: 1000, timeoutMs: 10_000 }
    : { joins: 20, ndcJoins: 20, pauseMs: 1000, timeoutMs: 10_000 };
}

/** One join's timeline, ms. `firstMs` is POST start to first decoded frame (or packet). */
export interface JoinTiming {
  kind: 'wrtc' | 'ndc';
  /** Offer creation and ICE gathering, before the POST. */
  beforePostMs: number;
  /** The WHEP POST round trip. */
  postMs: number;
  /** POST start to ICE+DTLS connected. */
  connectMs: number | undefined;
  /** POST start to the first decoded frame (wrtc) or first video RTP packet (ndc). */
  firstMs: number;
  /** ndc only: POST start to the first packet of a keyframe. */
  firstKeyframeMs: number | undefined;
  /** PLIs + FIRs the SFU sent the publisher during the join, when the scenario can see them. */
  keyframeRequests?: number | undefined;
}

/** The benchmark: the plan of `context.size`, run once. */
export const runTtffScenario: Scenario = (context) => runTtff(context, ttffPlan(context.size));

export async function runTtff(context: BenchContext, plan: TtffPlan): Promise<ScenarioResult> {
  const logger = createLogger('ttff');
  let platform: TestPlatform | undefined;
  let publisher: WrtcPublisher | undefined;
  try {
    platform = await startPlatform();
    const stream = await platform.createStream('ttff');
    publisher = await WrtcPublisher.start({ whipUrl: stream.whipUrl, streamKey: stream.streamKey });
    await publisher.waitConnected(10_000);
    // One unmeasured join: waits until the stream is live (WHEP 409 before) and warms up
    // both sides' code paths.
    await warmUp(stream.whepUrl, plan, logger);

    // The SFU's keyframe requests to the publisher, counted around each join: they explain
    // the slow joins (see the notes).
    const live = platform.platform.ingest.getLiveStream(stream.id);
    const video = live?.producers.find((producer) => producer.kind === 'video');
    const keyframeRequests = async (): Promise<number | undefined> => {
      const stats = await video?.getStats().catch(() => undefined);
      return stats?.reduce((sum, entry) => sum + entry.pliCount + entry.firCount, 0);
    };
    const measured = async (join: () => Promise<JoinTiming>): Promise<JoinTiming> => {
      const before = await keyframeRequests();
      const timing = await join();
      const after = await keyframeRequests();
      const requests = before === undefined || after === undefined ? undefined : after - before;
      return { ...timing, keyframeRequests: requests };
    };

    const wrtc: JoinTiming[] = [];
    for (let i = 0; i < plan.joins; i++) {
      wrtc.push(await measured(() => timedWrtcJoin(stream.whepUrl, plan.timeoutMs, logger)));
      context.progress(`ttff: join ${i + 1}/${plan.joins}: ${wrtc[i].firstMs.toFixed(0)} ms`);
      await sleep(plan.pauseMs);
    }
    const ndc: JoinTiming[] = [];
    for (let i = 0; i < plan.ndcJoins; i++) {
      ndc.push(await measured(() => timedNdcJoin(stream.whepUrl, plan.timeoutMs, logger)));
      await sleep(plan.pauseMs);
    }
    context.progress(`ttff: ${plan.ndcJoins} packet-level joins done`);
    return buildResult(wrtc, ndc, plan);
  } finally {
    await closeInOrder([() => publisher?.close(), () => platform?.stop()]);
  }
}

async function warmUp(whepUrl: string, plan: TtffPlan, logger: Logger): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await timedWrtcJoin(whepUrl, plan.timeoutMs, logger);
      return;
    } catch (error) {
      const notLive = error instanceof SignalingError && error.status === 409;
      if (!notLive || Date.now() > deadline) throw error;
      await sleep(250);
    }
  }
}

/** A WHEP `signal` hook that times the POST and keeps the session URL for the DELETE. */
function timedSignal(whepUrl: string): {
  signal: (offerSdp: string) => Promise<string>;
  times: { postStartedAt?: number; answeredAt?: number; location?: string };
} {
  const times: { postStartedAt?: number; answeredAt?: number; location?: string } = {};
  const signal = async (offerSdp: string): Promise<string> => {
    times.postStartedAt = performance.now();
    const result = await postSdp(whepUrl, offerSdp, { timeoutMs: 8000 });
    times.answeredAt = performance.now();
    times.location = result.location;
    return result.answer;
  };
  return { signal, times };
}

export async function timedWrtcJoin(
  whepUrl: string,
  timeoutMs: number,
  logger: Logger,
): Promise<JoinTiming> {
  const { signal, times } = timedSignal(whepUrl);
  const startedAt = performance.now();
  let firstFrameAt: number | undefined;
  let viewer: WrtcViewer | undefined;
  try {
    viewer = await WrtcViewer.start({
      signal,
      onFrame: (_frame, receivedAt) => {
        firstFrameAt ??= receivedAt;
      },
    });
    await viewer.waitConnected(timeoutMs);
    const connectedAt = performance.now();
    await viewer.waitForFrames(1, timeoutMs);
    const postStartedAt = times.postStartedAt!;
    return {
      kind: 'wrtc',
      beforePostMs: postStartedAt - startedAt,
      postMs: times.answeredAt! - postStartedAt,
      connectMs: connectedAt - postStartedAt,
      firstMs: firstFrameAt! - postStartedAt,
      firstKeyframeMs: undefined,
    };
  } finally {
    // DELETE first, then close, as the peers themselves do.
    if (times.location) {
      await deleteSessionQuietly(times.location, undefined, { timeoutMs: 8000 }, logger);
    }
    await viewer?.close();
  }
}

export async function timedNdcJoin(
  whepUrl: string,
  timeoutMs: number,
  logger: Logger,
): Promise<JoinTiming> {
  const { signal, times } = timedSignal(whepUrl);
  const startedAt = performance.now();
  let viewer: NdcViewer | undefined;
  try {
    // The NdcViewer's own clock starts in start(), a few microseconds after `startedAt`.
    const v = await NdcViewer.start({ signal, videoCodecs: ['VP8'] });
    viewer = v;
    await v.waitForPackets('video', 1, timeoutMs);
    await waitUntil(() => v.stats().video.keyframes > 0, timeoutMs, 'a VP8 keyframe');
    const stats = v.stats();
    const postStartedAt = times.postStartedAt!;
    const offset = startedAt - postStartedAt;
    return {
      kind: 'ndc',
      beforePostMs: postStartedAt - startedAt,
      postMs: times.answeredAt! - postStartedAt,
      connectMs:
        stats.timeToConnectedMs === undefined ? undefined : stats.timeToConnectedMs + offset,
      firstMs: stats.video.timeToFirstPacketMs! + offset,
      firstKeyframeMs:
        stats.video.timeToFirstKeyframeMs === undefined
          ? undefined
          : stats.video.timeToFirstKeyframeMs + offset,
    };
  } finally {
    if (times.location) {
      await deleteSessionQuietly(times.location, undefined, { timeoutMs: 8000 }, logger);
    }
    await viewer?.close();
  }
}

function buildResult(wrtc: JoinTiming[], ndc: JoinTiming[], plan: TtffPlan): ScenarioResult {
  const frames = distribution(wrtc.map((j) => j.firstMs));
  const packets = distribution(ndc.map((j) => j.firstMs));
  const keyframes = distribution(ndc.map((j) => j.firstKeyframeMs));
  const metric = (key: string, label: string, value: number | undefined): Metric => ({
    key,
    label,
    value: value ?? Number.NaN,
    unit: 'ms',
  });
  const p50 = (d: Distribution | undefined): number | undefined => d?.p50;
  const all = [...wrtc, ...ndc];
  const slow = all.filter((j) => j.firstMs > 500).length;
  const slowTwoRequests = all.filter(
    (j) => j.firstMs > 500 && j.keyframeRequests !== undefined && j.keyframeRequests >= 2,
  ).length;
  const metrics: Metric[] = [
    metric('ttff.p50_ms', 'WHEP POST to first decoded frame, median', frames?.p50),
    metric('ttff.p95_ms', 'WHEP POST to first decoded frame, p95', frames?.p95),
    metric('ttff.min_ms', 'WHEP POST to first decoded frame, min', frames?.min),
    metric('ttff.max_ms', 'WHEP POST to first decoded frame, max', frames?.max),
    metric('ttff.first_packet_p50_ms', 'WHEP POST to first video RTP packet, median', packets?.p50),
    metric('ttff.first_packet_p95_ms', 'WHEP POST to first video RTP packet, p95', packets?.p95),
    metric(
      'ttff.first_keyframe_packet_p50_ms',
      'WHEP POST to first keyframe packet, median',
      p50(keyframes),
    ),
    metric(
      'ttff.post_p50_ms',
      'WHEP POST round trip, median',
      p50(distribution(wrtc.map((j) => j.postMs))),
    ),
    metric(
      'ttff.connect_p50_ms',
      'WHEP POST to ICE+DTLS connected (libwebrtc), median',
      p50(distribution(wrtc.map((j) => j.connectMs))),
    ),
    metric(
      'ttff.before_post_p50_ms',
      'Offer and ICE gathering before the POST (libwebrtc), median',
      p50(distribution(wrtc.map((j) => j.beforePostMs))),
    ),
  ];
  const table: Table = {
    title: 'Joins (ms from the start of the WHEP POST)',
    columns: [
      '#',
      'viewer',
      'offer + gathering',
      'POST',
      'connected',
      'first frame / packet',
      'first keyframe packet',
      'PLI/FIR to publisher',
    ],
    rows: [...wrtc, ...ndc].map((j, i) => [
      i + 1,
      j.kind === 'wrtc' ? 'libwebrtc (decoded frame)' : 'libdatachannel (RTP packet)',
      round(j.beforePostMs, 1)!,
      round(j.postMs, 1)!,
      round(j.connectMs, 1) ?? '-',
      round(j.firstMs, 1)!,
      round(j.firstKeyframeMs, 1) ?? '-',
      j.keyframeRequests ?? '-',
    ]),
  };
  const notes = [
    `Method: a platform in-process, one WrtcPublisher (libwebrtc, VP8 320x240@30 + Opus) live; ${wrtc.length} sequential WrtcViewer joins (after one unmeasured warm-up join), each timed from the start of its WHEP POST to the first frame out of libwebrtc's VP8 decoder, then closed (DELETE, then the peer) before the next. Each join is the stream's only viewer, so it includes the edge's fan-out set-up for that viewer.`,
    `Comparison: ${ndc.length} joins of the packet-counting NdcViewer (libdatachannel, no decoder), timed from the POST to the first video RTP packet and to the first packet of a VP8 keyframe; the gap to the decoded-frame figure is libwebrtc's jitter buffer and decoder (and the wait for a keyframe if the first packets were not one).`,
    `The keyframe comes on demand: the SFU asks the publisher (PLI) when a viewer's consumer resumes, and libwebrtc answers with the next frame. ${slow} of ${all.length} joins took over 500 ms: ${slowTwoRequests} of them saw 2 or more keyframe requests to the publisher (the "PLI/FIR" column counts the SFU's requests during the join; a late retry adds one). libwebrtc makes at most one keyframe per 300 ms (kMinKeyframeSendIntervalMs, encoder_rtcp_feedback.cc) and mediasoup repeats an unanswered request only after 1000 ms (KeyFrameRetransmissionWaitTime), so a keyframe that is spent before the viewer can use it costs about a second. Joins are ${plan.pauseMs} ms apart, so one join's requests do not throttle the next.`,
    'A publisher with a fixed GOP that ignores PLIs (OBS) would add up to one GOP instead.',
    'Everything runs on 127.0.0.1 on one 2-core machine, so network time is near zero; the figures are the protocol and processing part of a join.',
  ];
  return { scenario: 'ttff', metrics, tables: [table], notes };
}
