/**
 * Where ffmpeg comes from, decided in one place: `FFMPEG_PATH`, then the `ffmpeg-static`
 * package when its binary is really there (its install step downloads it, which fails
 * offline), then `ffmpeg` on PATH. ffprobe is the sibling of the chosen ffmpeg when there is
 * one, else `ffprobe` on PATH.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export interface FfmpegBinaries {
  ffmpeg: string;
  ffprobe: string;
  /** Where `ffmpeg` was found. */
  source: 'FFMPEG_PATH' | 'ffmpeg-static' | 'PATH';
}

export function resolveFfmpeg(ffmpegPath: string | undefined = process.env.FFMPEG_PATH) {
  let ffmpeg: string;
  let source: FfmpegBinaries['source'];
  if (ffmpegPath) {
    ffmpeg = ffmpegPath;
    source = 'FFMPEG_PATH';
  } else {
    const fromPackage = ffmpegStatic();
    if (fromPackage) {
      ffmpeg = fromPackage;
      source = 'ffmpeg-static';
    } else {
      ffmpeg = 'ffmpeg';
      source = 'PATH';
    }
  }
  const sibling = path.isAbsolute(ffmpeg)
    ? path.join(path.dirname(ffmpeg), path.basename(ffmpeg).replace(/ffmpeg/, 'ffprobe'))
    : undefined;
  const ffprobe = sibling && sibling !== ffmpeg && existsSync(sibling) ? sibling : 'ffprobe';
  return { ffmpeg, ffprobe, source } satisfies FfmpegBinaries;
}

function ffmpegStatic(): string | undefined {
  try {
    const resolved = createRequire(import.meta.url)('ffmpeg-static') as unknown;
    return typeof resolved === 'string' && existsSync(resolved) ? resolved : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs `ffmpeg -version` and checks it has what recording needs (libx264, the native AAC
 * encoder, the HLS muxer). Returns the version line, or throws with the reason.
 */
export function checkFfmpeg(binaries: FfmpegBinaries = resolveFfmpeg()): string {
  const version = spawnSync(binaries.ffmpeg, ['-hide_banner', '-version'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) {
    throw new Error(
      `ffmpeg (${binaries.ffmpeg}, from ${binaries.source}) does not run: ${version.error?.message ?? version.stderr}`,
    );
  }
  const encoders = spawnSync(binaries.ffmpeg, ['-hide_banner', '-encoders'], { encoding: 'utf8' });
  const muxers = spawnSync(binaries.ffmpeg, ['-hide_banner', '-muxers'], { encoding: 'utf8' });
  for (const [what, text, pattern] of [
    ['the libx264 encoder', encoders.stdout, /\blibx264\b/],
    ['the aac encoder', encoders.stdout, /\baac\b/],
    ['the hls muxer', muxers.stdout, /\bhls\b/],
  ] as const) {
    if (!pattern.test(text ?? '')) throw new Error(`ffmpeg (${binaries.ffmpeg}) lacks ${what}`);
  }
  return version.stdout.split('\n')[0] ?? 'ffmpeg';
}
