import { describe, expect, it } from 'vitest';
import { assertKey, normalizePrefix } from '../../src/storage/keys.ts';
import {
  assertRange,
  RangeNotSatisfiableError,
  resolveRange,
  type ByteRange,
} from '../../src/storage/RecordingStorage.ts';
import { BAD_KEYS } from '../support/storageSuite.ts';

describe('storage keys', () => {
  it('accepts relative paths of ordinary names', () => {
    for (const key of ['rec_abc/p1-00001.m4s', 'index.m3u8', 'a/b/c/d.jpg', 'rec/Café 🎥.txt']) {
      expect(() => assertKey(key), key).not.toThrow();
    }
  });

  it.each(BAD_KEYS.map((key) => [JSON.stringify(key).slice(0, 40), key]))(
    'refuses %s with TypeError',
    (_label, key) => {
      expect(() => assertKey(key)).toThrow(TypeError);
    },
  );

  it('normalizes folder prefixes', () => {
    expect(normalizePrefix('')).toBe('');
    expect(normalizePrefix('rec_a')).toBe('rec_a/');
    expect(normalizePrefix('rec_a/')).toBe('rec_a/');
    expect(normalizePrefix('a/b')).toBe('a/b/');
    for (const bad of ['/', '//', '/a', 'a//', '../a', 'a\\b', '.x']) {
      expect(() => normalizePrefix(bad), bad).toThrow(TypeError);
    }
  });
});

describe('byte ranges', () => {
  it.each<[ByteRange, number, { start: number; end: number } | undefined]>([
    [{ start: 0 }, 10, { start: 0, end: 9 }],
    [{ start: 3, end: 5 }, 10, { start: 3, end: 5 }],
    [{ start: 3, end: 50 }, 10, { start: 3, end: 9 }],
    [{ start: 10 }, 10, undefined],
    [{ suffix: 4 }, 10, { start: 6, end: 9 }],
    [{ suffix: 40 }, 10, { start: 0, end: 9 }],
    [{ suffix: 0 }, 10, undefined],
    [{ start: 0 }, 0, undefined],
    [{ suffix: 1 }, 0, undefined],
  ])('%j of %d bytes -> %j', (range, size, expected) => {
    expect(resolveRange(range, size)).toEqual(expected);
  });

  it('refuses malformed ranges with TypeError', () => {
    for (const range of [{ start: -1 }, { start: 2, end: 1 }, { start: 0.5 }, { suffix: -1 }]) {
      expect(() => assertRange(range), JSON.stringify(range)).toThrow(TypeError);
    }
  });

  it('makes a 416 AppError naming the size', () => {
    const error = new RangeNotSatisfiableError('rec/a', { start: 20 }, 10);
    expect(error.status).toBe(416);
    expect(error.headers).toEqual({ 'Content-Range': 'bytes */10' });
    expect(error.message).toContain('bytes=20-');
  });
});
