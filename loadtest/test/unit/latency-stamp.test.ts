/**
 * The picture stamp on raw frames: round trips at several sizes, through the damage an encoder
 * and a scaler do (noise, blur, shifted levels, downscaling), and rejection of pictures that
 * carry no stamp or a corrupted one.
 */
import { describe, expect, it } from 'vitest';
import {
  STAMP_COLUMNS,
  crc16,
  drawStamp,
  readStamp,
  stampAgeMs,
  stampValueFromMs,
} from '../../src/latency/stamp.ts';
import { i420Size, testPatternI420 } from '../../src/peers/syntheticMedia.ts';
import type { I420Frame } from '../../src/peers/wrtc.ts';

const MAX_VALUE = 2 ** 40 - 1;

function patternFrame(width: number, height: number, frameIndex = 7): I420Frame {
  return { width, height, data: testPatternI420(frameIndex, width, height) };
}

/** A deterministic pseudo-random generator (mulberry32), so failures reproduce. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Maps luma through `f`, clamped to 0..255. */
function mapLuma(frame: I420Frame, f: (luma: number, index: number) => number): void {
  for (let i = 0; i < frame.width * frame.height; i++) {
    frame.data[i] = Math.max(0, Math.min(255, Math.round(f(frame.data[i], i))));
  }
}

/** A 5x5 box blur of the luma plane, about what a strongly quantised encoder does to edges. */
function blurLuma(frame: I420Frame): void {
  const { width, height } = frame;
  const source = frame.data.slice(0, width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let sum = 0;
      let count = 0;
      for (let dy = -2; dy <= 2; dy++) {
        for (let dx = -2; dx <= 2; dx++) {
          const sx = x + dx;
          const sy = y + dy;
          if (sx < 0 || sy < 0 || sx >= width || sy >= height) continue;
          sum += source[sy * width + sx];
          count++;
        }
      }
      frame.data[y * width + x] = Math.round(sum / count);
    }
  }
}

/** Bilinear resampling of the luma plane (chroma is left grey), as an encoder's scaler does. */
function scaleLuma(frame: I420Frame, width: number, height: number): I420Frame {
  const out = new Uint8Array(i420Size(width, height)).fill(128);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const sx = Math.min(frame.width - 1, ((x + 0.5) * frame.width) / width - 0.5);
      const sy = Math.min(frame.height - 1, ((y + 0.5) * frame.height) / height - 0.5);
      const x0 = Math.max(0, Math.floor(sx));
      const y0 = Math.max(0, Math.floor(sy));
      const x1 = Math.min(frame.width - 1, x0 + 1);
      const y1 = Math.min(frame.height - 1, y0 + 1);
      const fx = Math.max(0, sx - x0);
      const fy = Math.max(0, sy - y0);
      const at = (px: number, py: number): number => frame.data[py * frame.width + px];
      const top = at(x0, y0) * (1 - fx) + at(x1, y0) * fx;
      const bottom = at(x0, y1) * (1 - fx) + at(x1, y1) * fx;
      out[y * width + x] = Math.round(top * (1 - fy) + bottom * fy);
    }
  }
  return { width, height, data: out };
}

describe('stamp round trip on raw frames', () => {
  it.each([
    [640, 360],
    [320, 240],
    [1280, 720],
    [482, 270],
    [64, 16],
  ])('reads back what was drawn into a %ix%i test pattern', (width, height) => {
    const next = random(width * height);
    const values = [0, 1, MAX_VALUE, 2 ** 39, 0x3132333435];
    for (let i = 0; i < 20; i++) values.push(Math.floor(next() * 2 ** 40));
    for (const value of values) {
      const frame = patternFrame(width, height, value % 60);
      drawStamp(frame, value);
      const reading = readStamp(frame);
      expect(reading).toEqual({ ok: true, value, margin: expect.any(Number) as number });
      if (reading.ok) expect(reading.margin).toBeGreaterThan(0.45);
    }
  });

  it('leaves the picture below the band untouched and greys the band chroma', () => {
    const frame = patternFrame(640, 360);
    const before = frame.data.slice();
    drawStamp(frame, 12345);
    const bandRows = (640 / STAMP_COLUMNS) * 4;
    const below = (data: Uint8Array): Buffer =>
      Buffer.from(data.subarray(640 * bandRows, 640 * 360));
    expect(below(frame.data).equals(below(before))).toBe(true);
    expect(frame.data[640 * 360]).toBe(128);
  });

  it('rejects bad values and frames too small for the band', () => {
    const frame = patternFrame(320, 240);
    expect(() => drawStamp(frame, -1)).toThrow(TypeError);
    expect(() => drawStamp(frame, 2 ** 40)).toThrow(TypeError);
    expect(() => drawStamp(frame, 1.5)).toThrow(TypeError);
    expect(() => drawStamp(patternFrame(32, 16), 1)).toThrow(TypeError);
    expect(readStamp(patternFrame(32, 16))).toEqual({ ok: false, reason: 'too-small' });
    // A band 4 cells of width/16 high does not fit a very wide, flat picture.
    expect(readStamp(patternFrame(640, 100))).toEqual({ ok: false, reason: 'too-small' });
  });
});

