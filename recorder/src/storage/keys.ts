/**
 * Key and prefix rules shared by every RecordingStorage, so a key that works on disk works
 * in S3 and the other way round. A key is a relative `/`-separated path of non-empty
 * segments; a segment is not `.`/`..` and does not start with `.` (dot names are reserved for
 * the stores' own temporary and metadata files), and holds no backslash or control
 * character. A key is at most 1024 UTF-8 bytes (S3's limit) and a segment at most 255 (a file
 * name's). Breaking a rule is a caller bug: TypeError.
 */

const MAX_KEY_BYTES = 1024;
const MAX_SEGMENT_BYTES = 255;
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\\\u0000-\u001f\u007f]/;

/** Throws TypeError unless `key` names an object (see the rules above). */
export function assertKey(key: string): void {
  if (typeof key !== 'string' || key === '') throw new TypeError('storage key must not be empty');
  checkSegments(key, 'key');
}

/**
 * Normalizes a folder prefix (`rec_abc`, `rec_abc/` -> `rec_abc/`; `''` stays `''`: the
 * whole store). Throws TypeError for anything a key could not start with.
 */
export function normalizePrefix(prefix: string): string {
  if (typeof prefix !== 'string') throw new TypeError('storage prefix must be a string');
  if (prefix === '') return '';
  const folder = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (folder === '') throw new TypeError('storage prefix "/" is not relative');
  checkSegments(folder, 'prefix');
  return `${folder}/`;
}

function checkSegments(path: string, what: string): void {
  if (Buffer.byteLength(path) > MAX_KEY_BYTES) {
    throw new TypeError(`storage ${what} is longer than ${MAX_KEY_BYTES} bytes`);
  }
  if (FORBIDDEN.test(path)) {
    throw new TypeError(
      `storage ${what} ${JSON.stringify(path)} holds a backslash or control character`,
    );
  }
  if (path.startsWith('/'))
    throw new TypeError(`storage ${what} ${JSON.stringify(path)} is absolute`);
  for (const segment of path.split('/')) {
    if (segment === '') {
      throw new TypeError(`storage ${what} ${JSON.stringify(path)} has an empty segment`);
    }
    if (segment.startsWith('.')) {
      throw new TypeError(
        `storage ${what} ${JSON.stringify(path)} has a segment starting with "." (reserved)`,
      );
    }
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) {
      throw new TypeError(`storage ${what} segment is longer than ${MAX_SEGMENT_BYTES} bytes`);
    }
  }
}
