/**
 * Pure RTP/RTCP byte helpers (RFC 3550, RFC 8285 header extensions, RFC 4585 feedback). Just
 * enough to rewrite ffmpeg's packets the way OBS's libdatachannel packetizer writes them, to
 * answer NACKs, and to count what a receiver gets. No allocation on the read paths.
 */

export const RTP_HEADER_SIZE = 12;

/** The one-byte header extension profile of RFC 8285 section 4.2. */
const ONE_BYTE_PROFILE = 0xbede;

/**
 * RTCP and RTP share a port (RFC 5761 section 4): the second byte of RTCP is a packet type in
 * 192..223, which as RTP would be marker bit plus payload type 64..95, a range RTP avoids.
 */
export function isRtcp(packet: Uint8Array): boolean {
  return packet.length >= 8 && packet[1] >= 192 && packet[1] <= 223;
}

/** True for a version-2 packet long enough to hold an RTP header. */
export function isRtp(packet: Uint8Array): boolean {
  return packet.length >= RTP_HEADER_SIZE && packet[0] >> 6 === 2 && !isRtcp(packet);
}

export function rtpPayloadType(packet: Uint8Array): number {
  return packet[1] & 0x7f;
}

export function rtpMarker(packet: Uint8Array): boolean {
  return (packet[1] & 0x80) !== 0;
}

export function rtpSequenceNumber(packet: Uint8Array): number {
  return (packet[2] << 8) | packet[3];
}

export function rtpTimestamp(packet: Uint8Array): number {
  return readUint32(packet, 4);
}

export function rtpSsrc(packet: Uint8Array): number {
  return readUint32(packet, 8);
}

/** Offset of the payload: after the fixed header, CSRCs and any header extension. */
export function rtpPayloadOffset(packet: Uint8Array): number {
  const csrcCount = packet[0] & 0x0f;
  let offset = RTP_HEADER_SIZE + 4 * csrcCount;
  if (packet[0] & 0x10) {
    if (packet.length < offset + 4) return packet.length;
    const words = (packet[offset + 2] << 8) | packet[offset + 3];
    offset += 4 + 4 * words;
  }
  return Math.min(offset, packet.length);
}

/** The payload without padding (RFC 3550 section 5.1, P bit). */
export function rtpPayload(packet: Uint8Array): Uint8Array {
  const start = rtpPayloadOffset(packet);
  let end = packet.length;
  if (packet[0] & 0x20 && end > start) end -= packet[end - 1];
  return packet.subarray(start, Math.max(start, end));
}

export interface HeaderExtensionElement {
  /** Local identifier 1..14 negotiated with `a=extmap`. */
  id: number;
  /** 1..16 bytes. */
  value: Uint8Array;
}

/**
 * Returns a copy of `packet` carrying the given one-byte header extension elements (RFC 8285
 * section 4.2), e.g. `sdes:mid` and `sdes:rtp-stream-id` as OBS's packetizer adds them.
 * Elements already present are kept; a packet with a two-byte extension block is returned
 * unchanged.
 */
export function withHeaderExtensions(
  packet: Uint8Array,
  elements: readonly HeaderExtensionElement[],
): Buffer {
  const csrcEnd = RTP_HEADER_SIZE + 4 * (packet[0] & 0x0f);
  let existing: Uint8Array = new Uint8Array(0);
  let payloadStart = csrcEnd;
  if (packet[0] & 0x10) {
    const profile = (packet[csrcEnd] << 8) | packet[csrcEnd + 1];
    const words = (packet[csrcEnd + 2] << 8) | packet[csrcEnd + 3];
    if (profile !== ONE_BYTE_PROFILE) return Buffer.from(packet);
    existing = trimPadding(packet.subarray(csrcEnd + 4, csrcEnd + 4 + 4 * words));
    payloadStart = csrcEnd + 4 + 4 * words;
  }

  let dataLength = existing.length;
  for (const element of elements) {
    if (
      element.id < 1 ||
      element.id > 14 ||
      element.value.length < 1 ||
      element.value.length > 16
    ) {
      throw new RangeError(`Invalid one-byte header extension element (id ${element.id})`);
    }
    dataLength += 1 + element.value.length;
  }
  const paddedLength = Math.ceil(dataLength / 4) * 4;

  const out = Buffer.alloc(csrcEnd + 4 + paddedLength + (packet.length - payloadStart));
  out.set(packet.subarray(0, csrcEnd), 0);
  out[0] = out[0] | 0x10;
  out.writeUInt16BE(ONE_BYTE_PROFILE, csrcEnd);
  out.writeUInt16BE(paddedLength / 4, csrcEnd + 2);
  let offset = csrcEnd + 4;
  out.set(existing, offset);
  offset += existing.length;
  for (const element of elements) {
    out[offset++] = (element.id << 4) | (element.value.length - 1);
    out.set(element.value, offset);
    offset += element.value.length;
  }
  out.set(packet.subarray(payloadStart), csrcEnd + 4 + paddedLength);
  return out;
}

