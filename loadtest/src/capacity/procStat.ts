/**
 * CPU time of processes read from Linux's `/proc`, independent of who started them: mediasoup
 * workers are separate OS processes, so their CPU is read here rather than through the Node
 * process that drives the load. See proc(5) for the field layout.
 */
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

export interface ProcStat {
  pid: number;
  /** The executable name, without the parentheses (may contain spaces and parentheses). */
  comm: string;
  state: string;
  ppid: number;
  /** User and system CPU time in clock ticks (fields 14 and 15 of proc(5)). */
  utimeTicks: number;
  stimeTicks: number;
}

/**
 * Parses `/proc/<pid>/stat`. The comm field is in parentheses and may itself contain spaces
 * and `)`, so the fields after it are located from the last `)`.
 */
export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new TypeError('not a /proc/<pid>/stat line');
  const pid = Number(text.slice(0, open).trim());
  // Fields from 3 (state) on; index 0 here is field 3.
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const field = (n: number): number => {
    const value = Number(rest[n - 3]);
    if (!Number.isFinite(value)) throw new TypeError(`field ${n} of /proc/<pid>/stat is missing`);
    return value;
  };
  if (!Number.isInteger(pid)) throw new TypeError('not a /proc/<pid>/stat line');
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: rest[0] ?? '',
    ppid: field(4),
    utimeTicks: field(14),
    stimeTicks: field(15),
  };
}

export interface SystemCpuTicks {
  /** Ticks spent doing anything but idle and I/O wait, summed over all CPUs. */
  busy: number;
  /** All ticks summed over all CPUs (guest time is already inside user time). */
  total: number;
}

/** Parses the aggregate `cpu` line of `/proc/stat`. */
export function parseSystemStat(text: string): SystemCpuTicks {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new TypeError('no aggregate "cpu" line in /proc/stat');
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal [guest guest_nice]
  const [user, nice, system, idle, iowait = 0, irq = 0, softirq = 0, steal = 0] = values;
  if ([user, nice, system, idle].some((value) => !Number.isFinite(value))) {
    throw new TypeError('malformed "cpu" line in /proc/stat');
  }
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait, total };
}

let cachedClockTicks: number | undefined;

/** `getconf CLK_TCK` (the unit of /proc CPU times), read once; 100 if getconf fails. */
export function clockTicksPerSecond(): number {
  if (cachedClockTicks === undefined) {
    try {
      const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
      cachedClockTicks = Number.isInteger(value) && value > 0 ? value : 100;
    } catch {
      cachedClockTicks = 100;
    }
  }
  return cachedClockTicks;
}

/** User + system CPU time of a process in milliseconds; undefined if it is gone. */
export async function readProcessCpuMs(
  pid: number,
  ticksPerSecond = clockTicksPerSecond(),
): Promise<number | undefined> {
  try {
    const stat = parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
    return ((stat.utimeTicks + stat.stimeTicks) * 1000) / ticksPerSecond;
  } catch {
    return undefined;
  }
}

export async function readSystemCpu(): Promise<SystemCpuTicks> {
  return parseSystemStat(await readFile('/proc/stat', 'utf8'));
}

/** Pids of the live children of `ppid`, optionally only those whose comm is `comm`. */
export async function childPids(ppid: number, comm?: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = parseProcStat(await readFile(`/proc/${entry}/stat`, 'utf8'));
      if (stat.ppid === ppid && (comm === undefined || stat.comm === comm)) pids.push(stat.pid);
    } catch {
      // The process ended between readdir and readFile.
    }
  }
  return pids;
}
