/**
 * The arithmetic of the fan-out capacity benchmark, apart from any I/O: what the viewers
 * received in a measurement window, whether a step was stable, and the CPU-per-viewer line
 * fitted over the steps.
 */
import { leastSquares, percentile, type LinearFit } from '../swarm/stats.ts';
import type { SwarmSnapshot } from '../swarm/types.ts';

export interface ViewerWindow {
  /** Viewers in both snapshots and connected at the end. */
  connected: number;
  /** Of those, viewers that received at least one packet in the window. */
  receiving: number;
  /** Received bitrate of each connected viewer over the window. */
  kbps: number[];
  /** Packets missing against what the source sent, over all connected viewers. */
  lossPct: number | undefined;
  /** The worst single viewer's loss. */
  maxViewerLossPct: number | undefined;
}

/**
 * What the viewers received between two snapshots, when the source sent `expectedPackets`
 * in the same window (read in the same ticks as the snapshots). A viewer's loss is the part
 * of those packets it did not get; a few packets in flight at either end of the window cancel
 * out as long as the delay is steady.
 */
export function viewerWindow(
  before: SwarmSnapshot,
  after: SwarmSnapshot,
  expectedPackets: number,
): ViewerWindow {
  const windowMs = after.at - before.at;
  if (!(windowMs > 0)) throw new RangeError('the second snapshot must be later than the first');
  const start = new Map(before.viewers.map((viewer) => [viewer.index, viewer]));
  const kbps: number[] = [];
  let connected = 0;
  let receiving = 0;
  let lost = 0;
  let maxViewerLossPct: number | undefined;
  for (const viewer of after.viewers) {
    const first = start.get(viewer.index);
    if (!first || viewer.state !== 'connected') continue;
    connected++;
    const packets = viewer.packets - first.packets;
    if (packets > 0) receiving++;
    kbps.push(((viewer.bytes - first.bytes) * 8) / windowMs);
    if (expectedPackets > 0) {
      const missing = Math.max(0, expectedPackets - packets);
      lost += missing;
      maxViewerLossPct = Math.max(maxViewerLossPct ?? 0, (100 * missing) / expectedPackets);
    }
  }
  return {
    connected,
    receiving,
    kbps,
    lossPct:
      connected > 0 && expectedPackets > 0
        ? (100 * lost) / (connected * expectedPackets)
        : undefined,
    maxViewerLossPct,
  };
}

export interface CapacityStep {
  /** Viewers the step ramped to. */
  viewers: number;
  /** Connected viewers measured in the window. */
  connected: number;
  receiving: number;
  /** Viewers the platform itself counted. */
  serverViewers: number;
  windowMs: number;
  /** All mediasoup workers, % of one core, from /proc. */
  workerCpuPct: number;
  /** The same from mediasoup's getResourceUsage (getrusage inside the worker), a cross-check. */
  workerRusageCpuPct: number | undefined;
  /** The Node process (load generator, publisher forwarding, platform signalling). */
  generatorCpuPct: number;
  /** The publisher's ffmpeg (x264 + Opus encoding). */
  ffmpegCpuPct: number | undefined;
  /** The whole machine, % of one core (up to cores x 100). */
  machineCpuPct: number;
  /** The machine minus worker, generator and ffmpeg: other processes competing for the cores. */
  otherCpuPct: number;
  /** Measurement windows taken: an unstable first window is measured once more. */
  attempts: number;
  /** What the publisher sent in the window: RTP bytes incl. headers, audio + video. */
  ingressKbps: number;
  ingressVideoKbps: number;
  ingressPacketsPerSecond: number;
  medianKbpsPerViewer: number | undefined;
  minKbpsPerViewer: number | undefined;
  lossPct: number | undefined;
  maxViewerLossPct: number | undefined;
}

export interface StabilityCriteria {
  /** Loss must stay below this. Default 1 %. */
  maxLossPct: number;
  /** Every viewer's bitrate must be at least this share of the ingress. Default 0.9. */
  minBitrateRatio: number;
}

export const DEFAULT_STABILITY: StabilityCriteria = { maxLossPct: 1, minBitrateRatio: 0.9 };

/**
 * Stable: every viewer of the step connected and receiving, loss below the limit, and every
 * viewer's bitrate at least the given share of the ingress. Returns the reasons it is not.
 */
