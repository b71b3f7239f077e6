import { randomBytes, randomUUID } from 'node:crypto';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureLogging } from '@wisp/core';
import { S3Storage } from '../../src/storage/S3Storage.ts';
import { FlushTimeoutError, Uploader } from '../../src/storage/Uploader.ts';
import { startS3Server, type RunningS3Server } from '../support/s3.ts';
import { readAll } from '../support/storageSuite.ts';
import { describeUploader, sleep } from '../support/uploaderSuite.ts';

configureLogging('silent');

let s3: RunningS3Server;
let spool: string;

beforeAll(async () => {
  s3 = await startS3Server();
  spool = await mkdtemp(path.join(os.tmpdir(), 'wisp-uploader-s3-'));
});

afterAll(async () => {
  await s3?.stop();
  if (spool) await rm(spool, { recursive: true, force: true });
});

function storage(): S3Storage {
  return new S3Storage({ ...s3.storageOptions, prefix: `uploader-${randomUUID()}/` });
}

describeUploader('S3Storage on s3rver', { create: () => Promise.resolve(storage()) });

describe('Uploader over S3Storage when s3rver itself goes away', () => {
  it('loses nothing while the store is down for seconds mid-upload', async () => {
    const store = storage();
    const uploader = new Uploader(store, { concurrency: 4, minRetryMs: 100, maxRetryMs: 1000 });
    const stored = new Set<string>();
    uploader.on('stored', ({ key }) => stored.add(key));
    let retries = 0;
    uploader.on('retry', () => retries++);
    const files = new Map<string, Buffer>();
    const lines = ['#EXTM3U'];
    const enqueueSegment = async (n: number): Promise<void> => {
      const name = `p1-${String(n).padStart(5, '0')}.m4s`;
      const bytes = randomBytes(512 * 1024 + n);
      const file = path.join(spool, name);
      await writeFile(file, bytes);
      files.set(`rec_s3/${name}`, bytes);
      uploader.enqueueFile(`rec_s3/${name}`, file, 'video/iso.segment');
      lines.push(name);
      const playlist = `${lines.join('\n')}\n`;
      files.set('rec_s3/p1.m3u8', Buffer.from(playlist));
      uploader.enqueueBody('rec_s3/p1.m3u8', playlist, 'application/vnd.apple.mpegurl', {
        barrier: true,
      });
    };
    try {
      for (let n = 1; n <= 16; n++) await enqueueSegment(n);
      // Pull the plug while uploads are running.
      while (stored.size < 3) await sleep(2);
      await s3.down();
      for (let n = 17; n <= 24; n++) await enqueueSegment(n);
      const pendingWhileDown = uploader.pending;
      expect(pendingWhileDown).toBeGreaterThanOrEqual(8);

      const timedOut: unknown = await uploader.flush(1500).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(timedOut).toBeInstanceOf(FlushTimeoutError);
      const cause = (timedOut as FlushTimeoutError).cause as NodeJS.ErrnoException;
      expect(cause).toBeInstanceOf(Error);
      expect(`${cause.code} ${cause.message}`).toMatch(
        /ECONNREFUSED|ECONNRESET|EPIPE|socket hang up/,
      );
      expect(uploader.pending).toBe(pendingWhileDown);

      await sleep(1500); // down for about 3 s in all
      await s3.up();
      await uploader.flush(30_000);
      expect(uploader.pending).toBe(0);
      expect(retries).toBeGreaterThan(0);

      expect(await store.list('rec_s3')).toEqual([...files.keys()].sort());
      for (const [key, bytes] of files) {
        const object = await store.get(key);
        expect((await readAll(object!.body)).equals(bytes), key).toBe(true);
      }
      for (const key of files.keys()) {
        if (key.endsWith('.m4s')) await access(path.join(spool, path.basename(key)));
      }
    } finally {
      await uploader.close();
      await store.close();
      await s3.up();
    }
  });
});
