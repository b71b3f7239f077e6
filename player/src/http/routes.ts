/**
 * HTTP routes of the player: the watch page (`/watch/:id`) and its public status
 * (`/watch/:id/status`), the browser publishing page (`/publish`), the admin page (`/admin`),
 * the iframe player (`/embed/:id`), the `<wisp-player>` script (`/player/embed.js`) and the
 * built bundles (`/player/assets/<file>`). The pages talk to the platform only through its
 * public endpoints under `publicUrl` (WHIP, WHEP, the status, the admin API).
 */
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Hono } from 'hono';
import type { Context } from 'hono';
import {
  renderAdminPage,
  renderEmbedPage,
  renderMessagePage,
  renderPublishPage,
  renderWatchPage,
} from '../html.ts';
import { DEFAULT_DIST_DIR } from '../paths.ts';
import type { PublicStreamStatus } from '../web/core/api.ts';

export type { PublicStreamStatus, Recording } from '../web/core/api.ts';

export interface PlayerRoutesOptions {
  /** The platform's public base URL (`PUBLIC_URL`), e.g. `https://live.example.com`. */
  publicUrl: string;
  /** Directory of the esbuild output. Default: `player/dist`. */
  distDir?: string;
  /**
   * What anyone may know about a stream (`GET /watch/:id/status`), undefined when it does not
   * exist. Without it the route is absent and the player has no replay: it learns that the
   * stream is live from WHEP alone.
   */
  status?: (streamId: string) => Promise<PublicStreamStatus | undefined>;
}

/** Stream ids are URL-safe: letters, digits, `-` and `_`, at most 64 characters. */
export const STREAM_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Asset names: one path segment, no leading dot, a known extension (checked separately). */
const ASSET_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9]+)+$/;

const CONTENT_TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  map: 'application/json; charset=utf-8',
};

export const ASSETS_NOT_BUILT_MESSAGE = 'player assets not built: run npm run setup';

/**
 * Content-Security-Policy of the pages. Scripts and styles come only from our own assets.
 * `connect-src *` because WHEP may redirect (307) to an edge on another host and the session URL
 * may live there too. WebRTC media is outside CSP's reach.
 */
const PUBLISH_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "media-src 'self' blob: mediastream:; connect-src *; base-uri 'none'; form-action 'none'";

/**
 * The watch and embed pages also play recordings: hls.js fetches them (`connect-src`) into
 * `blob:` media, native HLS loads them as media, and their posters are images; recordings may
 * live on another host (a CDN in front of `/vod`).
 */
const PLAYER_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src * data:; " +
  "media-src * blob: mediastream:; connect-src *; base-uri 'none'; form-action 'none'";

/** The admin page talks to its own API only, and handles the admin token: no framing. */
const ADMIN_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src * data:; " +
  "media-src * blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; " +
  "frame-ancestors 'none'";

/** Message pages carry their own inline styles and no script. */
const MESSAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'";

interface PageHeaders {
  csp: string;
  /** False for the watch page, which is meant to be embedded. */
  denyFraming: boolean;
}

