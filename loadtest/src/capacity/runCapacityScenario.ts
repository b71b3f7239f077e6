/**
 * Fan-out capacity: CPU time of the SFU per viewer at a fixed bitrate. A platform runs
 * in-process with ONE mediasoup worker, so every viewer's forwarding cost lands in one OS
 * process whose CPU is read from /proc; an OBS-like publisher sends 600 kbps H.264 + Opus;
 * cheap node-datachannel viewers are added in steps, and at each step a window measures the
 * worker's CPU, what every viewer received, and loss against what the publisher sent.
 */
import { cpus } from 'node:os';
import {
  startLocalPlatform as startPlatform,
  type LocalPlatform as TestPlatform,
} from '@wisp/server';
import type { BenchContext, Metric, Scenario, ScenarioResult, Table } from '../bench/types.ts';
import { ObsLikePublisher } from '../peers/ObsLikePublisher.ts';
import { sleep, waitUntil } from '../peers/timing.ts';
import { closeInOrder } from '../swarm/closeInOrder.ts';
import { round } from '../swarm/stats.ts';
import { Swarm } from '../swarm/Swarm.ts';
import {
  analyzeCapacity,
  median,
  stabilityProblems,
  viewerWindow,
  type CapacityStep,
} from './analysis.ts';
import { cpuBetween, sampleCpu } from './cpuSampler.ts';
import { childPids } from './procStat.ts';

export interface CapacityPlan {
  /** Viewer counts, ascending; the run stops after the first unstable step. */
  steps: number[];
  /** Joins per second while ramping to the next step. */
  rampPerSecond: number;
  /** Wait after a ramp before measuring (joins' DTLS and keyframe bursts settle). */
  settleMs: number;
  /** The measurement window of each step. */
  windowMs: number;
  /** No new step starts after this long. */
  budgetMs: number;
  videoBitrateKbps: number;
  audioBitrateKbps: number;
}

export function capacityPlan(size: BenchContext['size']): CapacityPlan {
  const common = { videoBitrateKbps: 600, audioBitrateKbps: 64 };
  return size === 'smoke'
    ? {
        ...common,
        steps: [0, 5, 10],
        rampPerSecond: 10,
        settleMs: 1500,
        windowMs: 4000,
        budgetMs: 60_000,
      }
    : {
        ...common,
        steps: [0, 10, 25, 50, 100, 150, 200, 250, 300, 350, 400, 450, 500],
        rampPerSecond: 20,
        settleMs: 3000,
        windowMs: 12_000,
        budgetMs: 10 * 60_000,
      };
}

/** The benchmark: the plan of `context.size`, run once. */
export const runCapacityScenario: Scenario = (context) =>
  runCapacity(context, capacityPlan(context.size));

