import { rtpSequenceNumber, rtpSsrc } from './rtp.ts';

/**
 * The last N sent RTP packets per SSRC, indexed by sequence number, so NACKed packets can be
 * sent again (RFC 4585 generic NACK, answered by plain retransmission like libdatachannel's
 * `RtcpNackResponder`, which OBS uses; no RTX).
 */
export class RtpHistory {
  readonly #mask: number;
  readonly #streams = new Map<number, (Buffer | undefined)[]>();

  /** `capacity` is rounded up to a power of two. OBS keeps 4000 video packets. */
  constructor(capacity = 4096) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 65536) {
      throw new TypeError(`capacity must be an integer in 1..65536, got ${capacity}`);
    }
    const size = 2 ** Math.ceil(Math.log2(capacity));
    this.#mask = size - 1;
  }

  store(packet: Buffer): void {
    const ssrc = rtpSsrc(packet);
    let ring = this.#streams.get(ssrc);
    if (!ring) {
      ring = new Array<Buffer | undefined>(this.#mask + 1);
      this.#streams.set(ssrc, ring);
    }
    ring[rtpSequenceNumber(packet) & this.#mask] = packet;
  }

  /** The stored packet with this SSRC and sequence number, if it has not been overwritten. */
  get(ssrc: number, sequenceNumber: number): Buffer | undefined {
    const packet = this.#streams.get(ssrc)?.[sequenceNumber & this.#mask];
    return packet && rtpSequenceNumber(packet) === sequenceNumber ? packet : undefined;
  }

  clear(): void {
    this.#streams.clear();
  }
}