export function createPlayerRoutes(options: PlayerRoutesOptions): Hono {
  const publicUrl = normalizePublicUrl(options.publicUrl);
  const distDir = options.distDir ?? DEFAULT_DIST_DIR;
  // Assets are referenced by path only, so they always load from the page's own origin: module
  // scripts are fetched in CORS mode and would fail cross-origin.
  const assetBase = `${new URL(publicUrl).pathname.replace(/\/$/, '')}/player/assets`;
  const app = new Hono();

  app.get('/watch/:id', async (c) => {
    const id = c.req.param('id');
    if (!STREAM_ID_PATTERN.test(id)) {
      return page(c, 404, renderMessagePage('Stream not found', 'There is no stream here.'), {
        csp: MESSAGE_CSP,
        denyFraming: false,
      });
    }
    if (!(await isRegularFile(join(distDir, 'watch.js')))) return notBuiltPage(c);
    const html = renderWatchPage({
      streamId: id,
      whepUrl: `${publicUrl}/whep/${id}`,
      statusUrl: `${publicUrl}/watch/${id}/status`,
      assetBase,
    });
    return page(c, 200, html, { csp: PLAYER_CSP, denyFraming: false });
  });

  const status = options.status;
  if (status) {
    app.get('/watch/:id/status', async (c) => {
      const id = c.req.param('id');
      const found = STREAM_ID_PATTERN.test(id) ? await status(id) : undefined;
      if (!found) {
        return c.json({ title: 'Not Found', status: 404, detail: 'no such stream' }, 404, {
          'Content-Type': 'application/problem+json',
        });
      }
      // Public and the same for everyone: a CDN may keep it for the polling interval.
      c.header('Cache-Control', 'public, max-age=2');
      return c.json({
        id: found.id,
        name: found.name,
        live: found.live,
        viewers: found.viewers,
        recordings: found.recordings.filter(
          (r) => r.status === 'ready' || r.status === 'recording',
        ),
      } satisfies PublicStreamStatus);
    });
  }

  app.get('/embed/:id', async (c) => {
    const id = c.req.param('id');
    if (!STREAM_ID_PATTERN.test(id)) {
      return page(c, 404, renderMessagePage('Stream not found', 'There is no stream here.'), {
        csp: MESSAGE_CSP,
        denyFraming: false,
      });
    }
    if (!(await isRegularFile(join(distDir, 'embed.js')))) return notBuiltPage(c);
    const flag = (name: string, fallback: boolean): boolean => {
      const value = c.req.query(name);
      return value === undefined ? fallback : value !== '0' && value !== 'false';
    };
    const html = renderEmbedPage({
      src: `${publicUrl}/watch/${id}`,
      muted: flag('muted', true),
      autoplay: flag('autoplay', true),
      stats: flag('stats', false),
      assetBase,
    });
    return page(c, 200, html, { csp: PLAYER_CSP, denyFraming: false });
  });

  app.get('/admin', async (c) => {
    if (!(await isRegularFile(join(distDir, 'admin.js')))) return notBuiltPage(c);
    const html = renderAdminPage({ apiBase: `${publicUrl}/api`, publicUrl, assetBase });
    c.header('Referrer-Policy', 'no-referrer');
    return page(c, 200, html, { csp: ADMIN_CSP, denyFraming: true });
  });

  // The custom element's script, at the address the embed snippet names. Other sites load it
  // (and, through it, the hls.js chunk) as a module script, which is fetched in CORS mode.
  app.get('/player/embed.js', (c) => serveAsset(c, 'embed.js'));

  app.get('/publish', async (c) => {
    if (!(await isRegularFile(join(distDir, 'publish.js')))) return notBuiltPage(c);
    const html = renderPublishPage({ whipUrl: `${publicUrl}/whip`, assetBase });
    // The page handles stream keys and the camera: no framing, no referrer.
    c.header('Referrer-Policy', 'no-referrer');
    return page(c, 200, html, {
      csp: `${PUBLISH_CSP}; frame-ancestors 'none'`,
      denyFraming: true,
    });
  });

  app.get('/player/assets/:file', (c) => serveAsset(c, c.req.param('file')));

  async function serveAsset(c: Context, name: string): Promise<Response> {
    const contentType = CONTENT_TYPES[name.slice(name.lastIndexOf('.') + 1)];
    // The pattern admits no `/`, `\` or leading dot, so the joined path stays inside distDir.
    if (!ASSET_NAME_PATTERN.test(name) || !contentType) return c.text('Not Found', 404);
    if (!(await isDirectory(distDir))) return c.text(ASSETS_NOT_BUILT_MESSAGE, 503);
    const asset = await loadAsset(join(distDir, name));
    if (!asset) return c.text('Not Found', 404);
    // File names carry no content hash, so browsers revalidate every time; the answer is
    // usually a cheap 304.
    c.header('Cache-Control', 'public, no-cache');
    c.header('ETag', asset.etag);
    c.header('X-Content-Type-Options', 'nosniff');
    // Public files, embeddable anywhere (the platform's CORS middleware may narrow the
    // Access-Control-Allow-Origin it sets after this).
    c.header('Access-Control-Allow-Origin', '*');
    c.header('Cross-Origin-Resource-Policy', 'cross-origin');
    if (etagMatches(c.req.header('if-none-match'), asset.etag)) return c.body(null, 304);
    c.header('Content-Type', contentType);
    return c.body(asset.body, 200);
  }

  return app;
}

function normalizePublicUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`publicUrl must be an absolute URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`publicUrl must be http(s), got ${JSON.stringify(value)}`);
  }
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}

function page(c: Context, status: 200 | 404 | 503, html: string, headers: PageHeaders): Response {
  c.header('Cache-Control', 'no-store');
  c.header('Content-Security-Policy', headers.csp);
  c.header('X-Content-Type-Options', 'nosniff');
  if (headers.denyFraming) c.header('X-Frame-Options', 'DENY');
  return c.html(html, status);
}

function notBuiltPage(c: Context): Response {
  return page(c, 503, renderMessagePage('Player unavailable', ASSETS_NOT_BUILT_MESSAGE), {
    csp: MESSAGE_CSP,
    denyFraming: false,
  });
}

async function isDirectory(path: string): Promise<boolean> {
  const stats = await lstat(path).catch(() => undefined);
  return stats?.isDirectory() ?? false;
}

async function isRegularFile(path: string): Promise<boolean> {
  const stats = await lstat(path).catch(() => undefined);
  return stats?.isFile() ?? false;
}

/**
 * Reads a regular file (symlinks and directories are refused). The ETag is derived from size
 * and modification time, which change with every build.
 */
async function loadAsset(
  path: string,
): Promise<{ body: Uint8Array<ArrayBuffer>; etag: string } | undefined> {
  const stats = await lstat(path).catch(() => undefined);
  if (!stats?.isFile()) return undefined;
  const body = await readFile(path).catch(() => undefined);
  if (!body) return undefined;
  const etag = `W/"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`;
  return { body, etag };
}

/** `If-None-Match` uses the weak comparison (RFC 9110 §13.1.2). */
function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const opaque = (tag: string): string => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => tag.trim() === '*' || opaque(tag) === opaque(etag));
}