export async function runCapacity(
  context: BenchContext,
  plan: CapacityPlan,
): Promise<ScenarioResult> {
  const startedAt = performance.now();
  let platform: TestPlatform | undefined;
  let publisher: ObsLikePublisher | undefined;
  let swarm: Swarm | undefined;
  try {
    // One worker: the whole fan-out (ingest router, pipe, fan-out router, every consumer)
    // runs in one process, so its CPU divided by the viewers is the per-viewer cost.
    platform = await startPlatform({ MEDIASOUP_WORKERS: '1' });
    const stream = await platform.createStream('capacity');
    const pub = await ObsLikePublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
      videoBitrateKbps: plan.videoBitrateKbps,
      audioBitrateKbps: plan.audioBitrateKbps,
      width: 640,
      height: 360,
      fps: 30,
      maxDurationSec: Math.ceil(plan.budgetMs / 1000) + 120,
    });
    publisher = pub;
    await pub.waitConnected(10_000);
    await waitUntil(() => pub.packetsSent.video > 100, 10_000, 'the publisher to send video');
    // The x264 rate control needs a moment to reach its target after the first keyframe.
    await sleep(2000);

    const workerPids = platform.platform.pool.stats().map((worker) => worker.pid);
    const ffmpegPids = await childPids(process.pid, 'ffmpeg');
    const sentPackets = (): number => pub.packetsSent.audio + pub.packetsSent.video;
    let lastProgressAt = 0;
    swarm = await Swarm.start({
      whepUrl: stream.whepUrl,
      viewers: 0,
      kind: 'ndc',
      ndcVideoCodecs: ['H264'],
      rampPerSecond: plan.rampPerSecond,
      maxDurationMs: plan.budgetMs + 5 * 60_000,
      expectedPackets: sentPackets,
      onProgress: (progress) => {
        // Every 5 s is enough for a report; the swarm samples every second.
        if (progress.elapsedMs - lastProgressAt < 5000) return;
        lastProgressAt = progress.elapsedMs;
        context.progress(`capacity ${progress.line}`);
      },
    });

    const steps: CapacityStep[] = [];
    const problemsByStep: string[][] = [];
    for (const viewers of plan.steps) {
      if (performance.now() - startedAt > plan.budgetMs) {
        context.progress(`capacity: time budget spent, stopping before ${viewers} viewers`);
        break;
      }
      context.progress(`capacity: ramping to ${viewers} viewers`);
      await swarm.rampTo(viewers);
      await sleep(plan.settleMs);
      const groups = { workers: workerPids, ffmpeg: ffmpegPids };
      let step = await measureStep(platform, pub, swarm, viewers, plan.windowMs, groups);
      let problems = stabilityProblems(step);
      if (problems.length > 0 && viewers > 0) {
        // Other processes share the machine: one bad window may be theirs. A step is
        // unstable only if a second window confirms it.
        context.progress(`capacity: ${viewers} viewers unstable (${problems.join('; ')}); again`);
        step = await measureStep(platform, pub, swarm, viewers, plan.windowMs, groups, 2);
        problems = stabilityProblems(step);
      }
      steps.push(step);
      problemsByStep.push(problems);
      context.progress(
        `capacity: ${viewers} viewers: worker ${step.workerCpuPct.toFixed(1)}% CPU, ` +
          `generator ${step.generatorCpuPct.toFixed(1)}%, ` +
          `${Math.round(step.medianKbpsPerViewer ?? 0)} kbps/viewer, ` +
          `loss ${step.lossPct?.toFixed(2) ?? 'n/a'}%, ` +
          `${problems.length === 0 ? 'stable' : `UNSTABLE (${problems.join('; ')})`}`,
      );
      if (problems.length > 0 && viewers > 0) break;
    }
    return buildResult(plan, steps, problemsByStep, workerPids.length);
  } finally {
    await closeInOrder([() => swarm?.close(), () => publisher?.close(), () => platform?.stop()]);
  }
}

async function measureStep(
  platform: TestPlatform,
  publisher: ObsLikePublisher,
  swarm: Swarm,
  viewers: number,
  windowMs: number,
  groups: Record<string, number[]>,
  attempts = 1,
): Promise<CapacityStep> {
  const rusage0 = await platform.platform.pool.resourceUsage();
  const cpu0 = await sampleCpu(groups);
  // The publisher's counters and the ndc viewers' counters are read in the same tick.
  const sent0 = publisher.stats();
  const snapshot0 = await swarm.snapshot();
  await sleep(windowMs);
  const sent1 = publisher.stats();
  const snapshot1 = await swarm.snapshot();
  const cpu1 = await sampleCpu(groups);
  const rusage1 = await platform.platform.pool.resourceUsage();

  const cpu = cpuBetween(cpu0, cpu1);
  const seconds = (snapshot1.at - snapshot0.at) / 1000;
  const packets =
    sent1.audioPacketsSent +
    sent1.videoPacketsSent -
    sent0.audioPacketsSent -
    sent0.videoPacketsSent;
  const videoBytes = sent1.videoBytesSent - sent0.videoBytesSent;
  const bytes = videoBytes + sent1.audioBytesSent - sent0.audioBytesSent;
  const window = viewerWindow(snapshot0, snapshot1, packets);
  const rusageMs = (usage: typeof rusage0): number =>
    usage.reduce((sum, w) => sum + w.usage.ru_utime + w.usage.ru_stime, 0);
  const workerCpuPct = cpu.groups.workers ?? Number.NaN;
  const ffmpegCpuPct = cpu.groups.ffmpeg;
  return {
    viewers,
    connected: window.connected,
    receiving: window.receiving,
    serverViewers: platform.platform.edge.viewerCount(),
    windowMs: cpu.wallMs,
    workerCpuPct,
    workerRusageCpuPct: (100 * (rusageMs(rusage1) - rusageMs(rusage0))) / cpu.wallMs,
    generatorCpuPct: cpu.selfPct,
    ffmpegCpuPct,
    machineCpuPct: cpu.machinePct,
    otherCpuPct: Math.max(0, cpu.machinePct - workerCpuPct - cpu.selfPct - (ffmpegCpuPct ?? 0)),
    attempts,
    ingressKbps: (bytes * 8) / seconds / 1000,
    ingressVideoKbps: (videoBytes * 8) / seconds / 1000,
    ingressPacketsPerSecond: packets / seconds,
    medianKbpsPerViewer: median(window.kbps),
    minKbpsPerViewer: window.kbps.length > 0 ? Math.min(...window.kbps) : undefined,
    lossPct: window.lossPct,
    maxViewerLossPct: window.maxViewerLossPct,
  };
}

