/**
 * Packet loss from RTP sequence-number gaps, per SSRC, the way an RTP receiver counts it for
 * its receiver reports (RFC 3550 section 6.4.1 and appendix A.3): expected = highest extended
 * sequence number - first + 1, lost = expected - received. The 16-bit sequence number wraps
 * at 65536; the extended number adds a cycle count, so 65535 -> 0 is no gap.
 *
 * Simplifications against appendix A.3, fine for a load generator: no probation for a new
 * source, and a jump of more than `MAX_DROPOUT` forward is taken as a restarted sender (the
 * count starts again from there) instead of as thousands of lost packets. A packet more than
 * `MAX_MISORDER` behind the highest is counted as received but cannot lower the loss below 0.
 */
import { rtpSequenceNumber, rtpSsrc } from '../peers/rtp.ts';

const SEQ_MOD = 0x1_0000;
/** RFC 3550 appendix A.1's defaults. */
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;

export interface LossCounts {
  /** Packets the sender numbered from the first seen to the highest seen. */
  expected: number;
  /** Packets that arrived (duplicates of the highest sequence number not counted twice). */
  received: number;
  /** max(0, expected - received). */
  lost: number;
}

/** One SSRC's sequence-number state. */
export class SequenceLossCounter {
  #base = 0;
  #maxSeq = 0;
  #cycles = 0;
  #received = 0;
  #started = false;
  #restartedExpected = 0;
  #restartedReceived = 0;

  /** Feeds one packet's 16-bit sequence number. */
  push(sequenceNumber: number): void {
    if (!Number.isInteger(sequenceNumber) || sequenceNumber < 0 || sequenceNumber >= SEQ_MOD) {
      throw new TypeError(`an RTP sequence number is 0..65535, got ${sequenceNumber}`);
    }
    if (!this.#started) {
      this.#started = true;
      this.#base = sequenceNumber;
      this.#maxSeq = sequenceNumber;
      this.#received = 1;
      return;
    }
    const delta = (sequenceNumber - this.#maxSeq + SEQ_MOD) % SEQ_MOD;
    if (delta === 0) return; // A duplicate of the highest packet.
    if (delta < MAX_DROPOUT) {
      // In order, possibly with a gap; crossing 65535 -> 0 adds a cycle.
      if (sequenceNumber < this.#maxSeq) this.#cycles += SEQ_MOD;
      this.#maxSeq = sequenceNumber;
      this.#received++;
    } else if (delta >= SEQ_MOD - MAX_MISORDER) {
      // Late (reordered or retransmitted): it arrived, but the highest stays.
      this.#received++;
    } else {
      // A jump too large to be loss: the sender restarted its numbering. Keep what was
      // counted so far and count afresh from here.
      const counts = this.counts();
      this.#restartedExpected += counts.expected;
      this.#restartedReceived += counts.received;
      this.#base = sequenceNumber;
      this.#maxSeq = sequenceNumber;
      this.#cycles = 0;
      this.#received = 1;
    }
  }

  counts(): LossCounts {
    if (!this.#started) return { expected: 0, received: 0, lost: 0 };
    const expected = this.#restartedExpected + this.#cycles + this.#maxSeq - this.#base + 1;
    const received = this.#restartedReceived + this.#received;
    return { expected, received, lost: Math.max(0, expected - received) };
  }
}

/** Loss over every SSRC of one receiver (audio, video, simulcast layers). */
export class RtpLossTracker {
  readonly #bySsrc = new Map<number, SequenceLossCounter>();

  /** Feeds one RTP packet (RTCP must be filtered out before). */
  pushPacket(packet: Uint8Array): void {
    this.push(rtpSsrc(packet), rtpSequenceNumber(packet));
  }

  push(ssrc: number, sequenceNumber: number): void {
    let counter = this.#bySsrc.get(ssrc);
    if (!counter) {
      counter = new SequenceLossCounter();
      this.#bySsrc.set(ssrc, counter);
    }
    counter.push(sequenceNumber);
  }

  counts(): LossCounts {
    const total: LossCounts = { expected: 0, received: 0, lost: 0 };
    for (const counter of this.#bySsrc.values()) {
      const counts = counter.counts();
      total.expected += counts.expected;
      total.received += counts.received;
      total.lost += counts.lost;
    }
    return total;
  }
}

/** Lost packets as a percentage of expected ones; undefined when nothing was expected. */
export function lossPercent(lost: number, expected: number): number | undefined {
  return expected > 0 ? (100 * Math.max(0, lost)) / expected : undefined;
}
