/**
 * The picture stamp through a real VP8 encoder and decoder (ffmpeg's libvpx) at a low
 * bitrate, on the moving test pattern the latency probe's publisher sends.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { drawStamp, readStamp } from '../../src/latency/stamp.ts';
import { i420Size, testPatternI420 } from '../../src/peers/syntheticMedia.ts';

const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg';

/** Runs ffmpeg with `input` on stdin and returns its stdout; killed after `timeoutMs`. */
function ffmpeg(args: string[], input: Buffer, timeoutMs = 30_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(FFMPEG, ['-hide_banner', '-loglevel', 'error', ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`ffmpeg exited with ${code ?? signal}: ${stderr.slice(-500)}`));
    });
    // ffmpeg may exit before reading everything when it fails; the close handler reports it.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

describe('stamp through VP8', () => {
  it.each([
    [640, 360, 150],
    [320, 240, 80],
  ])(
    'reads the stamps back from %ix%i encoded at %i kbit/s',
    async (width, height, kbps) => {
      const frames = 90;
      const size = i420Size(width, height);
      const values: number[] = [];
      const raw = Buffer.alloc(size * frames);
      for (let i = 0; i < frames; i++) {
        // Values that change many bits from frame to frame, as microsecond times do.
        const value = (i * 0x9e3779b97 + 0x1234567) % 2 ** 40;
        values.push(value);
        const data = testPatternI420(i, width, height, raw.subarray(i * size, (i + 1) * size));
        drawStamp({ width, height, data }, value);
      }
      const rawInput = ['-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${width}x${height}`];
      const encoded = await ffmpeg(
        [
          ...rawInput,
          '-framerate',
          '30',
          '-i',
          'pipe:0',
          '-c:v',
          'libvpx',
          '-b:v',
          `${kbps}k`,
          '-deadline',
          'realtime',
          '-cpu-used',
          '8',
          '-lag-in-frames',
          '0',
          '-f',
          'ivf',
          'pipe:1',
        ],
        raw,
      );
      const decoded = await ffmpeg(
        ['-f', 'ivf', '-i', 'pipe:0', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', 'pipe:1'],
        encoded,
      );
      const count = decoded.length / size;
      expect(count).toBeGreaterThan(frames * 0.9);
      let read = 0;
      for (let i = 0; i < count; i++) {
        const data = new Uint8Array(decoded.subarray(i * size, (i + 1) * size));
        const reading = readStamp({ width, height, data });
        if (!reading.ok) continue;
        read++;
        // A stamp that passes its checksum is never a wrong one.
        expect(values).toContain(reading.value);
      }
      expect(read / count).toBeGreaterThan(0.95);
      // The whole stream averaged at most the bitrate asked for (plus the keyframe).
      expect((encoded.length * 8) / (frames / 30) / 1000).toBeLessThan(kbps * 2);
    },
    60_000,
  );
});
