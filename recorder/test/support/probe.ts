/**
 * What tests learn about a recording through real ffprobe and ffmpeg, reading its `hlsUrl`
 * over HTTP like any player would.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';

const run = promisify(execFile);

const Probe = z.object({
  streams: z.array(
    z.object({
      codec_type: z.string(),
      codec_name: z.string(),
      width: z.number().optional(),
      height: z.number().optional(),
      start_time: z.string().optional(),
    }),
  ),
  format: z.object({ duration: z.string().optional(), format_name: z.string() }),
});

export type ProbeResult = z.infer<typeof Probe>;

export async function ffprobe(url: string): Promise<ProbeResult> {
  const { stdout } = await run(
    'ffprobe',
    ['-v', 'error', '-print_format', 'json', '-show_streams', '-show_format', url],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  return Probe.parse(JSON.parse(stdout));
}

/** Decodes the whole recording: how long it really plays, and any decode errors. */
export async function decodeAll(url: string): Promise<{ seconds: number; errors: string }> {
  const { stderr } = await run(
    'ffmpeg',
    ['-hide_banner', '-nostats', '-loglevel', 'error', '-i', url, '-f', 'null', '-'],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const probe = await ffprobe(url);
  return { seconds: Number(probe.format.duration ?? 0), errors: decodeErrors(stderr) };
}

/**
 * When the picture flashes white and when a beep starts (seconds on the recording's
 * timeline), for a recording of the `sync` pattern.
 */
export async function flashesAndBeeps(
  url: string,
): Promise<{ flashes: number[]; beeps: number[] }> {
  const { stdout, stderr } = await run(
    'ffmpeg',
    [
      '-hide_banner',
      '-nostats',
      '-i',
      url,
      '-vf',
      'signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-',
      '-af',
      'silencedetect=n=-40dB:d=0.05',
      '-f',
      'null',
      '-',
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const flashes: number[] = [];
  let time = 0;
  let bright = false;
  for (const line of stdout.split('\n')) {
    const pts = /pts_time:([\d.]+)/.exec(line);
    if (pts) time = Number(pts[1]);
    const yavg = /YAVG=([\d.]+)/.exec(line);
    if (yavg) {
      const isBright = Number(yavg[1]) > 128;
      if (isBright && !bright) flashes.push(time);
      bright = isBright;
    }
  }
  const beeps = [...stderr.matchAll(/silence_end: ([\d.]+)/g)].map((m) => Number(m[1]));
  return { flashes, beeps };
}

/** The mean colour (RGB) of a region of one frame at `seconds`, as fractions of the frame. */
export async function regionColor(
  url: string,
  seconds: number,
  region: { x: number; y: number; w: number; h: number },
): Promise<[number, number, number]> {
  const crop = `crop=iw*${region.w}:ih*${region.h}:iw*${region.x}:ih*${region.y},scale=1:1`;
  const { stdout, stderr } = await run(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-i',
      url,
      // After -i: decode from the start and take the first frame from `seconds` on.
      '-ss',
      String(seconds),
      '-frames:v',
      '1',
      '-vf',
      crop,
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-',
    ],
    { encoding: 'buffer', maxBuffer: 1024 * 1024 },
  );
  const bytes = stdout as unknown as Buffer;
  if (bytes.length < 3) throw new Error(`no frame at ${seconds} s of ${url}: ${String(stderr)}`);
  return [bytes[0], bytes[1], bytes[2]];
}

/** Polls an async condition every `intervalMs` until it holds; rejects after `timeoutMs`. */
export async function eventually(
  condition: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Decodes what a live (EVENT) playlist lists so far, as a player that starts from the
 * beginning would: the playlist closed with ENDLIST in a local copy (ffmpeg would otherwise
 * wait for it to grow).
 */
export async function decodeSoFar(url: string): Promise<{ seconds: number; errors: string }> {
  const text = await (await fetch(url)).text();
  const base = new URL('.', url).href;
  const closed = `${text
    .split('\n')
    .map((line) => {
      if (line.startsWith('#EXT-X-MAP:URI="')) return line.replace('URI="', `URI="${base}`);
      return line !== '' && !line.startsWith('#') ? `${base}${line}` : line;
    })
    .join('\n')
    .trimEnd()}\n#EXT-X-ENDLIST\n`;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wisp-live-'));
  const file = path.join(dir, 'so-far.m3u8');
  await writeFile(file, closed);
  try {
    const { stderr } = await run(
      'ffmpeg',
      [
        '-hide_banner',
        '-nostats',
        '-loglevel',
        'error',
        '-protocol_whitelist',
        'file,http,tcp',
        '-i',
        file,
        '-f',
        'null',
        '-',
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    const seconds = [...closed.matchAll(/#EXTINF:([\d.]+)/g)].reduce((s, m) => s + Number(m[1]), 0);
    return { seconds, errors: decodeErrors(stderr) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** ffmpeg's error output, without the null muxer's complaint about two frames with one
 * timestamp, which is not a decode error. */
function decodeErrors(stderr: string): string {
  return stderr
    .split('\n')
    .filter((line) => line.trim() !== '' && !/non monotonically increasing dts/.test(line))
    .join('\n');
}
