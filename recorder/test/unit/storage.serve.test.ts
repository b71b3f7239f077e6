import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureLogging } from '@wisp/core';
import {
  cacheControlFor,
  contentTypeOf,
  IMMUTABLE_CACHE_CONTROL,
  LIVE_PLAYLIST_CACHE_CONTROL,
  VOD_PLAYLIST_CACHE_CONTROL,
} from '../../src/storage/contentTypes.ts';
import { DiskStorage } from '../../src/storage/DiskStorage.ts';
import { parseRangeHeader, vodResponse } from '../../src/storage/serve.ts';

configureLogging('warn');

let dir: string;
let storage: DiskStorage;
let server: Server;
let base: string;
const live = new Set<string>();
const segment = randomBytes(3 * 1024 * 1024 + 17);

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'wisp-serve-'));
  storage = new DiskStorage({ dir });
  await storage.put('rec_a/p1-00001.m4s', segment, contentTypeOf('p1-00001.m4s'));
  await storage.put('rec_a/index.m3u8', '#EXTM3U\n', contentTypeOf('index.m3u8'));
  await storage.put('rec_b/index.m3u8', '#EXTM3U\n#EXT-X-ENDLIST\n', contentTypeOf('index.m3u8'));
  await storage.put('rec_a/p1-init.mp4', 'init', contentTypeOf('p1-init.mp4'));
  await storage.put('rec_a/old-00001.ts', 'ts', contentTypeOf('old-00001.ts'));
  await storage.put('rec_a/poster.jpg', 'jpg', contentTypeOf('poster.jpg'));
  await storage.put('rec_a/empty.m4s', '', contentTypeOf('empty.m4s'));
  live.add('rec_a');

  // The route as the recorder would mount it.
  const app = new Hono();
  app.on(['GET', 'HEAD'], '/vod/:rec/:file', async (c) => {
    const rec = c.req.param('rec');
    const key = `${rec}/${c.req.param('file')}`;
    const response = await vodResponse(storage, key, c.req.raw, {
      cacheControl: cacheControlFor(key, { live: live.has(rec) }),
    });
    return response ?? c.json({ title: 'Not Found', status: 404 }, 404);
  });
  server = await new Promise<Server>((resolve, reject) => {
    const created = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () =>
      resolve(created as Server),
    );
    created.once('error', reject);
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no TCP address');
  base = `http://127.0.0.1:${address.port}/vod`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await storage?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function get(
  file: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<Response> {
  return fetch(`${base}/${file}`, { method, headers });
}

describe('vodResponse over HTTP', () => {
  it('answers 200 with the whole object and every header a player or CDN needs', async () => {
    const response = await get('rec_a/p1-00001.m4s');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('video/iso.segment');
    expect(response.headers.get('content-length')).toBe(String(segment.length));
    expect(response.headers.get('accept-ranges')).toBe('bytes');
    expect(response.headers.get('etag')).toMatch(/^"[^"]+"$/);
    expect(new Date(response.headers.get('last-modified')!).getTime()).toBeGreaterThan(0);
    expect(response.headers.get('cache-control')).toBe(IMMUTABLE_CACHE_CONTROL);
    expect(Buffer.from(await response.arrayBuffer()).equals(segment)).toBe(true);
  });

  it.each([
    ['rec_a/index.m3u8', 'application/vnd.apple.mpegurl', LIVE_PLAYLIST_CACHE_CONTROL],
    ['rec_b/index.m3u8', 'application/vnd.apple.mpegurl', VOD_PLAYLIST_CACHE_CONTROL],
    ['rec_a/p1-init.mp4', 'video/mp4', IMMUTABLE_CACHE_CONTROL],
    ['rec_a/old-00001.ts', 'video/mp2t', IMMUTABLE_CACHE_CONTROL],
    ['rec_a/poster.jpg', 'image/jpeg', IMMUTABLE_CACHE_CONTROL],
  ])('serves %s as %s with Cache-Control %s', async (file, type, cacheControl) => {
    const response = await get(file);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(type);
    expect(response.headers.get('cache-control')).toBe(cacheControl);
    await response.arrayBuffer();
  });

  it.each([
    ['bytes=100-199', 100, 199],
    ['bytes=0-0', 0, 0],
    ['bytes=3000000-', 3_000_000, segment.length - 1],
    ['bytes=-1000', segment.length - 1000, segment.length - 1],
    ['bytes=10-99999999999', 10, segment.length - 1],
    ['bytes=-99999999999', 0, segment.length - 1],
  ])('answers 206 to Range: %s', async (range, start, end) => {
    const response = await get('rec_a/p1-00001.m4s', { Range: range });
    expect(response.status).toBe(206);
    expect(response.headers.get('content-range')).toBe(`bytes ${start}-${end}/${segment.length}`);
    expect(response.headers.get('content-length')).toBe(String(end - start + 1));
    expect(response.headers.get('content-type')).toBe('video/iso.segment');
    expect(response.headers.get('cache-control')).toBe(IMMUTABLE_CACHE_CONTROL);
    const body = Buffer.from(await response.arrayBuffer());
    expect(body.equals(segment.subarray(start, end + 1))).toBe(true);
  });

  it.each([
    ['rec_a/p1-00001.m4s', `bytes=${segment.length}-`, segment.length],
    ['rec_a/p1-00001.m4s', 'bytes=-0', segment.length],
    ['rec_a/empty.m4s', 'bytes=0-', 0],
  ])('answers 416 to %s with Range: %s', async (file, range, size) => {
    const response = await get(file, { Range: range });
    expect(response.status).toBe(416);
    expect(response.headers.get('content-range')).toBe(`bytes */${size}`);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toMatchObject({ status: 416, title: 'Range Not Satisfiable' });
  });

  it.each(['bytes=0-1,5-6', 'items=0-1', 'bytes=5-2', 'bytes=abc', 'bytes=-'])(
    'ignores Range: %s and answers 200',
    async (range) => {
      const response = await get('rec_a/poster.jpg', { Range: range });
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('jpg');
    },
  );

  it('answers 304 to a matching If-None-Match, 200 otherwise', async () => {
    const first = await get('rec_a/index.m3u8');
    const etag = first.headers.get('etag')!;
    await first.arrayBuffer();
    for (const value of [etag, `"other", ${etag}`, `W/${etag}`, '*']) {
      const response = await get('rec_a/index.m3u8', { 'If-None-Match': value });
      expect(response.status, value).toBe(304);
      expect(response.headers.get('etag')).toBe(etag);
      expect(response.headers.get('cache-control')).toBe(LIVE_PLAYLIST_CACHE_CONTROL);
      expect(await response.text()).toBe('');
    }
    const changed = await get('rec_a/index.m3u8', { 'If-None-Match': '"stale"' });
    expect(changed.status).toBe(200);
    expect(await changed.text()).toBe('#EXTM3U\n');
    // If-None-Match wins over an unsatisfiable range.
    const both = await get('rec_a/index.m3u8', { 'If-None-Match': etag, Range: 'bytes=500-' });
    expect(both.status).toBe(304);
  });

  it('answers 304 to If-Modified-Since at or after Last-Modified', async () => {
    const first = await get('rec_a/poster.jpg');
    const lastModified = first.headers.get('last-modified')!;
    await first.arrayBuffer();
    expect((await get('rec_a/poster.jpg', { 'If-Modified-Since': lastModified })).status).toBe(304);
    const before = new Date(Date.parse(lastModified) - 60_000).toUTCString();
    const response = await get('rec_a/poster.jpg', { 'If-Modified-Since': before });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
  });

  it('honours a Range only when If-Range still matches', async () => {
    const first = await get('rec_a/p1-init.mp4');
    const etag = first.headers.get('etag')!;
    await first.arrayBuffer();
    const matching = await get('rec_a/p1-init.mp4', { Range: 'bytes=1-2', 'If-Range': etag });
    expect(matching.status).toBe(206);
    expect(await matching.text()).toBe('ni');
    const stale = await get('rec_a/p1-init.mp4', { Range: 'bytes=1-2', 'If-Range': '"old"' });
    expect(stale.status).toBe(200);
    expect(await stale.text()).toBe('init');
    const staleUnsatisfiable = await get('rec_a/p1-init.mp4', {
      Range: 'bytes=50-',
      'If-Range': '"old"',
    });
    expect(staleUnsatisfiable.status).toBe(200);
    expect(await staleUnsatisfiable.text()).toBe('init');
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const head = await get('rec_a/p1-00001.m4s', {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(segment.length));
    expect(head.headers.get('content-type')).toBe('video/iso.segment');
    expect(head.headers.get('accept-ranges')).toBe('bytes');
    expect(head.headers.get('etag')).toMatch(/^"/);
    expect(await head.text()).toBe('');
    const ranged = await get('rec_a/p1-00001.m4s', { Range: 'bytes=0-9' }, 'HEAD');
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 0-9/${segment.length}`);
    expect(ranged.headers.get('content-length')).toBe('10');
  });

  it('leaves missing objects and impossible keys to the caller (404 here)', async () => {
    for (const file of ['rec_a/none.m4s', 'rec_zzz/index.m3u8', 'rec_a/.index.m3u8.type']) {
      const response = await get(file);
      expect(response.status, file).toBe(404);
      expect(await response.json()).toMatchObject({ status: 404 });
    }
    expect(
      await vodResponse(storage, '../etc/passwd', { headers: {} }, { cacheControl: 'x' }),
    ).toBeUndefined();
  });
});

describe('parseRangeHeader', () => {
  it.each([
    ['bytes=0-499', { start: 0, end: 499 }],
    ['bytes=500-', { start: 500 }],
    ['bytes=-500', { suffix: 500 }],
    [' Bytes = 1 - 2 ', { start: 1, end: 2 }],
    ['bytes=5-99999999999999999999', { start: 5 }],
    ['bytes=0-1,4-5', undefined],
    ['bytes=2-1', undefined],
    ['bytes=-', undefined],
    ['lines=1-2', undefined],
    [undefined, undefined],
  ])('%s -> %j', (header, expected) => {
    expect(parseRangeHeader(header)).toEqual(expected);
  });
});

describe('contentTypeOf and cacheControlFor', () => {
  it('types by extension, whatever the case, with a fallback', () => {
    expect(contentTypeOf('rec/index.m3u8')).toBe('application/vnd.apple.mpegurl');
    expect(contentTypeOf('rec/P1-00001.M4S')).toBe('video/iso.segment');
    expect(contentTypeOf('rec/p1-init.mp4')).toBe('video/mp4');
    expect(contentTypeOf('seg.ts')).toBe('video/mp2t');
    expect(contentTypeOf('poster.jpg')).toBe('image/jpeg');
    expect(contentTypeOf('rec/noext')).toBe('application/octet-stream');
    expect(contentTypeOf('rec.d/noext')).toBe('application/octet-stream');
  });

  it('caches playlists briefly while live, a minute as VOD, the rest for a year', () => {
    expect(cacheControlFor('r/index.m3u8', { live: true })).toBe('public, max-age=1');
    expect(cacheControlFor('r/index.m3u8', { live: false })).toBe('public, max-age=60');
    for (const key of ['r/p1-00001.m4s', 'r/p1-init.mp4', 'r/poster.jpg', 'r/a.ts']) {
      expect(cacheControlFor(key, { live: true })).toBe('public, max-age=31536000, immutable');
    }
  });
});
