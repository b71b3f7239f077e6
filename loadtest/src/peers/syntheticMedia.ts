/**
 * Synthetic raw media for the libwebrtc publisher: I420 video frames with motion (so the
 * encoder has real work and a frozen picture is visible) and 10 ms frames of a sine tone.
 */

/** Bytes of one I420 frame: a full-size Y plane and quarter-size U and V planes. */
export function i420Size(width: number, height: number): number {
  return width * height + 2 * (Math.ceil(width / 2) * Math.ceil(height / 2));
}

/**
 * A moving test pattern: a diagonal luma gradient scrolling one step per frame, a white box
 * crossing the picture once every 2 s at 30 fps, and chroma that changes slowly. Writes into
 * `out` when given (to avoid an allocation per frame).
 */
export function testPatternI420(
  frameIndex: number,
  width: number,
  height: number,
  out: Uint8Array = new Uint8Array(i420Size(width, height)),
): Uint8Array {
  const shift = frameIndex * 4;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) out[row + x] = (x + y + shift) & 0xff;
  }
  const box = Math.max(8, Math.floor(Math.min(width, height) / 6));
  const boxX = Math.floor(((frameIndex % 60) / 60) * (width - box));
  const boxY = Math.floor((height - box) / 2);
  for (let y = boxY; y < boxY + box; y++) out.fill(235, y * width + boxX, y * width + boxX + box);
  const chromaSize = Math.ceil(width / 2) * Math.ceil(height / 2);
  out.fill(
    128 + Math.round(60 * Math.sin(frameIndex / 30)),
    width * height,
    width * height + chromaSize,
  );
  out.fill(128 + Math.round(60 * Math.cos(frameIndex / 30)), width * height + chromaSize);
  return out;
}

/** Samples per channel in one 10 ms frame, the unit `RTCAudioSource.onData` takes. */
export function samplesPer10Ms(sampleRate: number): number {
  return sampleRate / 100;
}

/** One 10 ms mono frame of a sine tone, continuous across frames. */
export function toneFrame(
  frameIndex: number,
  sampleRate = 48_000,
  frequency = 440,
  amplitude = 0.25,
): Int16Array {
  const n = samplesPer10Ms(sampleRate);
  const samples = new Int16Array(n);
  const first = frameIndex * n;
  for (let i = 0; i < n; i++) {
    samples[i] = Math.round(
      32767 * amplitude * Math.sin((2 * Math.PI * frequency * (first + i)) / sampleRate),
    );
  }
  return samples;
}
