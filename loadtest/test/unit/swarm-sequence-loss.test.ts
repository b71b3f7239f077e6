import { describe, expect, it } from 'vitest';
import { RtpLossTracker, SequenceLossCounter, lossPercent } from '../../src/swarm/sequenceLoss.ts';

function counted(sequence: number[]): ReturnType<SequenceLossCounter['counts']> {
  const counter = new SequenceLossCounter();
  for (const seq of sequence) counter.push(seq);
  return counter.counts();
}

function rtpPacket(ssrc: number, seq: number): Buffer {
  const packet = Buffer.alloc(20);
  packet[0] = 0x80;
  packet[1] = 96;
  packet.writeUInt16BE(seq, 2);
  packet.writeUInt32BE(ssrc, 8);
  return packet;
}

describe('SequenceLossCounter', () => {
  it('counts nothing lost for an unbroken run', () => {
    expect(counted([100, 101, 102, 103])).toEqual({ expected: 4, received: 4, lost: 0 });
  });

  it('counts the packets in a gap', () => {
    expect(counted([10, 11, 14, 15])).toEqual({ expected: 6, received: 4, lost: 2 });
  });

  it('does not see a gap where the 16-bit number wraps', () => {
    expect(counted([65534, 65535, 0, 1])).toEqual({ expected: 4, received: 4, lost: 0 });
  });

  it('counts a gap across the wrap', () => {
    // 65535 and 0 are missing.
    expect(counted([65533, 65534, 1, 2])).toEqual({ expected: 6, received: 4, lost: 2 });
  });

  it('keeps counting over several cycles', () => {
    const sequence: number[] = [];
    for (let i = 0; i < 3 * 65536 + 10; i++) if (i % 1000 !== 500) sequence.push(i % 65536);
    const counts = counted(sequence);
    expect(counts.expected).toBe(3 * 65536 + 10);
    expect(counts.lost).toBe(Math.ceil((3 * 65536 + 10 - 500) / 1000));
  });

  it('takes a late (reordered) packet as received, not as a new gap', () => {
    expect(counted([1, 2, 4, 3, 5])).toEqual({ expected: 5, received: 5, lost: 0 });
    // Reordered across the wrap.
    expect(counted([65534, 0, 65535, 1])).toEqual({ expected: 4, received: 4, lost: 0 });
  });

  it('does not count a duplicate of the highest packet twice', () => {
    expect(counted([7, 8, 8, 9])).toEqual({ expected: 3, received: 3, lost: 0 });
  });

  it('treats a huge jump as a restarted sender, not as lost packets', () => {
    const counts = counted([100, 101, 30_000, 30_001, 30_003]);
    expect(counts).toEqual({ expected: 2 + 4, received: 5, lost: 1 });
  });

  it('rejects what is not a 16-bit sequence number', () => {
    expect(() => new SequenceLossCounter().push(65536)).toThrow(TypeError);
    expect(() => new SequenceLossCounter().push(-1)).toThrow(TypeError);
  });

  it('reports zeros before the first packet', () => {
    expect(new SequenceLossCounter().counts()).toEqual({ expected: 0, received: 0, lost: 0 });
  });
});

describe('RtpLossTracker', () => {
  it('counts each SSRC on its own and sums them', () => {
    const tracker = new RtpLossTracker();
    for (const seq of [1, 2, 4]) tracker.pushPacket(rtpPacket(0xaaaa, seq));
    for (const seq of [65535, 0, 3]) tracker.pushPacket(rtpPacket(0xbbbb, seq));
    expect(tracker.counts()).toEqual({ expected: 4 + 5, received: 6, lost: 1 + 2 });
  });
});

describe('lossPercent', () => {
  it('is a percentage of expected packets, undefined when none were expected', () => {
    expect(lossPercent(1, 200)).toBe(0.5);
    expect(lossPercent(0, 0)).toBeUndefined();
  });
});