/** Reads one element of a one-byte or two-byte header extension block, if present. */
export function readHeaderExtension(packet: Uint8Array, id: number): Uint8Array | undefined {
  if (!(packet[0] & 0x10)) return undefined;
  const start = RTP_HEADER_SIZE + 4 * (packet[0] & 0x0f);
  if (packet.length < start + 4) return undefined;
  const profile = (packet[start] << 8) | packet[start + 1];
  const end = Math.min(
    packet.length,
    start + 4 + 4 * ((packet[start + 2] << 8) | packet[start + 3]),
  );
  const twoByte = (profile & 0xfff0) === 0x1000;
  if (profile !== ONE_BYTE_PROFILE && !twoByte) return undefined;
  let offset = start + 4;
  while (offset < end) {
    if (packet[offset] === 0) {
      offset++; // Padding byte between elements.
      continue;
    }
    let elementId: number;
    let length: number;
    if (twoByte) {
      elementId = packet[offset]!;
      length = packet[offset + 1] ?? 0;
      offset += 2;
    } else {
      elementId = packet[offset] >> 4;
      length = (packet[offset] & 0x0f) + 1;
      offset += 1;
      if (elementId === 15) return undefined; // Reserved: stop parsing (RFC 8285 4.2).
    }
    if (elementId === id) return packet.subarray(offset, Math.min(offset + length, end));
    offset += length;
  }
  return undefined;
}

export type RtcpFeedback =
  | { type: 'nack'; senderSsrc: number; mediaSsrc: number; sequenceNumbers: number[] }
  | { type: 'pli'; senderSsrc: number; mediaSsrc: number }
  | { type: 'fir'; senderSsrc: number; mediaSsrcs: number[] };

/**
 * Extracts generic NACKs (RFC 4585 6.2.1), PLIs (6.3.1) and FIRs (RFC 5104 4.3.1) from a
 * compound RTCP packet; other packet types are skipped.
 */
export function parseRtcpFeedback(packet: Uint8Array): RtcpFeedback[] {
  const result: RtcpFeedback[] = [];
  let offset = 0;
  while (offset + 4 <= packet.length) {
    const format = packet[offset] & 0x1f;
    const type = packet[offset + 1];
    const length = 4 * (((packet[offset + 2] << 8) | packet[offset + 3]) + 1);
    const end = offset + length;
    if (end > packet.length) break;
    if ((type === 205 || type === 206) && length >= 12) {
      const senderSsrc = readUint32(packet, offset + 4);
      const mediaSsrc = readUint32(packet, offset + 8);
      if (type === 205 && format === 1) {
        const sequenceNumbers: number[] = [];
        for (let fci = offset + 12; fci + 4 <= end; fci += 4) {
          const pid = (packet[fci] << 8) | packet[fci + 1];
          const blp = (packet[fci + 2] << 8) | packet[fci + 3];
          sequenceNumbers.push(pid);
          for (let bit = 0; bit < 16; bit++) {
            if (blp & (1 << bit)) sequenceNumbers.push((pid + bit + 1) & 0xffff);
          }
        }
        result.push({ type: 'nack', senderSsrc, mediaSsrc, sequenceNumbers });
      } else if (type === 206 && format === 1) {
        result.push({ type: 'pli', senderSsrc, mediaSsrc });
      } else if (type === 206 && format === 4) {
        const mediaSsrcs: number[] = [];
        for (let fci = offset + 12; fci + 8 <= end; fci += 8)
          mediaSsrcs.push(readUint32(packet, fci));
        result.push({ type: 'fir', senderSsrc, mediaSsrcs });
      }
    }
    offset = end;
  }
  return result;
}

/**
 * Whether an H.264 RTP payload (RFC 6184) starts or carries a keyframe: an IDR slice (type 5)
 * or SPS (type 7), directly, inside a STAP-A, or as the first fragment of an FU-A.
 */
export function isH264KeyframePayload(payload: Uint8Array): boolean {
  if (payload.length < 1) return false;
  const nalType = payload[0] & 0x1f;
  if (nalType === 5 || nalType === 7) return true;
  if (nalType === 24) {
    let offset = 1;
    while (offset + 2 < payload.length) {
      const size = (payload[offset] << 8) | payload[offset + 1];
      const inner = payload[offset + 2] & 0x1f;
      if (inner === 5 || inner === 7) return true;
      offset += 2 + size;
    }
    return false;
  }
  if (nalType === 28 && payload.length >= 2) {
    const start = (payload[1] & 0x80) !== 0;
    const inner = payload[1] & 0x1f;
    return start && (inner === 5 || inner === 7);
  }
  return false;
}

