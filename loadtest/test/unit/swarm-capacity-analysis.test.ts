import { describe, expect, it } from 'vitest';
import {
  analyzeCapacity,
  stabilityProblems,
  viewerWindow,
  type CapacityStep,
} from '../../src/capacity/analysis.ts';
import type { SwarmSnapshot, ViewerSnapshot } from '../../src/swarm/types.ts';

function viewer(
  index: number,
  packets: number,
  bytes: number,
  state = 'connected',
): ViewerSnapshot {
  return {
    index,
    kind: 'ndc',
    state: state as ViewerSnapshot['state'],
    packets,
    bytes,
    packetsLost: undefined,
  };
}

function step(
  viewers: number,
  workerCpuPct: number,
  extra: Partial<CapacityStep> = {},
): CapacityStep {
  return {
    viewers,
    connected: viewers,
    receiving: viewers,
    serverViewers: viewers,
    windowMs: 10_000,
    workerCpuPct,
    workerRusageCpuPct: workerCpuPct,
    generatorCpuPct: 2 * workerCpuPct,
    ffmpegCpuPct: 7,
    machineCpuPct: 50,
    otherCpuPct: 10,
    attempts: 1,
    ingressKbps: 700,
    ingressVideoKbps: 610,
    ingressPacketsPerSecond: 145,
    medianKbpsPerViewer: viewers > 0 ? 710 : undefined,
    minKbpsPerViewer: viewers > 0 ? 705 : undefined,
    lossPct: viewers > 0 ? 0 : undefined,
    maxViewerLossPct: viewers > 0 ? 0 : undefined,
    ...extra,
  };
}

describe('viewerWindow', () => {
  const before: SwarmSnapshot = {
    at: 1000,
    viewers: [viewer(0, 100, 10_000), viewer(1, 100, 10_000), viewer(2, 100, 10_000)],
  };

  it('gives each connected viewer its bitrate and the loss against what was sent', () => {
    const after: SwarmSnapshot = {
      at: 3000,
      viewers: [
        viewer(0, 300, 10_000 + 250_000),
        viewer(1, 290, 10_000 + 200_000),
        // Joined during the window: not measured.
        viewer(3, 50, 5000),
      ],
    };
    const window = viewerWindow(before, after, 200);
    expect(window.connected).toBe(2);
    expect(window.receiving).toBe(2);
    // 250 kB in 2 s is 1000 kbps; 200 kB is 800 kbps.
    expect(window.kbps).toEqual([1000, 800]);
    // 10 of 2 x 200 packets missing.
    expect(window.lossPct).toBeCloseTo(2.5);
    expect(window.maxViewerLossPct).toBeCloseTo(5);
  });

  it('leaves out viewers that are no longer connected', () => {
    const after: SwarmSnapshot = {
      at: 2000,
      viewers: [viewer(0, 200, 20_000), viewer(1, 100, 10_000, 'failed')],
    };
    const window = viewerWindow(before, after, 100);
    expect(window.connected).toBe(1);
    expect(window.lossPct).toBe(0);
  });

  it('counts a viewer that received more than was sent (window edges) as no loss', () => {
    const after: SwarmSnapshot = { at: 2000, viewers: [viewer(0, 205, 20_000)] };
    expect(viewerWindow(before, after, 100).lossPct).toBe(0);
  });

  it('has no loss figure without viewers', () => {
    expect(viewerWindow(before, { at: 2000, viewers: [] }, 100).lossPct).toBeUndefined();
  });
});

describe('stabilityProblems', () => {
  it('accepts a healthy step and the empty step', () => {
    expect(stabilityProblems(step(50, 10))).toEqual([]);
    expect(stabilityProblems(step(0, 1))).toEqual([]);
  });

  it('names every broken criterion', () => {
    const problems = stabilityProblems(
      step(50, 10, { connected: 48, receiving: 47, lossPct: 1.5, minKbpsPerViewer: 600 }),
    );
    expect(problems).toHaveLength(4);
    expect(problems[0]).toContain('48/50 connected');
    expect(problems.join(' ')).toContain('loss 1.50%');
    expect(problems.join(' ')).toContain('600 kbps < 630 kbps');
  });
});

describe('analyzeCapacity', () => {
  it('leaves steps where the machine was saturated out of the fit', () => {
    // 0.2 % per viewer while the machine has headroom; past 150 % of 200 % the worker is
    // starved and its CPU flattens, which must not pull the slope down.
    const steps = [
      step(0, 1, { machineCpuPct: 20 }),
      step(50, 11, { machineCpuPct: 60 }),
      step(100, 21, { machineCpuPct: 110 }),
      step(200, 30, { machineCpuPct: 180 }),
      step(300, 32, { machineCpuPct: 195 }),
    ];
    const saturated = analyzeCapacity(steps);
    const headroom = analyzeCapacity(steps, undefined, { capacityPct: 200, saturationShare: 0.75 });
    expect(saturated.cpuPerViewerPct!).toBeLessThan(0.12);
    expect(headroom.cpuPerViewerPct).toBeCloseTo(0.2, 10);
    expect(headroom.fitOver).toBe('stable steps with CPU headroom');
    expect(headroom.fit?.n).toBe(3);
    expect(headroom.maxStableViewers).toBe(300);
  });

  it('fits CPU per viewer over stable steps and extrapolates viewers per core', () => {
    const steps = [step(0, 1), step(10, 3), step(25, 6), step(50, 11), step(100, 21)];
    const analysis = analyzeCapacity(steps);
    expect(analysis.cpuPerViewerPct).toBeCloseTo(0.2, 10);
    expect(analysis.viewersPerCore).toBeCloseTo(500, 6);
    expect(analysis.fit?.intercept).toBeCloseTo(1, 10);
    expect(analysis.generatorCpuPerViewerPct).toBeCloseTo(0.4, 10);
    expect(analysis.maxStableViewers).toBe(100);
    expect(analysis.fitOver).toBe('stable steps');
    // (3 - 1) % over 10 viewers = 0.2 % of a core each = 2 ms of CPU per second.
    expect(analysis.marginalMsPerViewerSecond[0]).toBeUndefined();
    expect(analysis.marginalMsPerViewerSecond[1]).toBeCloseTo(2);
  });

  it('leaves unstable steps out of the fit and the maximum', () => {
    const steps = [step(0, 1), step(10, 3), step(25, 6), step(50, 40, { lossPct: 5 })];
    const analysis = analyzeCapacity(steps);
    expect(analysis.stable).toEqual([true, true, true, false]);
    expect(analysis.maxStableViewers).toBe(25);
    expect(analysis.cpuPerViewerPct).toBeCloseTo(0.2, 1);
  });

  it('falls back to every step with fewer than two stable ones', () => {
    const steps = [step(0, 1), step(10, 3, { connected: 5 })];
    const analysis = analyzeCapacity(steps);
    expect(analysis.fitOver).toBe('all steps');
    expect(analysis.maxStableViewers).toBe(0);
  });

  it('gives no viewers-per-core figure for a flat or falling line', () => {
    const analysis = analyzeCapacity([step(0, 2), step(5, 2), step(10, 2)]);
    expect(analysis.cpuPerViewerPct).toBe(0);
    expect(analysis.viewersPerCore).toBeUndefined();
  });
});
