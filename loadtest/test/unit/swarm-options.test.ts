import { describe, expect, it } from 'vitest';
import { closeInOrder } from '../../src/swarm/closeInOrder.ts';
import { StatusLine, formatProgressLine, formatSummary } from '../../src/swarm/swarmFormat.ts';
import { isLoopbackHost, resolveSwarmOptions, viewerKindAt } from '../../src/swarm/swarmOptions.ts';
import type { SwarmSummary } from '../../src/swarm/types.ts';

describe('viewerKindAt', () => {
  it('spreads decoding viewers evenly in a mix', () => {
    const kinds = Array.from({ length: 20 }, (_, i) => viewerKindAt(i, 'mix', 0.1));
    expect(kinds.filter((k) => k === 'wrtc')).toHaveLength(2);
    expect(kinds[0]).toBe('ndc');
    expect(kinds[9]).toBe('wrtc');
    expect(Array.from({ length: 4 }, (_, i) => viewerKindAt(i, 'mix', 0.5))).toEqual([
      'ndc',
      'wrtc',
      'ndc',
      'wrtc',
    ]);
  });

  it('uses one kind when not mixing', () => {
    expect(viewerKindAt(9, 'ndc', 0.1)).toBe('ndc');
    expect(viewerKindAt(0, 'wrtc', 0)).toBe('wrtc');
  });
});

describe('resolveSwarmOptions', () => {
  it('fills in the defaults', () => {
    const options = resolveSwarmOptions({ whepUrl: 'http://127.0.0.1/whep/x', viewers: 3 });
    expect(options.kind).toBe('ndc');
    expect(options.rampPerSecond).toBe(10);
    expect(options.maxDurationMs).toBe(600_000);
  });

  it('rejects values that cannot work', () => {
    const base = { whepUrl: 'http://127.0.0.1/whep/x', viewers: 3 };
    expect(() => resolveSwarmOptions({ ...base, viewers: -1 })).toThrow(TypeError);
    expect(() => resolveSwarmOptions({ ...base, viewers: 1.5 })).toThrow(TypeError);
    expect(() => resolveSwarmOptions({ ...base, rampPerSecond: 0 })).toThrow(TypeError);
    expect(() => resolveSwarmOptions({ ...base, wrtcShare: 2 })).toThrow(TypeError);
    expect(() => resolveSwarmOptions({ ...base, kind: 'x' as 'ndc' })).toThrow(TypeError);
    expect(() => resolveSwarmOptions({ ...base, whepUrl: '' })).toThrow(TypeError);
  });
});

describe('isLoopbackHost', () => {
  it('accepts loopback names and addresses only', () => {
    for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]', 'LOCALHOST']) {
      expect(isLoopbackHost(host), host).toBe(true);
    }
    for (const host of ['example.com', '10.0.0.1', '0.0.0.0', '128.0.0.1', 'localhost.evil.com']) {
      expect(isLoopbackHost(host), host).toBe(false);
    }
  });
});

describe('formatting', () => {
  it('makes one progress line', () => {
    const line = formatProgressLine({
      elapsedMs: 12_300,
      counts: {
        target: 50,
        started: 40,
        joining: 2,
        connected: 37,
        disconnected: 0,
        failed: 1,
        closed: 0,
        receiving: 37,
      },
      medianKbps: 702.4,
      minKbps: 650.2,
      totalLossPct: 0,
    });
    expect(line).toBe(
      '[ 12s] viewers 37/50 connected, 2 joining, 1 failed | 37 receiving, 702 kbps/viewer (min 650) | loss 0.00%',
    );
    expect(line).not.toContain('\n');
  });

  it('prints a summary with every distribution row', () => {
    const summary: SwarmSummary = {
      elapsedMs: 30_000,
      counts: {
        target: 2,
        started: 2,
        joining: 0,
        connected: 2,
        disconnected: 0,
        failed: 0,
        closed: 0,
        receiving: 2,
      },
      byKind: { ndc: 2, wrtc: 0 },
      postMs: { count: 2, min: 5, p50: 6, p95: 7, max: 7, mean: 6 },
      connectMs: undefined,
      firstPacketMs: undefined,
      firstFrameMs: undefined,
      bitrateKbps: undefined,
      averageKbps: undefined,
      lossPct: undefined,
      totalLossPct: undefined,
      errors: { 'HTTP 409: not live': 1 },
    };
    const text = formatSummary(summary).join('\n');
    expect(text).toContain('WHEP POST (ms)');
    expect(text).toContain('1 x HTTP 409: not live');
  });

  it('writes separate lines when the stream is not a terminal', () => {
    const written: string[] = [];
    const stream = {
      isTTY: false,
      write: (s: string) => written.push(s),
    } as unknown as NodeJS.WriteStream;
    const status = new StatusLine(stream);
    status.update('a');
    status.update('b');
    status.done();
    expect(written).toEqual(['a\n', 'b\n']);
  });

  it('rewrites one line in place on a terminal', () => {
    const written: string[] = [];
    const stream = {
      isTTY: true,
      columns: 10,
      write: (s: string) => written.push(s),
    } as unknown as NodeJS.WriteStream;
    const status = new StatusLine(stream);
    status.update('0123456789abc');
    status.done();
    expect(written).toEqual(['\r\x1b[2K012345678', '\n']);
  });
});

describe('closeInOrder', () => {
  it('runs every step even after a failure and rethrows the first error', async () => {
    const ran: string[] = [];
    await expect(
      closeInOrder([
        () => ran.push('a'),
        () => Promise.reject(new Error('first')),
        () => {
          throw new Error('second');
        },
        () => Promise.resolve().then(() => ran.push('d')),
      ]),
    ).rejects.toThrow('first');
    expect(ran).toEqual(['a', 'd']);
  });
});