/** The VP8 payload descriptor of RFC 7741 section 4.2, as far as a receiver needs it. */
export interface Vp8PayloadDescriptor {
  /** X: the extension byte (I/L/T/K flags) follows the first byte. */
  extended: boolean;
  /** N: a non-reference frame. */
  nonReference: boolean;
  /** S: the packet starts a VP8 partition. */
  start: boolean;
  /** PID: the partition index. */
  partitionIndex: number;
  /** The 7- or 15-bit PictureID, undefined when absent (X = 0 or I = 0). */
  pictureId: number | undefined;
  tl0PicIdx: number | undefined;
  /** Where the VP8 payload (the frame data) starts. */
  payloadOffset: number;
}

/**
 * Parses the VP8 payload descriptor (RFC 7741 section 4.2). Returns undefined when the
 * payload ends inside the descriptor (a truncated packet, which mediasoup also rejects).
 */
export function parseVp8PayloadDescriptor(payload: Uint8Array): Vp8PayloadDescriptor | undefined {
  if (payload.length < 1) return undefined;
  const first = payload[0];
  const descriptor: Vp8PayloadDescriptor = {
    extended: (first & 0x80) !== 0,
    nonReference: (first & 0x20) !== 0,
    start: (first & 0x10) !== 0,
    partitionIndex: first & 0x07,
    pictureId: undefined,
    tl0PicIdx: undefined,
    payloadOffset: 1,
  };
  if (!descriptor.extended) return descriptor;
  let offset = 1;
  if (payload.length <= offset) return undefined;
  const flags = payload[offset++];
  if (flags & 0x80) {
    // I: PictureID, one byte, or two with the M bit (RFC 7741 section 4.2).
    if (payload.length <= offset) return undefined;
    if (payload[offset] & 0x80) {
      if (payload.length <= offset + 1) return undefined;
      descriptor.pictureId = ((payload[offset] & 0x7f) << 8) | payload[offset + 1];
      offset += 2;
    } else {
      descriptor.pictureId = payload[offset++];
    }
  }
  if (flags & 0x40) {
    // L: TL0PICIDX.
    if (payload.length <= offset) return undefined;
    descriptor.tl0PicIdx = payload[offset++];
  }
  if (flags & 0x30) {
    // T and/or K: one byte of TID, Y and KEYIDX.
    if (payload.length <= offset) return undefined;
    offset++;
  }
  descriptor.payloadOffset = offset;
  return descriptor;
}

/**
 * Whether a VP8 RTP payload (RFC 7741) is the first packet of a keyframe: S bit set,
 * partition 0, and the P bit of the VP8 payload header clear.
 */
export function isVp8KeyframePayload(payload: Uint8Array): boolean {
  const descriptor = parseVp8PayloadDescriptor(payload);
  if (!descriptor?.start || descriptor.partitionIndex !== 0) return false;
  const offset = descriptor.payloadOffset;
  return offset < payload.length && (payload[offset] & 0x01) === 0;
}

/**
 * A copy of an RTP packet with another SSRC and payload type (marker bit, sequence number,
 * timestamp, extensions and payload kept byte for byte), e.g. to send an encoder's packets
 * as the stream an SDP offer announced.
 */
export function withSsrcAndPayloadType(
  packet: Uint8Array,
  ssrc: number,
  payloadType: number,
): Buffer {
  if (!Number.isInteger(payloadType) || payloadType < 0 || payloadType > 127) {
    throw new RangeError(`Invalid RTP payload type ${payloadType}`);
  }
  const out = Buffer.from(packet);
  out[1] = (out[1] & 0x80) | payloadType;
  out.writeUInt32BE(ssrc >>> 0, 8);
  return out;
}

function readUint32(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset] << 24) |
      (bytes[offset + 1] << 16) |
      (bytes[offset + 2] << 8) |
      bytes[offset + 3]) >>>
    0
  );
}

/** Cuts trailing padding off a one-byte extension block by walking its elements. */
function trimPadding(elements: Uint8Array): Uint8Array {
  let offset = 0;
  let end = 0;
  while (offset < elements.length) {
    if (elements[offset] === 0) {
      offset++;
      continue;
    }
    if (elements[offset] >> 4 === 15) break;
    offset += 2 + (elements[offset] & 0x0f);
    end = Math.min(offset, elements.length);
  }
  return elements.subarray(0, end);
}
