/**
 * Recordings for replay tests, written by the tests themselves in the recorder's documented
 * layout (`/vod/:recordingId/index.m3u8` fMP4 HLS, VOD playlist, `poster.jpg`; architecture.md),
 * and a small static server on its own origin (CORS open, as a CDN in front of `/vod` would
 * be) that serves them and any host pages a test adds.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { promisify } from 'node:util';
import type { Recording } from '../../src/index.ts';

const run = promisify(execFile);

export interface RecordingFixture {
  id: string;
  width: number;
  height: number;
  seconds: number;
}

/**
 * Encodes a test pattern with a tone as H.264 + AAC fMP4 HLS (what the recorder writes) into
 * `<root>/vod/<id>/`, with a poster. A few seconds of CPU per recording.
 */
export async function writeRecording(root: string, fixture: RecordingFixture): Promise<void> {
  const dir = join(root, 'vod', fixture.id);
  await mkdir(dir, { recursive: true });
  const size = `${fixture.width}x${fixture.height}`;
  await run('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y'],
    ...['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=30`],
    ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'],
    ...['-t', String(fixture.seconds), '-map', '0:v', '-map', '1:a'],
    ...['-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-profile:v', 'main'],
    ...['-g', '30', '-keyint_min', '30', '-sc_threshold', '0', '-bf', '0'],
    ...['-c:a', 'aac', '-b:a', '96k'],
    ...['-f', 'hls', '-hls_time', '1', '-hls_segment_type', 'fmp4', '-hls_playlist_type', 'vod'],
    ...['-hls_segment_filename', join(dir, 'segment%03d.m4s'), join(dir, 'index.m3u8')],
  ]);
  await run('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y'],
    ...['-f', 'lavfi', '-i', `testsrc2=size=${size}`, '-frames:v', '1', join(dir, 'poster.jpg')],
  ]);
}

/** The recording as the recordings API would list it, served from `baseUrl`. */
export function recordingOf(
  fixture: RecordingFixture,
  baseUrl: string,
  streamId: string,
  startedAt: string,
): Recording {
  return {
    id: fixture.id,
    streamId,
    status: 'ready',
    startedAt,
    endedAt: new Date(Date.parse(startedAt) + fixture.seconds * 1000).toISOString(),
    durationSeconds: fixture.seconds,
    hlsUrl: `${baseUrl}/vod/${fixture.id}/index.m3u8`,
    posterUrl: `${baseUrl}/vod/${fixture.id}/poster.jpg`,
  };
}

const TYPES: Record<string, string> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
  '.jpg': 'image/jpeg',
  '.html': 'text/html; charset=utf-8',
};

export interface StaticServer {
  url: string;
  /** Paths asked for, in order. */
  requests: string[];
  /** Pages served at a path (host pages of embed tests). */
  pages: Map<string, string>;
  close(): Promise<void>;
}

export async function startStaticServer(root: string): Promise<StaticServer> {
  const requests: string[] = [];
  const pages = new Map<string, string>();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push(path);
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Cache-Control', 'no-store');
    const page = pages.get(path);
    if (page !== undefined) {
      res.writeHead(200, { 'Content-Type': TYPES['.html'] }).end(page);
      return;
    }
    const file = normalize(join(root, path));
    if (!file.startsWith(root)) {
      res.writeHead(404).end();
      return;
    }
    readFile(file).then(
      (body) =>
        res
          .writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' })
          .end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    pages,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
