/**
 * The one RecordingStorage test suite. Every implementation runs it (storage.disk.test.ts,
 * storage.s3.test.ts), so disk and S3 cannot drift apart in behaviour.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { InvalidStateError } from '@wisp/core';
import {
  RangeNotSatisfiableError,
  type ByteRange,
  type RecordingStorage,
  type StoredObject,
} from '../../src/storage/RecordingStorage.ts';
import { contentTypeOf } from '../../src/storage/contentTypes.ts';

export interface StorageFactory {
  /** A fresh, empty storage (a new directory, a new key prefix). */
  create(): Promise<RecordingStorage>;
}

export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** The object's bytes and metadata; fails the test when it is missing. */
export async function fetchObject(
  storage: RecordingStorage,
  key: string,
  range?: ByteRange,
): Promise<StoredObject & { bytes: Buffer }> {
  const object = await storage.get(key, range);
  expect(object, `object ${key}`).toBeDefined();
  return { ...object!, bytes: await readAll(object!.body) };
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export const BAD_KEYS = [
  '',
  '/abs/key',
  'rec/../etc/passwd',
  '..',
  'rec/./x',
  'rec//x',
  'rec/x/',
  'rec\\x',
  '.hidden',
  'rec/.x.tmp',
  'rec/x\u0000y',
  'rec/line\nbreak',
  'a'.repeat(256),
  `${'abc/'.repeat(300)}x`,
];

export function describeRecordingStorage(name: string, factory: StorageFactory): void {
  describe(`RecordingStorage contract: ${name}`, () => {
    const opened: RecordingStorage[] = [];
    const dirs: string[] = [];

    async function fresh(): Promise<RecordingStorage> {
      const storage = await factory.create();
      opened.push(storage);
      return storage;
    }

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((storage) => storage.close()));
    });

    afterAll(async () => {
      await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
    });

    async function tempFile(bytes: Buffer): Promise<string> {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'wisp-storage-src-'));
      dirs.push(dir);
      const file = path.join(dir, 'source.bin');
      await writeFile(file, bytes);
      return file;
    }

    it('stores and reads back a string and a Buffer with their metadata', async () => {
      const storage = await fresh();
      const before = Date.now();
      await storage.put('rec_a/index.m3u8', '#EXTM3U\n', 'application/vnd.apple.mpegurl');
      const bytes = randomBytes(1000);
      await storage.put('rec_a/p1-00001.m4s', bytes, 'video/iso.segment');

      const playlist = await fetchObject(storage, 'rec_a/index.m3u8');
      expect(playlist.bytes.toString()).toBe('#EXTM3U\n');
      expect(playlist.size).toBe(8);
      expect(playlist.contentType).toBe('application/vnd.apple.mpegurl');
      expect(playlist.etag).toMatch(/^"[^"]+"$/);
      expect(playlist.range).toBeUndefined();
      // Stores keep whole seconds (S3) or better: allow for the truncation.
      expect(playlist.lastModified.getTime()).toBeGreaterThanOrEqual(before - 1000);
      expect(playlist.lastModified.getTime()).toBeLessThanOrEqual(Date.now() + 1000);

      const segment = await fetchObject(storage, 'rec_a/p1-00001.m4s');
      expect(segment.bytes.equals(bytes)).toBe(true);
      expect(segment.size).toBe(1000);
      expect(segment.contentType).toBe('video/iso.segment');
      expect(segment.etag).not.toBe(playlist.etag);
    });

    it('streams a multi-megabyte file in and out byte for byte', async () => {
      const storage = await fresh();
      const bytes = randomBytes(6 * 1024 * 1024 + 123);
      const file = await tempFile(bytes);
      await storage.putFile('rec_b/p1-00001.m4s', file, 'video/iso.segment');
      const object = await fetchObject(storage, 'rec_b/p1-00001.m4s');
      expect(object.size).toBe(bytes.length);
      expect(object.bytes.length).toBe(bytes.length);
      expect(sha256(object.bytes)).toBe(sha256(bytes));
      expect(object.contentType).toBe('video/iso.segment');

      const middle = await fetchObject(storage, 'rec_b/p1-00001.m4s', {
        start: 3_000_000,
        end: 3_999_999,
      });
      expect(middle.range).toEqual({ start: 3_000_000, end: 3_999_999 });
      expect(middle.size).toBe(bytes.length);
      expect(middle.bytes.equals(bytes.subarray(3_000_000, 4_000_000))).toBe(true);
    });

    it('stores an empty object', async () => {
      const storage = await fresh();
      await storage.put('rec_e/empty.txt', '', 'text/plain');
      const object = await fetchObject(storage, 'rec_e/empty.txt');
      expect(object.size).toBe(0);
      expect(object.bytes.length).toBe(0);
      const file = await tempFile(Buffer.alloc(0));
      await storage.putFile('rec_e/empty.bin', file, 'application/octet-stream');
      expect((await fetchObject(storage, 'rec_e/empty.bin')).size).toBe(0);
    });

    it('replaces an object on overwrite, with a new ETag', async () => {
      const storage = await fresh();
      await storage.put('rec_c/index.m3u8', 'version one, longer', 'application/vnd.apple.mpegurl');
      const first = await fetchObject(storage, 'rec_c/index.m3u8');
      await storage.put('rec_c/index.m3u8', 'v2', 'application/vnd.apple.mpegurl');
      const second = await fetchObject(storage, 'rec_c/index.m3u8');
      expect(second.bytes.toString()).toBe('v2');
      expect(second.size).toBe(2);
      expect(second.etag).not.toBe(first.etag);
      const file = await tempFile(Buffer.from('v3 from a file'));
      await storage.putFile('rec_c/index.m3u8', file, 'application/vnd.apple.mpegurl');
      expect((await fetchObject(storage, 'rec_c/index.m3u8')).bytes.toString()).toBe(
        'v3 from a file',
      );
      expect(await storage.list('rec_c')).toEqual(['rec_c/index.m3u8']);
    });

    it.each<[string, ByteRange, { start: number; end: number }]>([
      ['bytes=a-b', { start: 2, end: 5 }, { start: 2, end: 5 }],
      ['bytes=a-a', { start: 0, end: 0 }, { start: 0, end: 0 }],
      ['bytes=a-', { start: 7 }, { start: 7, end: 9 }],
      ['bytes=a-b past the end (clipped)', { start: 8, end: 500 }, { start: 8, end: 9 }],
      ['bytes=-n', { suffix: 3 }, { start: 7, end: 9 }],
      ['bytes=-n longer than the object', { suffix: 50 }, { start: 0, end: 9 }],
    ])('reads the range %s', async (_label, range, expected) => {
      const storage = await fresh();
      const bytes = Buffer.from('0123456789');
      await storage.put('rec_r/data.bin', bytes, 'application/octet-stream');
      const object = await fetchObject(storage, 'rec_r/data.bin', range);
      expect(object.range).toEqual(expected);
      expect(object.size).toBe(10);
      expect(object.bytes.toString()).toBe(
        bytes.subarray(expected.start, expected.end + 1).toString(),
      );
      expect(object.contentType).toBe('application/octet-stream');
    });

    it.each<[string, ByteRange, number]>([
      ['starting at the end', { start: 10 }, 10],
      ['starting past the end', { start: 100, end: 200 }, 10],
      ['of zero suffix bytes', { suffix: 0 }, 10],
      ['of an empty object', { start: 0 }, 0],
      ['suffix of an empty object', { suffix: 5 }, 0],
    ])('refuses a range %s with RangeNotSatisfiableError', async (_label, range, size) => {
      const storage = await fresh();
      await storage.put('rec_u/data.bin', Buffer.alloc(size, 1), 'application/octet-stream');
      const error = await storage.get('rec_u/data.bin', range).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RangeNotSatisfiableError);
      expect((error as RangeNotSatisfiableError).size).toBe(size);
      expect((error as RangeNotSatisfiableError).status).toBe(416);
      expect((error as RangeNotSatisfiableError).headers['Content-Range']).toBe(`bytes */${size}`);
    });

    it('answers undefined for a missing key, with or without a range', async () => {
      const storage = await fresh();
      await storage.put('rec_m/there.txt', 'x', 'text/plain');
      expect(await storage.get('rec_m/missing.txt')).toBeUndefined();
      expect(await storage.get('rec_m/missing.txt', { start: 0 })).toBeUndefined();
      expect(await storage.get('rec_m/missing.txt', { suffix: 0 })).toBeUndefined();
      expect(await storage.get('rec_m')).toBeUndefined(); // a folder is not an object
      expect(await storage.get('nothing/here.txt')).toBeUndefined();
    });

    it('lists the keys of a folder, at any depth, sorted', async () => {
      const storage = await fresh();
      const keys = [
        'rec_l/p2-00001.m4s',
        'rec_l/index.m3u8',
        'rec_l/p1-00002.m4s',
        'rec_l/p1-00001.m4s',
        'rec_l/thumbs/0001.jpg',
        'rec_lx/index.m3u8',
        'other/index.m3u8',
      ];
      for (const key of keys) await storage.put(key, key, contentTypeOf(key));
      const inFolder = [
        'rec_l/index.m3u8',
        'rec_l/p1-00001.m4s',
        'rec_l/p1-00002.m4s',
        'rec_l/p2-00001.m4s',
        'rec_l/thumbs/0001.jpg',
      ];
      expect(await storage.list('rec_l')).toEqual(inFolder);
      expect(await storage.list('rec_l/')).toEqual(inFolder);
      expect(await storage.list('rec_l/thumbs')).toEqual(['rec_l/thumbs/0001.jpg']);
      expect(await storage.list('')).toEqual([...keys].sort());
      expect(await storage.list('nothing')).toEqual([]);
      expect(await storage.list('rec_l/index.m3u8')).toEqual([]); // an object is not a folder
    });

    it('deletes a folder and nothing beside it, idempotently', async () => {
      const storage = await fresh();
      for (const key of ['rec_d/a.m4s', 'rec_d/sub/b.m4s', 'rec_dd/c.m4s', 'rec_x/d.m4s']) {
        await storage.put(key, key, 'video/iso.segment');
      }
      await storage.deletePrefix('rec_d');
      expect(await storage.list('')).toEqual(['rec_dd/c.m4s', 'rec_x/d.m4s']);
      expect(await storage.get('rec_d/a.m4s')).toBeUndefined();
      await storage.deletePrefix('rec_d/');
      await storage.deletePrefix('never_there');
      await storage.deletePrefix('rec_x/');
      expect(await storage.list('')).toEqual(['rec_dd/c.m4s']);
      await expect(storage.deletePrefix('')).rejects.toBeInstanceOf(TypeError);
    });

    it('deletes a folder of many objects', async () => {
      const storage = await fresh();
      const keys = Array.from(
        { length: 30 },
        (_, i) => `rec_many/p1-${String(i).padStart(5, '0')}.m4s`,
      );
      await Promise.all(keys.map((key) => storage.put(key, 'x', 'video/iso.segment')));
      expect(await storage.list('rec_many')).toEqual(keys);
      await storage.deletePrefix('rec_many');
      expect(await storage.list('rec_many')).toEqual([]);
    });

    it('keeps the content type it was given', async () => {
      const storage = await fresh();
      const cases: Array<[string, string]> = [
        ['rec_t/index.m3u8', 'application/vnd.apple.mpegurl'],
        ['rec_t/p1-init.mp4', 'video/mp4'],
        ['rec_t/p1-00001.m4s', 'video/iso.segment'],
        ['rec_t/old-00001.ts', 'video/mp2t'],
        ['rec_t/poster.jpg', 'image/jpeg'],
        ['rec_t/meta.bin', 'application/x-wisp-custom'],
        ['rec_t/playlist.m3u8', 'audio/mpegurl'], // not the extension's default
      ];
      for (const [key, type] of cases) await storage.put(key, 'x', type);
      const file = await tempFile(Buffer.from('y'));
      await storage.putFile('rec_t/from-file.dat', file, 'application/x-from-file');
      cases.push(['rec_t/from-file.dat', 'application/x-from-file']);
      for (const [key, type] of cases) {
        expect((await fetchObject(storage, key)).contentType, key).toBe(type);
      }
      // Back to the default after a custom one.
      await storage.put('rec_t/playlist.m3u8', 'x', 'application/vnd.apple.mpegurl');
      expect((await fetchObject(storage, 'rec_t/playlist.m3u8')).contentType).toBe(
        'application/vnd.apple.mpegurl',
      );
      expect(await storage.list('rec_t')).toHaveLength(cases.length);
    });

    it('keeps keys with any Unicode intact', async () => {
      const storage = await fresh();
      const key = 'rec_ü/Café 🎥 (1).txt';
      await storage.put(key, 'unicode', 'text/plain');
      expect(await storage.list('rec_ü')).toEqual([key]);
      expect((await fetchObject(storage, key)).bytes.toString()).toBe('unicode');
    });

    it('refuses malformed keys, prefixes and ranges with TypeError', async () => {
      const storage = await fresh();
      const file = await tempFile(Buffer.from('x'));
      for (const key of BAD_KEYS) {
        await expect(storage.put(key, 'x', 'text/plain'), key).rejects.toBeInstanceOf(TypeError);
        await expect(storage.putFile(key, file, 'text/plain'), key).rejects.toBeInstanceOf(
          TypeError,
        );
        await expect(storage.get(key), key).rejects.toBeInstanceOf(TypeError);
      }
      for (const prefix of ['/', '/abs', '../up', 'a//b', 'a\\b', '.hidden/']) {
        await expect(storage.list(prefix), prefix).rejects.toBeInstanceOf(TypeError);
        await expect(storage.deletePrefix(prefix), prefix).rejects.toBeInstanceOf(TypeError);
      }
      await storage.put('rec_k/x.bin', 'x', 'application/octet-stream');
      const badRanges = [{ start: -1 }, { start: 5, end: 2 }, { start: 1.5 }, { suffix: -3 }];
      for (const range of badRanges) {
        await expect(storage.get('rec_k/x.bin', range as ByteRange)).rejects.toBeInstanceOf(
          TypeError,
        );
      }
      expect(await storage.list('')).toEqual(['rec_k/x.bin']);
    });

    it('fails putFile for a missing source file, storing nothing', async () => {
      const storage = await fresh();
      await expect(
        storage.putFile('rec_f/x.m4s', '/nonexistent/wisp/source.m4s', 'video/iso.segment'),
      ).rejects.toMatchObject({ code: 'ENOENT' });
      expect(await storage.list('')).toEqual([]);
    });

    it('refuses every call once closed', async () => {
      const storage = await fresh();
      await storage.put('rec_z/a.txt', 'x', 'text/plain');
      await storage.close();
      await storage.close();
      await expect(storage.get('rec_z/a.txt')).rejects.toBeInstanceOf(InvalidStateError);
      await expect(storage.put('rec_z/a.txt', 'x', 'text/plain')).rejects.toBeInstanceOf(
        InvalidStateError,
      );
      await expect(storage.list('')).rejects.toBeInstanceOf(InvalidStateError);
    });
  });
}
