/**
 * Samples CPU time of named groups of processes (e.g. the mediasoup workers, the publisher's
 * ffmpeg), of this Node process, and of the whole machine, so a window between two samples
 * gives each one's share. Percentages are of one core: 100 % is one core fully busy.
 */
import { cpus } from 'node:os';
import { readProcessCpuMs, readSystemCpu, type SystemCpuTicks } from './procStat.ts';

export interface CpuSample {
  /** `performance.now()` when taken. */
  at: number;
  /** CPU milliseconds per group; undefined if a process of the group has gone. */
  groups: Record<string, number | undefined>;
  /** This process (the load generator and anything in-process with it). */
  self: NodeJS.CpuUsage;
  system: SystemCpuTicks;
}

export interface CpuWindow {
  wallMs: number;
  /** Per group, % of one core; undefined when a process vanished in the window. */
  groups: Record<string, number | undefined>;
  /** This process, % of one core. */
  selfPct: number;
  /** The whole machine, % of one core (so up to `cores * 100`). */
  machinePct: number;
  cores: number;
}

export async function sampleCpu(groups: Record<string, readonly number[]>): Promise<CpuSample> {
  const entries = await Promise.all(
    Object.entries(groups).map(async ([name, pids]) => {
      const values = await Promise.all(pids.map((pid) => readProcessCpuMs(pid)));
      const total = values.some((value) => value === undefined)
        ? undefined
        : values.reduce<number>((sum, value) => sum + value!, 0);
      return [name, total] as const;
    }),
  );
  const system = await readSystemCpu();
  return {
    at: performance.now(),
    groups: Object.fromEntries(entries),
    self: process.cpuUsage(),
    system,
  };
}

/** CPU shares between two samples of the same groups. */
export function cpuBetween(before: CpuSample, after: CpuSample, cores = cpus().length): CpuWindow {
  const wallMs = after.at - before.at;
  if (!(wallMs > 0)) throw new RangeError('the second CPU sample must be later than the first');
  const pct = (cpuMs: number): number => (100 * cpuMs) / wallMs;
  const groups: Record<string, number | undefined> = {};
  for (const [name, value] of Object.entries(after.groups)) {
    const start = before.groups[name];
    groups[name] = value === undefined || start === undefined ? undefined : pct(value - start);
  }
  const selfMicros = after.self.user - before.self.user + (after.self.system - before.self.system);
  const totalTicks = after.system.total - before.system.total;
  const busyTicks = after.system.busy - before.system.busy;
  return {
    wallMs,
    groups,
    selfPct: pct(selfMicros / 1000),
    machinePct: totalTicks > 0 ? (100 * cores * busyTicks) / totalTicks : 0,
    cores,
  };
}