describe('stamp through damage', () => {
  it('survives noise, blur and shifted black and white levels', () => {
    const next = random(42);
    for (let i = 0; i < 20; i++) {
      const value = Math.floor(next() * 2 ** 40);
      const frame = patternFrame(320, 240, i);
      drawStamp(frame, value);
      blurLuma(frame);
      // Contrast squeezed to 55% around a raised black level, then noise of about +-25.
      mapLuma(frame, (luma) => 50 + luma * 0.55 + (next() + next() + next() - 1.5) * 25);
      expect(readStamp(frame)).toMatchObject({ ok: true, value });
    }
  });

  it('survives a brightness gradient across the picture', () => {
    const frame = patternFrame(640, 360);
    drawStamp(frame, 987654321);
    mapLuma(frame, (luma, i) => luma * 0.7 + ((i % 640) / 640) * 60);
    expect(readStamp(frame)).toMatchObject({ ok: true, value: 987654321 });
  });

  it.each([
    [320, 180],
    [480, 270],
    [160, 90],
  ])('survives the encoder scaling 640x360 down to %ix%i', (width, height) => {
    const frame = patternFrame(640, 360);
    drawStamp(frame, 555_555_555_555);
    expect(readStamp(scaleLuma(frame, width, height))).toMatchObject({
      ok: true,
      value: 555_555_555_555,
    });
  });
});

describe('stamp rejection', () => {
  it('finds no stamp in a picture without one', () => {
    for (let i = 0; i < 60; i++) {
      expect(readStamp(patternFrame(640, 360, i)).ok).toBe(false);
    }
  });

  it('rejects random noise', () => {
    const next = random(7);
    let accepted = 0;
    for (let i = 0; i < 200; i++) {
      const frame = patternFrame(320, 240);
      mapLuma(frame, () => next() * 255);
      if (readStamp(frame).ok) accepted++;
    }
    expect(accepted).toBe(0);
  });

  it('rejects a stamp with one flipped cell by its checksum', () => {
    const frame = patternFrame(320, 240);
    drawStamp(frame, 0x3132333435);
    // Data cell 5 of row 0 (column 6) is inverted.
    const size = 320 / STAMP_COLUMNS;
    const x0 = 6 * size;
    const luma = frame.data[Math.round(size / 2) * 320 + x0 + size / 2];
    for (let y = 0; y < size; y++)
      frame.data.fill(luma > 128 ? 16 : 235, y * 320 + x0, y * 320 + x0 + size);
    expect(readStamp(frame)).toEqual({ ok: false, reason: 'checksum' });
  });

  it('rejects a grey band as low contrast', () => {
    const frame = patternFrame(320, 240);
    drawStamp(frame, 1);
    mapLuma(frame, (luma) => 128 + (luma - 128) * 0.1);
    expect(readStamp(frame)).toEqual({ ok: false, reason: 'low-contrast' });
  });
});

describe('stamp values', () => {
  it('uses CRC-16/CCITT-FALSE over the five bytes of the value', () => {
    // The bytes of "12345"; the reference value comes from the CRC catalogue's algorithm.
    expect(crc16(0x3132333435)).toBe(0x4560);
  });

  it('turns milliseconds into microseconds modulo 2^40 and ages across a wrap', () => {
    expect(stampValueFromMs(1.5)).toBe(1500);
    expect(stampValueFromMs(2 ** 40 / 1000 + 0.002)).toBe(2);
    expect(stampAgeMs(stampValueFromMs(1000), 1042.25)).toBeCloseTo(42.25, 6);
    // Stamped just before the wrap, read just after it.
    const before = 2 ** 40 / 1000 - 0.01;
    expect(stampAgeMs(stampValueFromMs(before), before + 35)).toBeCloseTo(35, 6);
  });
});
