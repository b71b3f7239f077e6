/**
 * The Uploader test suite, run over every RecordingStorage (uploader.disk.test.ts,
 * uploader.s3.test.ts). The store is wrapped in an InstrumentedStorage to observe the order
 * and overlap of writes, to slow them down and to make them fail.
 */
import { randomBytes } from 'node:crypto';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { InvalidStateError } from '@wisp/core';
import type { RecordingStorage } from '../../src/storage/RecordingStorage.ts';
import {
  FlushTimeoutError,
  UploadFailedError,
  Uploader,
  type UploaderEvents,
  type UploaderOptions,
} from '../../src/storage/Uploader.ts';
import {
  InstrumentedStorage,
  StoreDownError,
  type InstrumentedStorageOptions,
} from './instrumentedStorage.ts';
import { readAll } from './storageSuite.ts';

export interface UploaderStorageFactory {
  /** A fresh, empty storage. */
  create(): Promise<RecordingStorage>;
}

const SEGMENT = 'video/iso.segment';
const PLAYLIST = 'application/vnd.apple.mpegurl';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Keys named on the non-comment lines of a playlist. */
function segmentsOf(playlist: Buffer): string[] {
  return playlist
    .toString()
    .split('\n')
    .filter((line) => line && !line.startsWith('#'));
}

