/**
 * A timestamp drawn into the picture, so that it survives encoding, the network and decoding:
 * the latency probe stamps each raw frame with its capture time and reads it back from each
 * decoded frame.
 *
 * Layout: a band across the top of the luma plane, `STAMP_COLUMNS` square cells wide and
 * `STAMP_ROWS` cells high. Cell size is a fraction of the frame width (width / 16), so the
 * stamp survives the encoder scaling the picture down (libwebrtc does under CPU or bandwidth
 * pressure) and is large enough for VP8 at a low bitrate: 40 px at 640x360, 20 px at 320x240.
 * The first and last column of every row are calibration cells, one black and one white
 * (alternating sides from row to row); the 56 cells between them carry 40 bits of time and a
 * CRC-16 over them, most significant bit first. A reader thresholds each row at the midpoint of
 * its two calibration cells, which tolerates the encoder's shifts of brightness and contrast.
 */
import type { I420Frame } from '../peers/wrtc.ts';

export const STAMP_COLUMNS = 16;
export const STAMP_ROWS = 4;
/** Bits of the stamped value: a time in microseconds modulo 2^40 (about 12.7 days). */
export const STAMP_VALUE_BITS = 40;
const CRC_BITS = 16;
const DATA_COLUMNS = STAMP_COLUMNS - 2;
const VALUE_MODULUS = 2 ** STAMP_VALUE_BITS;

/** Video-range luma levels of the two cell colours. */
const BLACK = 16;
const WHITE = 235;
/** A row whose calibration cells differ by less than this is not a stamp. */
const MIN_CONTRAST = 48;

export type StampReading =
  | {
      ok: true;
      /** The stamped value (see `stampValueFromMs`). */
      value: number;
      /**
       * The closest any data cell came to its row's threshold, as a fraction of the row's
       * contrast: 0.5 is a perfect picture, values near 0 mean a cell was barely readable.
       */
      margin: number;
    }
  | { ok: false; reason: 'too-small' | 'low-contrast' | 'checksum' };

/** Cell geometry for a frame of this size, or undefined when the band does not fit. */
function cellSize(width: number, height: number): number | undefined {
  const size = width / STAMP_COLUMNS;
  if (size < 4 || size * STAMP_ROWS > height) return undefined;
  return size;
}

/** The pixel rectangle of one cell; bounds are rounded the same way by writer and reader. */
function cellBounds(
  row: number,
  column: number,
  size: number,
): { x0: number; x1: number; y0: number; y1: number } {
  return {
    x0: Math.round(column * size),
    x1: Math.round((column + 1) * size),
    y0: Math.round(row * size),
    y1: Math.round((row + 1) * size),
  };
}

/** Even rows have white on the left and black on the right; odd rows the other way round. */
function calibrationColumns(row: number): { white: number; black: number } {
  return row % 2 === 0
    ? { white: 0, black: STAMP_COLUMNS - 1 }
    : { white: STAMP_COLUMNS - 1, black: 0 };
}

/** CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF) over the value's 5 bytes. */
export function crc16(value: number): number {
  let crc = 0xffff;
  for (let i = STAMP_VALUE_BITS / 8 - 1; i >= 0; i--) {
    const byte = Math.floor(value / 2 ** (8 * i)) % 256;
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

/** The 56 data bits, most significant first: the value, then its CRC. */
function dataBits(value: number): boolean[] {
  const bits: boolean[] = [];
  for (let i = STAMP_VALUE_BITS - 1; i >= 0; i--) bits.push(Math.floor(value / 2 ** i) % 2 === 1);
  const crc = crc16(value);
  for (let i = CRC_BITS - 1; i >= 0; i--) bits.push(((crc >> i) & 1) === 1);
  return bits;
}

/** Converts a time in milliseconds (e.g. `performance.now()`) to a stamp value. */
export function stampValueFromMs(timeMs: number): number {
  const micros = Math.round(timeMs * 1000);
  return ((micros % VALUE_MODULUS) + VALUE_MODULUS) % VALUE_MODULUS;
}

/**
 * Milliseconds from the stamped time to `nowMs` on the same clock. The difference is taken
 * modulo 2^40 us, so it is right across a wrap of the stamp as long as it is under 12 days.
 */
export function stampAgeMs(value: number, nowMs: number): number {
  const diff = (stampValueFromMs(nowMs) - value + VALUE_MODULUS) % VALUE_MODULUS;
  return diff / 1000;
}

/**
 * Draws the stamp for `value` (an integer in [0, 2^40)) into the top of the frame, in place.
 * The band's chroma is set to neutral grey so the encoder spends no bits on colour there.
 */
export function drawStamp(frame: I420Frame, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value >= VALUE_MODULUS) {
    throw new TypeError(`A stamp value must be an integer in [0, 2^40), got ${value}`);
  }
  const { width, height, data } = frame;
  const size = cellSize(width, height);
  if (size === undefined) {
    throw new TypeError(`A ${width}x${height} frame is too small for a stamp`);
  }
  const fill = (row: number, column: number, luma: number): void => {
    const { x0, x1, y0, y1 } = cellBounds(row, column, size);
    for (let y = y0; y < y1; y++) data.fill(luma, y * width + x0, y * width + x1);
  };
  const bits = dataBits(value);
  for (let row = 0; row < STAMP_ROWS; row++) {
    const { white, black } = calibrationColumns(row);
    fill(row, white, WHITE);
    fill(row, black, BLACK);
    for (let column = 0; column < DATA_COLUMNS; column++) {
      fill(row, column + 1, bits[row * DATA_COLUMNS + column] ? WHITE : BLACK);
    }
  }
  const chromaWidth = Math.ceil(width / 2);
  const chromaHeight = Math.ceil(height / 2);
  const bandRows = Math.min(chromaHeight, Math.ceil(Math.round(STAMP_ROWS * size) / 2));
  const uStart = width * height;
  const vStart = uStart + chromaWidth * chromaHeight;
  data.fill(128, uStart, uStart + bandRows * chromaWidth);
  data.fill(128, vStart, vStart + bandRows * chromaWidth);
}

/**
 * Mean luma of the middle half of a cell (a quarter of its area): the edges, where the
 * encoder's blocks and the scaler blur black into white, are left out.
 */
function cellLuma(frame: I420Frame, row: number, column: number, size: number): number {
  const { x0, x1, y0, y1 } = cellBounds(row, column, size);
  const insetX = Math.floor((x1 - x0) / 4);
  const insetY = Math.floor((y1 - y0) / 4);
  let sum = 0;
  let count = 0;
  for (let y = y0 + insetY; y < y1 - insetY; y++) {
    const rowStart = y * frame.width;
    for (let x = x0 + insetX; x < x1 - insetX; x++) {
      sum += frame.data[rowStart + x];
      count++;
    }
  }
  return count === 0 ? 0 : sum / count;
}

/** Reads the stamp back from a (decoded) frame; fails rather than guess. */
export function readStamp(frame: I420Frame): StampReading {
  const size = cellSize(frame.width, frame.height);
  if (size === undefined || frame.data.length < frame.width * frame.height) {
    return { ok: false, reason: 'too-small' };
  }
  const bits: boolean[] = [];
  let margin = 0.5;
  for (let row = 0; row < STAMP_ROWS; row++) {
    const calibration = calibrationColumns(row);
    const white = cellLuma(frame, row, calibration.white, size);
    const black = cellLuma(frame, row, calibration.black, size);
    const contrast = white - black;
    if (contrast < MIN_CONTRAST) return { ok: false, reason: 'low-contrast' };
    const threshold = (white + black) / 2;
    for (let column = 0; column < DATA_COLUMNS; column++) {
      const luma = cellLuma(frame, row, column + 1, size);
      bits.push(luma > threshold);
      margin = Math.min(margin, Math.abs(luma - threshold) / contrast);
    }
  }
  let value = 0;
  for (let i = 0; i < STAMP_VALUE_BITS; i++) value = value * 2 + (bits[i] ? 1 : 0);
  let crc = 0;
  for (let i = STAMP_VALUE_BITS; i < STAMP_VALUE_BITS + CRC_BITS; i++) {
    crc = (crc << 1) | (bits[i] ? 1 : 0);
  }
  if (crc !== crc16(value)) return { ok: false, reason: 'checksum' };
  return { ok: true, value, margin };
}
