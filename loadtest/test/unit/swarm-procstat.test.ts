import { describe, expect, it } from 'vitest';
import { cpuBetween, type CpuSample } from '../../src/capacity/cpuSampler.ts';
import {
  childPids,
  clockTicksPerSecond,
  parseProcStat,
  parseSystemStat,
  readProcessCpuMs,
} from '../../src/capacity/procStat.ts';

// A real line of a mediasoup worker (fields after stime shortened).
const WORKER_STAT =
  '4242 (mediasoup-worker) S 4100 4100 3900 34817 4100 4194560 2750 0 0 0 1234 567 0 0 20 0 1 0 123456 50331648 4500';

describe('parseProcStat', () => {
  it('reads pid, comm, state, ppid, utime and stime', () => {
    expect(parseProcStat(WORKER_STAT)).toEqual({
      pid: 4242,
      comm: 'mediasoup-worker',
      state: 'S',
      ppid: 4100,
      utimeTicks: 1234,
      stimeTicks: 567,
    });
  });

  it('copes with spaces and parentheses inside the comm field', () => {
    const stat = parseProcStat(
      '77 (my (odd) proc) R 1 77 77 0 -1 4194304 100 0 0 0 9 8 0 0 20 0 1 0 5 1000 10\n',
    );
    expect(stat.comm).toBe('my (odd) proc');
    expect(stat.state).toBe('R');
    expect(stat.ppid).toBe(1);
    expect(stat.utimeTicks).toBe(9);
    expect(stat.stimeTicks).toBe(8);
  });

  it('throws on something that is not a stat line', () => {
    expect(() => parseProcStat('hello')).toThrow(TypeError);
    expect(() => parseProcStat('12 (short) S 1 2')).toThrow(TypeError);
  });
});

describe('parseSystemStat', () => {
  it('sums busy and total ticks of the aggregate line, idle and iowait not busy', () => {
    const text = [
      'cpu  100 5 50 800 20 3 2 0 0 0',
      'cpu0 50 2 25 400 10 1 1 0 0 0',
      'intr 12345',
    ].join('\n');
    expect(parseSystemStat(text)).toEqual({ busy: 100 + 5 + 50 + 3 + 2, total: 980 });
  });

  it('throws without an aggregate cpu line', () => {
    expect(() => parseSystemStat('cpu0 1 2 3 4\n')).toThrow(TypeError);
  });
});

describe('cpuBetween', () => {
  const sample = (at: number, workers: number | undefined, selfMicros: number, busy: number) =>
    ({
      at,
      groups: { workers },
      self: { user: selfMicros, system: 0 },
      system: { busy, total: busy * 4 },
    }) satisfies CpuSample;

  it('gives each group, this process and the machine as % of one core', () => {
    const window = cpuBetween(sample(0, 1000, 0, 100), sample(2000, 1500, 400_000, 300), 2);
    expect(window.wallMs).toBe(2000);
    expect(window.groups.workers).toBeCloseTo(25);
    expect(window.selfPct).toBeCloseTo(20);
    // A quarter of all ticks busy on 2 cores is half a core.
    expect(window.machinePct).toBeCloseTo(50);
  });

  it('leaves a group undefined when one of its processes vanished', () => {
    const window = cpuBetween(sample(0, 1000, 0, 1), sample(1000, undefined, 0, 2), 2);
    expect(window.groups.workers).toBeUndefined();
  });

  it('refuses a window that does not move forward', () => {
    expect(() => cpuBetween(sample(5, 0, 0, 1), sample(5, 0, 0, 1))).toThrow(RangeError);
  });
});

describe('reading /proc', () => {
  it('reads this process and finds no ffmpeg child of it', async () => {
    expect(clockTicksPerSecond()).toBeGreaterThan(0);
    const before = await readProcessCpuMs(process.pid);
    expect(before).toBeGreaterThanOrEqual(0);
    expect(await readProcessCpuMs(2 ** 22 + 12345)).toBeUndefined();
    expect(await childPids(process.pid, 'no-such-comm')).toEqual([]);
  });
});