export function describeUploader(name: string, factory: UploaderStorageFactory): void {
  describe(`Uploader over ${name}`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    const spools: string[] = [];

    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    afterAll(async () => {
      await Promise.all(spools.map((dir) => rm(dir, { recursive: true, force: true })));
    });

    async function setup(
      storageOptions: InstrumentedStorageOptions = {},
      uploaderOptions: UploaderOptions = {},
    ): Promise<{ store: InstrumentedStorage; uploader: Uploader; spool: string }> {
      const inner = await factory.create();
      const store = new InstrumentedStorage(inner, storageOptions);
      const uploader = new Uploader(store, { minRetryMs: 20, maxRetryMs: 200, ...uploaderOptions });
      cleanups.push(async () => {
        await uploader.close();
        await store.close();
      });
      const spool = await mkdtemp(path.join(os.tmpdir(), 'wisp-spool-'));
      spools.push(spool);
      return { store, uploader, spool };
    }

    async function spoolFile(spool: string, name: string, bytes: Buffer | string): Promise<string> {
      const file = path.join(spool, name);
      await writeFile(file, bytes);
      return file;
    }

    async function contentOf(storage: RecordingStorage, key: string): Promise<Buffer | undefined> {
      const object = await storage.get(key);
      return object && readAll(object.body);
    }

    /** The object without its bytes (the body is released at once). */
    async function metadataOf(storage: RecordingStorage, key: string) {
      const object = await storage.get(key);
      object?.body.destroy();
      return object;
    }

    function collect<K extends keyof UploaderEvents>(
      uploader: Uploader,
      event: K,
    ): Array<UploaderEvents[K]> {
      const seen: Array<UploaderEvents[K]> = [];
      uploader.on(event, (payload) => seen.push(payload));
      return seen;
    }

    it('stores files and bodies, says so, and leaves the local files alone', async () => {
      const { store, uploader, spool } = await setup();
      const stored = collect(uploader, 'stored');
      const segments = [1, 2, 3].map((n) => ({
        key: `rec_a/p1-0000${n}.m4s`,
        bytes: randomBytes(50_000 + n),
        file: '',
      }));
      for (const segment of segments) {
        segment.file = await spoolFile(spool, path.basename(segment.key), segment.bytes);
        uploader.enqueueFile(segment.key, segment.file, SEGMENT);
      }
      uploader.enqueueBody('rec_a/index.m3u8', '#EXTM3U\n', PLAYLIST, { barrier: true });
      expect(uploader.pending).toBe(4);
      await uploader.flush(10_000);
      expect(uploader.pending).toBe(0);
      for (const segment of segments) {
        expect((await contentOf(store.inner, segment.key))!.equals(segment.bytes)).toBe(true);
        await access(segment.file); // still there
      }
      expect((await contentOf(store.inner, 'rec_a/index.m3u8'))!.toString()).toBe('#EXTM3U\n');
      expect((await metadataOf(store.inner, 'rec_a/index.m3u8'))!.contentType).toBe(PLAYLIST);
      expect(stored.map((event) => event.key).sort()).toEqual(
        [...segments.map((segment) => segment.key), 'rec_a/index.m3u8'].sort(),
      );
      expect(stored.find((event) => event.key === segments[0].key)).toMatchObject({
        path: segments[0].file,
        bytes: segments[0].bytes.length,
        attempts: 1,
      });
      expect(uploader.uploadedBytes).toBe(
        segments.reduce((sum, segment) => sum + segment.bytes.length, 0) + 8,
      );
      expect(uploader.lastError).toBeUndefined();
    });

    it('runs at most `concurrency` uploads at once (default 4)', async () => {
      for (const concurrency of [undefined, 2]) {
        const { store, uploader } = await setup({ delayMs: () => 60 }, { concurrency });
        for (let i = 0; i < 12; i++) uploader.enqueueBody(`rec_c/${i}.m4s`, `s${i}`, SEGMENT);
        await uploader.flush(10_000);
        expect(store.maxActive).toBe(concurrency ?? 4);
        expect(store.writes.filter((write) => write.ok)).toHaveLength(12);
        // Started in enqueue order.
        expect(store.writes.map((write) => write.key)).toEqual(
          Array.from({ length: 12 }, (_, i) => `rec_c/${i}.m4s`),
        );
      }
    });

    it('stores a playlist only once every segment enqueued before it is in the store', async () => {
      const violations: string[] = [];
      const ref: { store?: InstrumentedStorage } = {};
      const { store, uploader, spool } = await setup(
        {
          // Segments take 10-120 ms, in no particular order.
          delayMs: (key) => (key.endsWith('.m4s') ? 10 + Math.floor(Math.random() * 110) : 0),
          async onWriteStart(key, bytes) {
            if (!key.endsWith('.m3u8')) return;
            for (const segment of segmentsOf(bytes)) {
              const there = (await metadataOf(ref.store!.inner, `rec_b/${segment}`)) !== undefined;
              if (!there) violations.push(`${key} written before ${segment}`);
            }
          },
        },
        { concurrency: 4 },
      );
      ref.store = store;
      const lines = ['#EXTM3U'];
      for (let n = 1; n <= 12; n++) {
        const name = `p1-${String(n).padStart(5, '0')}.m4s`;
        uploader.enqueueFile(
          `rec_b/${name}`,
          await spoolFile(spool, name, randomBytes(2000)),
          SEGMENT,
        );
        lines.push(name);
        if (n % 3 === 0) {
          uploader.enqueueBody('rec_b/p1.m3u8', `${lines.join('\n')}\n`, PLAYLIST, {
            barrier: true,
          });
        }
      }
      await uploader.flush(20_000);
      expect(violations).toEqual([]);
      expect(segmentsOf((await contentOf(store.inner, 'rec_b/p1.m3u8'))!)).toHaveLength(12);
      expect(store.versionsOf('rec_b/p1.m3u8').length).toBeGreaterThan(0);
    });

    it('keeps uploading later segments while a playlist waits for an earlier one', async () => {
      const { store, uploader } = await setup({
        delayMs: (key) => (key === 'rec_w/1.m4s' ? 300 : 0),
      });
      uploader.enqueueBody('rec_w/1.m4s', 'slow', SEGMENT);
      uploader.enqueueBody('rec_w/index.m3u8', '1.m4s\n', PLAYLIST, { barrier: true });
      uploader.enqueueBody('rec_w/2.m4s', 'fast', SEGMENT);
      await uploader.flush(10_000);
      const ended = (key: string) => store.writes.find((write) => write.key === key)!.endedAt!;
      const started = (key: string) => store.writes.find((write) => write.key === key)!.startedAt;
      expect(ended('rec_w/2.m4s')).toBeLessThan(ended('rec_w/1.m4s'));
      expect(started('rec_w/index.m3u8')).toBeGreaterThanOrEqual(ended('rec_w/1.m4s'));
    });

    it('writes only the latest pending version of a key, never an older one after it', async () => {
      const { store, uploader, spool } = await setup({
        delayMs: (key) => (key.endsWith('.m3u8') ? 150 : 0),
      });
      const superseded = collect(uploader, 'superseded');
      const files: string[] = [];
      for (let v = 1; v <= 10; v++) files.push(await spoolFile(spool, `index-${v}.m3u8`, `v${v}`));
      uploader.enqueueFile('rec_l/index.m3u8', files[0], PLAYLIST); // starts at once
      await sleep(20);
      for (let v = 2; v <= 10; v++)
        uploader.enqueueFile('rec_l/index.m3u8', files[v - 1], PLAYLIST);
      expect(uploader.pending).toBe(2); // v1 being written, v10 waiting
      await uploader.flush(10_000);
      expect(store.versionsOf('rec_l/index.m3u8')).toEqual(['v1', 'v10']);
      expect((await contentOf(store.inner, 'rec_l/index.m3u8'))!.toString()).toBe('v10');
      // v2..v9 were replaced before they started: their files are no longer needed.
      expect(superseded.map((event) => event.path)).toEqual(files.slice(1, 9));
    });

    it('keeps versions in order when playlists are barriers between segments', async () => {
      const { store, uploader } = await setup({
        delayMs: (key) => (key.endsWith('.m4s') ? 5 + Math.floor(Math.random() * 40) : 10),
      });
      for (let n = 1; n <= 20; n++) {
        uploader.enqueueBody(`rec_o/${n}.m4s`, `segment ${n}`, SEGMENT);
        uploader.enqueueBody('rec_o/index.m3u8', `v${n}`, PLAYLIST, { barrier: true });
        if (n % 5 === 0) await sleep(30);
      }
      await uploader.flush(20_000);
      const versions = store.versionsOf('rec_o/index.m3u8').map((v) => Number(v.slice(1)));
      expect(versions.at(-1)).toBe(20);
      expect(versions).toEqual([...versions].sort((a, b) => a - b));
      expect(new Set(versions).size).toBe(versions.length);
      expect((await contentOf(store.inner, 'rec_o/index.m3u8'))!.toString()).toBe('v20');
      expect(await store.inner.list('rec_o')).toHaveLength(21);
    });

    it('does not retry an older version that failed once a newer one is queued', async () => {
      const { store, uploader } = await setup({}, { minRetryMs: 500, maxRetryMs: 500 });
      store.failNext.set('rec_f/index.m3u8', 1);
      const retries = collect(uploader, 'retry');
      uploader.enqueueBody('rec_f/index.m3u8', 'old', PLAYLIST);
      while (retries.length === 0) await sleep(5);
      uploader.enqueueBody('rec_f/index.m3u8', 'new', PLAYLIST);
      await uploader.flush(400); // well before the old one's retry was due
      expect(store.writes.map((write) => [write.bytes.toString(), write.ok])).toEqual([
        ['old', false],
        ['new', true],
      ]);
      await sleep(600);
      expect(store.writes).toHaveLength(2);
      expect((await contentOf(store.inner, 'rec_f/index.m3u8'))!.toString()).toBe('new');
    });

    it('retries a failing upload with growing delays until it is stored', async () => {
      const { store, uploader } = await setup({}, { minRetryMs: 10, maxRetryMs: 40 });
      store.failNext.set('rec_r/1.m4s', 4);
      const retries = collect(uploader, 'retry');
      const stored = collect(uploader, 'stored');
      uploader.enqueueBody('rec_r/1.m4s', 'x', SEGMENT);
      await uploader.flush(10_000);
      expect(retries.map((retry) => retry.attempt)).toEqual([1, 2, 3, 4]);
      for (const retry of retries) expect(retry.error).toBeInstanceOf(StoreDownError);
      // Jittered to 50-100 % of 10, 20, 40, 40 ms.
      const bounds = [10, 20, 40, 40];
      retries.forEach((retry, i) => {
        expect(retry.delayMs).toBeGreaterThanOrEqual(bounds[i] / 2);
        expect(retry.delayMs).toBeLessThanOrEqual(bounds[i]);
      });
      expect(stored).toMatchObject([{ key: 'rec_r/1.m4s', attempts: 5 }]);
      expect(uploader.lastError).toBeInstanceOf(StoreDownError);
    });

    it('times out a flush with the cause while the store is down, keeping the queue', async () => {
      const { store, uploader, spool } = await setup();
      uploader.enqueueBody('rec_d/0.m4s', 'before', SEGMENT);
      await uploader.flush(5000);
      store.down = true;
      const bytes = new Map<string, Buffer>();
      for (let i = 1; i <= 6; i++) {
        bytes.set(`rec_d/${i}.m4s`, randomBytes(10_000));
        uploader.enqueueFile(
          `rec_d/${i}.m4s`,
          await spoolFile(spool, `${i}.m4s`, bytes.get(`rec_d/${i}.m4s`)!),
          SEGMENT,
        );
      }
      uploader.enqueueBody('rec_d/index.m3u8', 'all six', PLAYLIST, { barrier: true });
      const error: unknown = await uploader.flush(300).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(FlushTimeoutError);
      expect((error as FlushTimeoutError).cause).toBeInstanceOf(StoreDownError);
      expect((error as FlushTimeoutError).pending).toBe(7);
      expect(uploader.pending).toBe(7);
      await expect(uploader.flush(200)).rejects.toBeInstanceOf(FlushTimeoutError);
      store.down = false;
      await uploader.flush(10_000);
      for (const [key, content] of bytes) {
        expect((await contentOf(store.inner, key))!.equals(content)).toBe(true);
      }
      expect((await contentOf(store.inner, 'rec_d/index.m3u8'))!.toString()).toBe('all six');
    });

    it('resolves a flush once what was queued before it is stored, not what came after', async () => {
      const { uploader } = await setup({
        delayMs: (key) => (key.endsWith('slow.m4s') ? 1500 : 50),
      });
      uploader.enqueueBody('rec_n/fast.m4s', 'x', SEGMENT);
      const flushed = uploader.flush(1000);
      uploader.enqueueBody('rec_n/slow.m4s', 'y', SEGMENT);
      await flushed;
      expect(uploader.pending).toBe(1);
      await uploader.flush(5000);
      await uploader.flush(0); // nothing pending: resolves at once
    });

    it('gives up on a file that is gone, and the flush says which', async () => {
      const { store, uploader, spool } = await setup();
      const failed = collect(uploader, 'failed');
      const missing = path.join(spool, 'never-written.m4s');
      uploader.enqueueFile('rec_g/1.m4s', missing, SEGMENT);
      uploader.enqueueBody('rec_g/index.m3u8', '1.m4s\n', PLAYLIST, { barrier: true });
      const error: unknown = await uploader.flush(5000).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(UploadFailedError);
      expect((error as UploadFailedError).keys).toEqual(['rec_g/1.m4s']);
      expect(failed).toMatchObject([{ key: 'rec_g/1.m4s', path: missing }]);
      expect(store.writes.filter((write) => write.key === 'rec_g/1.m4s')).toHaveLength(0);
      // The barrier behind it was not held up forever.
      expect((await contentOf(store.inner, 'rec_g/index.m3u8'))!.toString()).toBe('1.m4s\n');
      // Storing the key again clears the failure.
      uploader.enqueueFile('rec_g/1.m4s', await spoolFile(spool, 'again.m4s', 'again'), SEGMENT);
      await uploader.flush(5000);
    });

    it('abandons pending work on close and stops retrying', async () => {
      const { store, uploader, spool } = await setup();
      store.down = true;
      const file = await spoolFile(spool, 'kept.m4s', 'kept');
      uploader.enqueueFile('rec_x/1.m4s', file, SEGMENT);
      uploader.enqueueBody('rec_x/2.m4s', 'x', SEGMENT);
      const pendingFlush = uploader.flush(60_000);
      while (store.writes.length < 4) await sleep(5);
      await uploader.close();
      await expect(pendingFlush).rejects.toBeInstanceOf(InvalidStateError);
      const attempts = store.writes.length;
      await sleep(400);
      expect(store.writes).toHaveLength(attempts);
      await access(file);
      expect(() => uploader.enqueueBody('rec_x/3.m4s', 'x', SEGMENT)).toThrow(InvalidStateError);
      await expect(uploader.flush(100)).rejects.toBeInstanceOf(InvalidStateError);
      await uploader.close();
      store.down = false;
      expect(await store.inner.list('rec_x')).toEqual([]);
    });

    it('refuses malformed keys at enqueue', async () => {
      const { uploader } = await setup();
      for (const key of ['', '/abs', 'a/../b', 'a\\b', 'a//b']) {
        expect(() => uploader.enqueueBody(key, 'x', SEGMENT), key).toThrow(TypeError);
        expect(() => uploader.enqueueFile(key, '/tmp/x', SEGMENT), key).toThrow(TypeError);
      }
      expect(uploader.pending).toBe(0);
    });
  });
}