export function stabilityProblems(
  step: CapacityStep,
  criteria: StabilityCriteria = DEFAULT_STABILITY,
): string[] {
  const problems: string[] = [];
  if (step.connected < step.viewers) problems.push(`${step.connected}/${step.viewers} connected`);
  if (step.receiving < step.connected) {
    problems.push(`${step.connected - step.receiving} connected viewers received nothing`);
  }
  if (step.viewers === 0) return problems;
  if (step.lossPct === undefined || step.lossPct >= criteria.maxLossPct) {
    problems.push(`loss ${step.lossPct?.toFixed(2) ?? 'unknown'}% >= ${criteria.maxLossPct}%`);
  }
  const floor = criteria.minBitrateRatio * step.ingressKbps;
  if (step.minKbpsPerViewer === undefined || step.minKbpsPerViewer < floor) {
    problems.push(
      `lowest viewer ${Math.round(step.minKbpsPerViewer ?? 0)} kbps < ${Math.round(floor)} kbps ` +
        `(${criteria.minBitrateRatio * 100}% of ingress)`,
    );
  }
  return problems;
}

export interface CapacityAnalysis {
  /**
   * Worker CPU % against connected viewers, over the stable steps at which the machine still
   * had headroom (below `saturationShare` of all cores): once the load generator and the
   * worker compete for the last cycles, the worker gets less CPU than it needs and the
   * slope would come out too low. Falls back to all stable steps, then all steps, when fewer
   * than 2 remain.
   */
  fit: LinearFit | undefined;
  fitOver: 'stable steps with CPU headroom' | 'stable steps' | 'all steps';
  /** % of one core per viewer (the slope). */
  cpuPerViewerPct: number | undefined;
  /** 100 % / cpuPerViewerPct: viewers one core could serve at this bitrate. */
  viewersPerCore: number | undefined;
  /** The same slope for the load generator's own process, for context. */
  generatorCpuPerViewerPct: number | undefined;
  /** The largest viewer count of a stable step (0 if only the empty step was). */
  maxStableViewers: number;
  /** Worker CPU ms per viewer per second above the 0-viewer step, per step (undefined at 0). */
  marginalMsPerViewerSecond: (number | undefined)[];
  stable: boolean[];
}

export function analyzeCapacity(
  steps: readonly CapacityStep[],
  criteria: StabilityCriteria = DEFAULT_STABILITY,
  /** The machine's CPU capacity (100 % per core); without it every stable step is fitted. */
  machine?: { capacityPct: number; saturationShare: number },
): CapacityAnalysis {
  const stable = steps.map((step) => stabilityProblems(step, criteria).length === 0);
  const stableSteps = steps.filter((_, i) => stable[i]);
  const headroomSteps = machine
    ? stableSteps.filter((s) => s.machineCpuPct < machine.capacityPct * machine.saturationShare)
    : [];
  const [fitSteps, fitOver]: [readonly CapacityStep[], CapacityAnalysis['fitOver']] =
    headroomSteps.length >= 2
      ? [headroomSteps, 'stable steps with CPU headroom']
      : stableSteps.length >= 2
        ? [stableSteps, 'stable steps']
        : [steps, 'all steps'];
  const fit = leastSquares(fitSteps.map((s) => ({ x: s.connected, y: s.workerCpuPct })));
  const generatorFit = leastSquares(
    fitSteps.map((s) => ({ x: s.connected, y: s.generatorCpuPct })),
  );
  const baseline = steps.find((s) => s.viewers === 0)?.workerCpuPct;
  const cpuPerViewerPct = fit?.slope;
  return {
    fit,
    fitOver,
    cpuPerViewerPct,
    viewersPerCore:
      cpuPerViewerPct !== undefined && cpuPerViewerPct > 0 ? 100 / cpuPerViewerPct : undefined,
    generatorCpuPerViewerPct: generatorFit?.slope,
    maxStableViewers: Math.max(0, ...stableSteps.map((s) => s.viewers)),
    // 1 % of one core is 10 ms of CPU per second.
    marginalMsPerViewerSecond: steps.map((s) =>
      baseline === undefined || s.connected === 0
        ? undefined
        : ((s.workerCpuPct - baseline) * 10) / s.connected,
    ),
    stable,
  };
}

/** The median of a list, or undefined; re-exported for the scenario's table. */
export function median(values: readonly number[]): number | undefined {
  return percentile(values, 50);
}
