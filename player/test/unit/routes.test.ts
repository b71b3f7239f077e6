import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPlayerRoutes } from '../../src/index.ts';
import type { PlayerRoutesOptions, PublicStreamStatus } from '../../src/index.ts';

const PUBLIC_URL = 'https://live.example.com';

let root: string;
let distDir: string;

beforeAll(async () => {
  // A fake dist next to a "secret" file, so traversal attempts have something to find.
  root = await mkdtemp(join(tmpdir(), 'wisp-player-routes-'));
  distDir = join(root, 'dist');
  await mkdir(distDir);
  await writeFile(join(root, 'package.json'), '{"secret": true}');
  await writeFile(join(distDir, 'watch.js'), 'console.log("watch");');
  await writeFile(join(distDir, 'watch.js.map'), '{"version":3}');
  await writeFile(join(distDir, 'publish.js'), 'console.log("publish");');
  await writeFile(join(distDir, 'admin.js'), 'console.log("admin");');
  await writeFile(join(distDir, 'embed.js'), 'console.log("embed");');
  await writeFile(join(distDir, 'hls.js'), 'export default class Hls {}');
  await writeFile(join(distDir, 'player.css'), 'body{}');
  await writeFile(join(distDir, 'notes.txt'), 'not an asset type');
  await mkdir(join(distDir, 'nested.js'));
  await symlink(join(root, 'package.json'), join(distDir, 'linked.js'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const READY = {
  id: 'r1',
  streamId: 's1',
  status: 'ready' as const,
  startedAt: '2026-01-01T00:00:00.000Z',
  endedAt: '2026-01-01T00:10:00.000Z',
  durationSeconds: 600,
  hlsUrl: `${PUBLIC_URL}/vod/r1/index.m3u8`,
  posterUrl: `${PUBLIC_URL}/vod/r1/poster.jpg`,
};

function status(id: string): Promise<PublicStreamStatus | undefined> {
  if (id !== 's1') return Promise.resolve(undefined);
  return Promise.resolve({
    id: 's1',
    name: 'Friday <talk>',
    live: false,
    viewers: 0,
    recordings: [
      { ...READY, id: 'r3', status: 'failed', error: 'ffmpeg exited' },
      { ...READY, id: 'r2', status: 'finalizing' },
      READY,
    ],
  });
}

function app(
  options: { publicUrl?: string; distDir?: string; status?: PlayerRoutesOptions['status'] } = {},
) {
  return createPlayerRoutes({
    publicUrl: options.publicUrl ?? PUBLIC_URL,
    distDir,
    status,
    ...options,
  });
}

describe('GET /watch/:id', () => {
  it('renders the player with the stream id and its WHEP endpoint as data', async () => {
    const res = await app().request('/watch/abc_DEF-123');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await res.text();
    expect(html).toContain('<meta name="viewport"');
    expect(html).toContain('data-stream-id="abc_DEF-123"');
    expect(html).toContain('data-whep-url="https://live.example.com/whep/abc_DEF-123"');
    expect(html).toContain('<script type="module" src="/player/assets/watch.js"></script>');
    expect(html).toContain('<link rel="stylesheet" href="/player/assets/player.css">');
    expect(html).toContain('data-status-url="https://live.example.com/watch/abc_DEF-123/status"');
    expect(html).toContain('data-hls-url="/player/assets/hls.js"');
    // The script builds the player (video, controls) into #player.
    expect(html).toContain('<div id="player"');
    // Recordings come from other hosts too (a CDN in front of /vod), played through blob: URLs.
    expect(res.headers.get('content-security-policy')).toContain('media-src * blob: mediastream:');
    expect(res.headers.get('x-frame-options')).toBeNull();
  });

  it('keeps a path prefix of PUBLIC_URL in endpoints and asset paths', async () => {
    const html = await (
      await app({ publicUrl: 'https://x.example/live/' }).request('/watch/s1')
    ).text();
    expect(html).toContain('data-whep-url="https://x.example/live/whep/s1"');
    expect(html).toContain('src="/live/player/assets/watch.js"');
  });

  it.each([
    ['markup', '/watch/%3Cscript%3Ealert(1)%3C%2Fscript%3E'],
    ['quotes', '/watch/a%22b'],
    ['a dot', '/watch/a.b'],
    ['too long', `/watch/${'a'.repeat(65)}`],
    ['an encoded slash', '/watch/a%2Fb'],
  ])('answers 404 for an id with %s, without echoing it', async (_name, path) => {
    const res = await app().request(path);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('Stream not found');
    expect(html).not.toContain('<script');
    expect(html).not.toContain('alert');
  });

  it('accepts an id of exactly 64 characters', async () => {
    expect((await app().request(`/watch/${'a'.repeat(64)}`)).status).toBe(200);
  });

  it('escapes whatever lands in the page', async () => {
    // Ids that pass validation carry nothing to escape, so check through PUBLIC_URL instead:
    // the URL parser percent-encodes quotes and angle brackets in paths.
    const html = await (
      await app({ publicUrl: 'https://x.example/a"b<c>' }).request('/watch/s1')
    ).text();
    expect(html).not.toContain('a"b');
    expect(html).not.toContain('<c>');
  });
});

describe('GET /publish', () => {
  it('renders the publishing page with the WHIP endpoint and no framing', async () => {
    const res = await app().request('/publish?key=secret');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await res.text();
    expect(html).toContain('data-whip-url="https://live.example.com/whip"');
    expect(html).toContain('src="/player/assets/publish.js"');
    expect(html).toContain('id="go-live"');
    // The key is read by the script from the URL; the server never echoes it.
    expect(html).not.toContain('secret');
  });
});

describe('GET /watch/:id/status', () => {
  it('is public JSON: name, live, viewers, and only the ready or recording recordings', async () => {
    const res = await app().request('/watch/s1/status');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=2');
    expect(await res.json()).toEqual({
      id: 's1',
      name: 'Friday <talk>',
      live: false,
      viewers: 0,
      recordings: [READY],
    });
  });

  it('404 problem+json for unknown and malformed ids; absent without a status function', async () => {
    for (const path of ['/watch/nope/status', '/watch/a.b/status']) {
      const res = await app().request(path);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    }
    const none = createPlayerRoutes({ publicUrl: PUBLIC_URL, distDir });
    expect((await none.request('/watch/s1/status')).status).toBe(404);
  });
});

describe('GET /embed/:id', () => {
  it('is <wisp-player> filling a frame, muted autoplay by default, flags from the query', async () => {
    const res = await app().request('/embed/s1');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-frame-options')).toBeNull();
    expect(res.headers.get('content-security-policy')).not.toContain('frame-ancestors');
    const html = await res.text();
    expect(html).toContain('<script type="module" src="/player/assets/embed.js"></script>');
    expect(html).toContain('<wisp-player src="https://live.example.com/watch/s1" muted autoplay>');
    const flags = await (await app().request('/embed/s1?muted=0&stats=1&autoplay=false')).text();
    expect(flags).toContain('<wisp-player src="https://live.example.com/watch/s1" stats>');
    expect((await app().request('/embed/%3Cx%3E')).status).toBe(404);
  });
});

describe('GET /admin', () => {
  it('is the admin page: its own API only, never framed, no referrer', async () => {
    const res = await app().request('/admin');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    const html = await res.text();
    expect(html).toContain('data-api-base="https://live.example.com/api"');
    expect(html).toContain('src="/player/assets/admin.js"');
  });
});

describe('GET /player/embed.js', () => {
  it('serves the element script for other sites (CORS, cross-origin resource policy)', async () => {
    const res = await app().request('/player/embed.js');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(await res.text()).toBe('console.log("embed");');
    // So is the hls.js chunk it imports from the same place.
    const chunk = await app().request('/player/assets/hls.js');
    expect(chunk.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('GET /player/assets/:file', () => {
  it('serves JavaScript with its content type, an ETag and revalidation', async () => {
    const res = await app().request('/player/assets/watch.js');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('public, no-cache');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await res.text()).toBe('console.log("watch");');

    const etag = res.headers.get('etag')!;
    expect(etag).toBeTruthy();
    const cached = await app().request('/player/assets/watch.js', {
      headers: { 'If-None-Match': etag },
    });
    expect(cached.status).toBe(304);
  });

  it('serves CSS and source maps with their content types', async () => {
    const css = await app().request('/player/assets/player.css');
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    const map = await app().request('/player/assets/watch.js.map');
    expect(map.headers.get('content-type')).toBe('application/json; charset=utf-8');
  });

  it.each([
    '/player/assets/..%2Fpackage.json',
    '/player/assets/..%2F..%2Fpackage.json',
    '/player/assets/%2e%2e%2Fpackage.json',
    '/player/assets/..%5Cpackage.json',
    '/player/assets/.hidden.js',
    '/player/assets/missing.js',
    '/player/assets/notes.txt',
    '/player/assets/nested.js',
    '/player/assets/linked.js',
    '/player/assets/watch.js%00.css',
  ])('answers 404 for %s', async (path) => {
    const res = await app().request(path);
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain('secret');
  });

  it('never serves files above dist, whatever the path', async () => {
    for (const path of [
      '/player/assets/../package.json',
      '/player/assets/sub/../../package.json',
    ]) {
      const res = await app().request(path);
      expect(res.status).toBe(404);
    }
  });
});

describe('missing dist', () => {
  const missing = () => createPlayerRoutes({ publicUrl: PUBLIC_URL, distDir: join(root, 'nope') });

  it('answers 503 with the setup hint for pages and assets', async () => {
    for (const path of [
      '/watch/abc',
      '/publish',
      '/admin',
      '/embed/abc',
      '/player/assets/watch.js',
      '/player/embed.js',
    ]) {
      const res = await missing().request(path);
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('player assets not built: run npm run setup');
    }
  });
});

describe('options', () => {
  it.each(['', 'not a url', 'ftp://example.com'])('rejects publicUrl %j', (publicUrl) => {
    expect(() => createPlayerRoutes({ publicUrl })).toThrow(TypeError);
  });
});
