/**
 * The media types and cache lifetimes of a recording's files, by extension: one table for
 * what the recorder stores and what the VOD route answers.
 */

const TYPES: Record<string, string> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
  '.ts': 'video/mp2t',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.vtt': 'text/vtt',
};

/** Fallback for an unknown extension. */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** The media type of a key or file name by its extension (case-insensitive). */
export function contentTypeOf(key: string): string {
  const name = key.slice(key.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return DEFAULT_CONTENT_TYPE;
  return TYPES[name.slice(dot).toLowerCase()] ?? DEFAULT_CONTENT_TYPE;
}

/** Segments, init segments and posters never change once written. */
export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable';
/** A playlist that is still growing: players reload it every target duration. */
export const LIVE_PLAYLIST_CACHE_CONTROL = 'public, max-age=1';
/** A finished (VOD) playlist: it may still be rewritten once, e.g. by crash recovery. */
export const VOD_PLAYLIST_CACHE_CONTROL = 'public, max-age=60';

/**
 * The default `Cache-Control` of a recording's file: a playlist (`.m3u8`) is short-lived
 * while the recording is live (`live: true`) and a minute once it is VOD; anything else is
 * immutable.
 */
export function cacheControlFor(key: string, options: { live: boolean }): string {
  if (key.toLowerCase().endsWith('.m3u8')) {
    return options.live ? LIVE_PLAYLIST_CACHE_CONTROL : VOD_PLAYLIST_CACHE_CONTROL;
  }
  return IMMUTABLE_CACHE_CONTROL;
}