function buildResult(
  plan: CapacityPlan,
  steps: CapacityStep[],
  problemsByStep: string[][],
  workers: number,
): ScenarioResult {
  // Fit only where the machine had headroom (below 75 % of all its cores).
  const analysis = analyzeCapacity(steps, undefined, {
    capacityPct: cpus().length * 100,
    saturationShare: 0.75,
  });
  const ingressKbps = mean(steps.map((s) => s.ingressKbps));
  const ingressVideoKbps = mean(steps.map((s) => s.ingressVideoKbps));
  const metric = (key: string, label: string, value: number | undefined, unit: string): Metric => ({
    key,
    label,
    value: value ?? Number.NaN,
    unit,
  });
  const metrics: Metric[] = [
    metric(
      'capacity.cpu_per_viewer_pct',
      'SFU worker CPU per viewer (least-squares slope)',
      analysis.cpuPerViewerPct,
      '% of a core',
    ),
    metric(
      'capacity.viewers_per_core',
      `Viewers per core at ${plan.videoBitrateKbps} kbps (extrapolated)`,
      analysis.viewersPerCore,
      'viewers',
    ),
    metric(
      'capacity.max_stable_viewers',
      'Largest stable viewer count on this machine',
      analysis.maxStableViewers,
      'viewers',
    ),
    metric('capacity.ingress_kbps', 'Ingress bitrate (RTP, audio + video)', ingressKbps, 'kbps'),
    metric('capacity.ingress_video_kbps', 'Ingress video bitrate (RTP)', ingressVideoKbps, 'kbps'),
    metric(
      'capacity.cpu_baseline_pct',
      'SFU worker CPU with the publisher and no viewer',
      steps.find((s) => s.viewers === 0)?.workerCpuPct,
      '% of a core',
    ),
    metric('capacity.cpu_fit_r2', 'R² of the CPU-per-viewer line', analysis.fit?.r2, ''),
    metric(
      'capacity.generator_cpu_per_viewer_pct',
      'Load generator CPU per viewer (slope, context)',
      analysis.generatorCpuPerViewerPct,
      '% of a core',
    ),
  ];
  const table: Table = {
    title: `Fan-out capacity, ${plan.videoBitrateKbps} kbps H.264 + ${plan.audioBitrateKbps} kbps Opus, ${workers} mediasoup worker`,
    columns: [
      'viewers',
      'connected',
      'server viewers',
      'worker CPU %',
      'worker CPU % (rusage)',
      'worker ms CPU / viewer·s',
      'generator CPU %',
      'ffmpeg CPU %',
      'machine CPU %',
      'other processes CPU %',
      'ingress kbps',
      'kbps/viewer p50',
      'kbps/viewer min',
      'loss %',
      'worst viewer loss %',
      'stable',
    ],
    rows: steps.map((s, i) => [
      s.viewers,
      s.connected,
      s.serverViewers,
      cell(s.workerCpuPct, 1),
      cell(s.workerRusageCpuPct, 1),
      cell(analysis.marginalMsPerViewerSecond[i], 3),
      cell(s.generatorCpuPct, 1),
      cell(s.ffmpegCpuPct, 1),
      cell(s.machineCpuPct, 1),
      cell(s.otherCpuPct, 1),
      cell(s.ingressKbps, 0),
      cell(s.medianKbpsPerViewer, 0),
      cell(s.minKbpsPerViewer, 0),
      cell(s.lossPct, 2),
      cell(s.maxViewerLossPct, 2),
      (analysis.stable[i] ? 'yes' : `no: ${problemsByStep[i].join('; ')}`) +
        (s.attempts > 1 ? ' (2nd window)' : ''),
    ]),
  };
  const fit = analysis.fit;
  const lastStep = steps.at(-1);
  const generatorRatio =
    analysis.generatorCpuPerViewerPct !== undefined && analysis.cpuPerViewerPct
      ? `${round(analysis.generatorCpuPerViewerPct / analysis.cpuPerViewerPct, 1)}x`
      : 'an unknown multiple of';
  const notes = [
    `Method: a platform in-process with MEDIASOUP_WORKERS=1, so the ingest router, the pipe to the fan-out router and every viewer's consumer run in one worker process; its CPU (utime + stime) is read from /proc/<pid>/stat over a ${plan.windowMs / 1000} s window per step, ${plan.settleMs / 1000} s after each ramp (${plan.rampPerSecond} joins/s). "worker CPU % (rusage)" is mediasoup's own getResourceUsage over the same window, a cross-check.`,
    `Publisher: ObsLikePublisher (node-datachannel, ffmpeg x264 ultrafast/zerolatency 640x360@30, 1 s GOP, ${plan.videoBitrateKbps} kbps with maxrate = bufsize) + Opus ${plan.audioBitrateKbps} kbps; measured ingress ${round(ingressKbps, 0)} kbps RTP incl. headers (${round(ingressVideoKbps, 0)} kbps video), ${round(mean(steps.map((s) => s.ingressPacketsPerSecond)), 0)} packets/s. The SFU's cost follows the packet rate more than the bit rate.`,
    `Viewers: receive-only NdcViewers (libdatachannel: ICE, DTLS, SRTP decrypt, RTCP receiver reports and REMB), H.264 + Opus. Loss is what a viewer did not receive of the packets the publisher sent in the window (NdcViewer exposes no sequence numbers), so it covers both hops; kbps/viewer counts decrypted RTP incl. headers, which mediasoup rewrites, so it can exceed the ingress slightly.`,
    fit
      ? `CPU per viewer is the least-squares slope of worker CPU % over connected viewers across ${fit.n} ${analysis.fitOver} (intercept ${round(fit.intercept, 2)}%, R² ${round(fit.r2, 3)}); viewers per core = 100 % / slope, an extrapolation that ignores the fixed cost and assumes the line stays straight.`
      : 'Too few steps for a CPU-per-viewer line.',
    `Stable = every viewer connected and receiving, loss < 1 %, every viewer's bitrate >= 90 % of the ingress, in a window (an unstable window is measured once more). The largest stable count is bounded by this machine, not by the SFU alone: the load generator (every viewer's DTLS/SRTP and a JS callback per packet) and ffmpeg share its ${cpus().length} cores with the SFU, the generator using ${generatorRatio} the worker's CPU per viewer (${round(analysis.generatorCpuPerViewerPct, 3)} % vs ${round(analysis.cpuPerViewerPct, 3)} % of a core). Compare the ratio (CPU per viewer), not the raw maximum.`,
    lastStep && analysis.stable.at(-1) && lastStep.viewers === plan.steps.at(-1)
      ? `The last planned step (${lastStep.viewers} viewers) was still stable: the maximum reported is the plan's cap, not a limit that was reached.`
      : lastStep && !analysis.stable.at(-1)
        ? `At ${lastStep.viewers} viewers the machine ran at ${round(lastStep.machineCpuPct, 0)} % of ${cpus().length * 100} %, of which other processes took ${round(lastStep.otherCpuPct, 0)} %; the worker got ${round(lastStep.workerCpuPct, 1)} %.`
        : 'The run ended before the plan did (time budget).',
    `Other processes on the machine (e.g. other test runs) used ${round(Math.min(...steps.map((s) => s.otherCpuPct)), 0)}-${round(Math.max(...steps.map((s) => s.otherCpuPct)), 0)} % of a core during the windows ("other processes CPU %"): they compete for the cores, which can lower the stable maximum, but barely change the CPU time per viewer.`,
    '"generator CPU %" is this Node process: the viewers, the publisher\'s packet forwarding and the platform\'s own JS (signalling; media is in the worker). "machine CPU %" is of cores x 100.',
  ];
  return { scenario: 'capacity', metrics, tables: [table], notes };
}

function cell(value: number | undefined, digits: number): number | string {
  return value === undefined || !Number.isFinite(value) ? '-' : round(value, digits)!;
}

function mean(values: number[]): number | undefined {
  const finite = values.filter((v) => Number.isFinite(v));
  return finite.length === 0 ? undefined : finite.reduce((a, b) => a + b, 0) / finite.length;
}
