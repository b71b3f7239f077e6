import { describe, expect, it } from 'vitest';
import {
  RtpHistory,
  isH264KeyframePayload,
  isRtcp,
  isRtp,
  isVp8KeyframePayload,
  parseRtcpFeedback,
  readHeaderExtension,
  rtpPayload,
  rtpSequenceNumber,
  rtpSsrc,
  withHeaderExtensions,
} from '../../src/peers/index.ts';

function rtpPacket(seq: number, ssrc: number, payload: number[], marker = false): Buffer {
  const packet = Buffer.alloc(12 + payload.length);
  packet[0] = 0x80;
  packet[1] = (marker ? 0x80 : 0) | 96;
  packet.writeUInt16BE(seq, 2);
  packet.writeUInt32BE(90_000, 4);
  packet.writeUInt32BE(ssrc, 8);
  Buffer.from(payload).copy(packet, 12);
  return packet;
}

describe('RTP header extensions', () => {
  it('adds mid and rid as one-byte elements and keeps the payload', () => {
    const packet = rtpPacket(7, 0xdeadbeef, [0x65, 1, 2, 3], true);
    const out = withHeaderExtensions(packet, [
      { id: 1, value: Buffer.from('1') },
      { id: 2, value: Buffer.from('0') },
    ]);
    expect(out[0] & 0x10).toBe(0x10);
    expect(out.readUInt16BE(12)).toBe(0xbede);
    expect(out.readUInt16BE(14)).toBe(1); // 4 bytes of elements: 2 x (1 header + 1 value).
    expect(Buffer.from(readHeaderExtension(out, 1)!).toString()).toBe('1');
    expect(Buffer.from(readHeaderExtension(out, 2)!).toString()).toBe('0');
    expect(readHeaderExtension(out, 3)).toBeUndefined();
    expect([...rtpPayload(out)]).toEqual([0x65, 1, 2, 3]);
    expect(rtpSequenceNumber(out)).toBe(7);
    expect(rtpSsrc(out)).toBe(0xdeadbeef);
    expect(out[1]).toBe(packet[1]);
  });

  it('appends to an existing one-byte block and pads to 32 bits', () => {
    const once = withHeaderExtensions(rtpPacket(1, 1, [9]), [{ id: 3, value: Buffer.from('abc') }]);
    const twice = withHeaderExtensions(once, [{ id: 4, value: Buffer.from('xy') }]);
    expect(Buffer.from(readHeaderExtension(twice, 3)!).toString()).toBe('abc');
    expect(Buffer.from(readHeaderExtension(twice, 4)!).toString()).toBe('xy');
    expect((twice.length - 12 - 1) % 4).toBe(0);
    expect([...rtpPayload(twice)]).toEqual([9]);
  });

  it('rejects invalid element ids', () => {
    expect(() =>
      withHeaderExtensions(rtpPacket(1, 1, [0]), [{ id: 15, value: Buffer.from('a') }]),
    ).toThrow(RangeError);
  });
});

describe('RTCP', () => {
  it('tells RTCP from RTP', () => {
    const sr = Buffer.from([0x80, 200, 0, 6, 0, 0, 0, 1, ...new Array<number>(20).fill(0)]);
    expect(isRtcp(sr)).toBe(true);
    expect(isRtp(sr)).toBe(false);
    expect(isRtp(rtpPacket(1, 1, [0]))).toBe(true);
  });

  it('parses generic NACK, PLI and FIR in a compound packet', () => {
    const nack = Buffer.alloc(16);
    nack[0] = 0x81;
    nack[1] = 205;
    nack.writeUInt16BE(3, 2);
    nack.writeUInt32BE(11, 4);
    nack.writeUInt32BE(22, 8);
    nack.writeUInt16BE(65535, 12); // PID.
    nack.writeUInt16BE(0b101, 14); // BLP: PID+1 and PID+3 (wrapping).
    const pli = Buffer.alloc(12);
    pli[0] = 0x81;
    pli[1] = 206;
    pli.writeUInt16BE(2, 2);
    pli.writeUInt32BE(11, 4);
    pli.writeUInt32BE(22, 8);
    const fir = Buffer.alloc(20);
    fir[0] = 0x84;
    fir[1] = 206;
    fir.writeUInt16BE(4, 2);
    fir.writeUInt32BE(11, 4);
    fir.writeUInt32BE(33, 12);
    expect(parseRtcpFeedback(Buffer.concat([nack, pli, fir]))).toEqual([
      { type: 'nack', senderSsrc: 11, mediaSsrc: 22, sequenceNumbers: [65535, 0, 2] },
      { type: 'pli', senderSsrc: 11, mediaSsrc: 22 },
      { type: 'fir', senderSsrc: 11, mediaSsrcs: [33] },
    ]);
  });
});

describe('RtpHistory', () => {
  it('returns stored packets by SSRC and sequence number until overwritten', () => {
    const history = new RtpHistory(4);
    for (let seq = 0; seq < 6; seq++) history.store(rtpPacket(seq, 5, [seq]));
    history.store(rtpPacket(0, 6, [42]));
    expect(history.get(5, 0)).toBeUndefined();
    expect(history.get(5, 2)?.[12]).toBe(2);
    expect(history.get(5, 5)?.[12]).toBe(5);
    expect(history.get(6, 0)?.[12]).toBe(42);
    expect(history.get(7, 0)).toBeUndefined();
  });
});

describe('keyframe detection', () => {
  it('finds H.264 IDR and SPS directly, in STAP-A and in the first FU-A fragment', () => {
    expect(isH264KeyframePayload(Uint8Array.of(0x65))).toBe(true);
    expect(isH264KeyframePayload(Uint8Array.of(0x67))).toBe(true);
    expect(isH264KeyframePayload(Uint8Array.of(0x41))).toBe(false);
    expect(isH264KeyframePayload(Uint8Array.of(0x78, 0, 1, 0x67, 0, 1, 0x68))).toBe(true);
    expect(isH264KeyframePayload(Uint8Array.of(0x7c, 0x85))).toBe(true);
    expect(isH264KeyframePayload(Uint8Array.of(0x7c, 0x05))).toBe(false);
  });

  it('finds VP8 keyframes from the payload descriptor and header', () => {
    expect(isVp8KeyframePayload(Uint8Array.of(0x10, 0x00))).toBe(true);
    expect(isVp8KeyframePayload(Uint8Array.of(0x10, 0x01))).toBe(false);
    // X bit with a 15-bit PictureID: descriptor is 4 bytes.
    expect(isVp8KeyframePayload(Uint8Array.of(0x90, 0x80, 0x81, 0x23, 0x00))).toBe(true);
    expect(isVp8KeyframePayload(Uint8Array.of(0x00, 0x00))).toBe(false);
  });
});
