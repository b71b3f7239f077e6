/**
 * The VP8 payload descriptor (RFC 7741 section 4.2) as GstVp8Publisher checks it: it must
 * tell a descriptor without PictureID (GStreamer's default) from one with, and find where the
 * frame data starts behind every optional field.
 */
import { describe, expect, it } from 'vitest';
import {
  isVp8KeyframePayload,
  parseVp8PayloadDescriptor,
  rtpPayload,
  rtpPayloadType,
  rtpSequenceNumber,
  rtpSsrc,
  rtpTimestamp,
  withSsrcAndPayloadType,
} from '../../src/peers/index.ts';

describe('parseVp8PayloadDescriptor', () => {
  it('reads the one-byte descriptor of picture-id-mode=none (X = 0)', () => {
    // What rtpvp8pay sends by default: S = 1, PID 0, then a keyframe's VP8 header.
    const descriptor = parseVp8PayloadDescriptor(Uint8Array.of(0x10, 0xf0, 0x39, 0x00));
    expect(descriptor).toMatchObject({
      extended: false,
      start: true,
      partitionIndex: 0,
      pictureId: undefined,
      payloadOffset: 1,
    });
  });

  it('reads no PictureID when X = 1 but I = 0', () => {
    const descriptor = parseVp8PayloadDescriptor(Uint8Array.of(0x90, 0x40, 0x07, 0x00));
    expect(descriptor).toMatchObject({ pictureId: undefined, tl0PicIdx: 7, payloadOffset: 3 });
  });

  it('reads 7-bit and 15-bit PictureIDs', () => {
    expect(parseVp8PayloadDescriptor(Uint8Array.of(0x90, 0x80, 0x2a, 0x00))).toMatchObject({
      pictureId: 0x2a,
      payloadOffset: 3,
    });
    expect(parseVp8PayloadDescriptor(Uint8Array.of(0x90, 0x80, 0xad, 0xf7, 0x00))).toMatchObject({
      pictureId: 0x2df7,
      payloadOffset: 4,
    });
  });

  it('skips TL0PICIDX and the TID/KEYIDX byte', () => {
    const descriptor = parseVp8PayloadDescriptor(
      Uint8Array.of(0x90, 0xf0, 0x81, 0x02, 0x09, 0x40, 0x00),
    );
    expect(descriptor).toMatchObject({ pictureId: 0x102, tl0PicIdx: 9, payloadOffset: 6 });
  });

  it('rejects descriptors that end early, as mediasoup does', () => {
    expect(parseVp8PayloadDescriptor(Uint8Array.of())).toBeUndefined();
    expect(parseVp8PayloadDescriptor(Uint8Array.of(0x90))).toBeUndefined();
    expect(parseVp8PayloadDescriptor(Uint8Array.of(0x90, 0x80))).toBeUndefined();
    expect(parseVp8PayloadDescriptor(Uint8Array.of(0x90, 0x80, 0x80))).toBeUndefined();
    expect(parseVp8PayloadDescriptor(Uint8Array.of(0x90, 0x40))).toBeUndefined();
    expect(parseVp8PayloadDescriptor(Uint8Array.of(0x90, 0x20))).toBeUndefined();
  });

  it('finds keyframes behind a descriptor without PictureID only at a partition start', () => {
    expect(isVp8KeyframePayload(Uint8Array.of(0x10, 0xf0))).toBe(true);
    expect(isVp8KeyframePayload(Uint8Array.of(0x10, 0xf1))).toBe(false); // P bit: inter frame.
    expect(isVp8KeyframePayload(Uint8Array.of(0x00, 0xf0))).toBe(false); // Not S.
    expect(isVp8KeyframePayload(Uint8Array.of(0x11, 0xf0))).toBe(false); // Partition 1.
    expect(isVp8KeyframePayload(Uint8Array.of(0x10))).toBe(false); // No VP8 header.
    expect(isVp8KeyframePayload(Uint8Array.of(0x90, 0x80))).toBe(false); // Truncated.
  });
});

describe('withSsrcAndPayloadType', () => {
  it('rewrites SSRC and payload type and keeps everything else byte for byte', () => {
    const packet = Buffer.from('80e0630997d7b86a544027681090f03900aabbcc', 'hex');
    const out = withSsrcAndPayloadType(packet, 0xfedcba98, 100);
    expect(rtpSsrc(out)).toBe(0xfedcba98);
    expect(rtpPayloadType(out)).toBe(100);
    expect(out[1] & 0x80).toBe(0x80); // The marker bit stays.
    expect(rtpSequenceNumber(out)).toBe(rtpSequenceNumber(packet));
    expect(rtpTimestamp(out)).toBe(rtpTimestamp(packet));
    expect(Buffer.from(rtpPayload(out)).equals(Buffer.from(rtpPayload(packet)))).toBe(true);
    expect(rtpSsrc(packet)).toBe(0x54402768); // The input is not modified.
    expect(() => withSsrcAndPayloadType(packet, 1, 128)).toThrow(RangeError);
  });
});
