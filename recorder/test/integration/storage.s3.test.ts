import { randomUUID } from 'node:crypto';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureLogging } from '@wisp/core';
import { createStorage } from '../../src/storage/index.ts';
import { S3Storage, type S3StorageOptions } from '../../src/storage/S3Storage.ts';
import { vodResponse } from '../../src/storage/serve.ts';
import { startS3Server, type RunningS3Server } from '../support/s3.ts';
import { describeRecordingStorage, fetchObject } from '../support/storageSuite.ts';

configureLogging('warn');

let s3: RunningS3Server;

beforeAll(async () => {
  s3 = await startS3Server();
});

afterAll(async () => {
  await s3?.stop();
});

function storageWith(options: Partial<S3StorageOptions> = {}): S3Storage {
  return new S3Storage({ ...s3.storageOptions, prefix: `test-${randomUUID()}/`, ...options });
}

describeRecordingStorage('S3Storage on s3rver', { create: () => Promise.resolve(storageWith()) });

// Paging and the per-object delete fallback take the other code paths of every call.
describeRecordingStorage('S3Storage on s3rver, 2 keys per page, no DeleteObjects', {
  create: () => Promise.resolve(storageWith({ listPageSize: 2, batchDelete: false })),
});

describe('S3Storage on s3rver', () => {
  it('puts objects under the prefix and lists keys without it', async () => {
    const prefix = `layout-${randomUUID()}`;
    const storage = storageWith({ prefix: `/${prefix}/` });
    expect(storage.prefix).toBe(`${prefix}/`);
    await storage.put('rec_a/index.m3u8', '#EXTM3U\n', 'application/vnd.apple.mpegurl');
    await storage.put('rec_a/p1-00001.m4s', 'x', 'video/iso.segment');
    const raw = new S3Client({ ...s3.storageOptions });
    try {
      const listed = await raw.send(
        new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }),
      );
      expect(listed.Contents?.map((object) => object.Key).sort()).toEqual([
        `${prefix}/rec_a/index.m3u8`,
        `${prefix}/rec_a/p1-00001.m4s`,
      ]);
    } finally {
      raw.destroy();
    }
    expect(await storage.list('rec_a')).toEqual(['rec_a/index.m3u8', 'rec_a/p1-00001.m4s']);
    await storage.close();
  });

  it('keeps different prefixes apart', async () => {
    const [a, b] = [storageWith(), storageWith()];
    await a.put('rec_x/index.m3u8', 'a', 'application/vnd.apple.mpegurl');
    expect(await b.get('rec_x/index.m3u8')).toBeUndefined();
    expect(await b.list('')).toEqual([]);
    await b.deletePrefix('rec_x');
    expect(await a.list('')).toEqual(['rec_x/index.m3u8']);
    await Promise.all([a.close(), b.close()]);
  });

  it('pages through a listing longer than a page', async () => {
    const storage = storageWith({ listPageSize: 3 });
    const keys = Array.from({ length: 10 }, (_, i) => `rec_p/p1-${String(i).padStart(5, '0')}.m4s`);
    await Promise.all(keys.map((key) => storage.put(key, 'x', 'video/iso.segment')));
    expect(await storage.list('rec_p')).toEqual(keys);
    await storage.close();
  });

  it('serves a suffix range right although s3rver misreads it', async () => {
    const storage = storageWith();
    await storage.put('rec_s/data.bin', '0123456789', 'application/octet-stream');
    const tail = await fetchObject(storage, 'rec_s/data.bin', { suffix: 4 });
    expect(tail.bytes.toString()).toBe('6789');
    expect(tail.range).toEqual({ start: 6, end: 9 });
    await storage.close();
  });

  it('serves ranges and conditional requests through vodResponse', async () => {
    const storage = storageWith();
    await storage.put('rec_v/p1-00001.m4s', '0123456789', 'video/iso.segment');
    const options = { cacheControl: 'public, max-age=31536000, immutable' };
    const partial = (await vodResponse(
      storage,
      'rec_v/p1-00001.m4s',
      { headers: { Range: 'bytes=-3' } },
      options,
    ))!;
    expect(partial.status).toBe(206);
    expect(partial.headers.get('content-range')).toBe('bytes 7-9/10');
    expect(await partial.text()).toBe('789');
    const etag = partial.headers.get('etag')!;
    const cached = (await vodResponse(
      storage,
      'rec_v/p1-00001.m4s',
      { headers: { 'If-None-Match': etag } },
      options,
    ))!;
    expect(cached.status).toBe(304);
    const head = (await vodResponse(
      storage,
      'rec_v/p1-00001.m4s',
      { method: 'HEAD', headers: {} },
      options,
    ))!;
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('10');
    expect(head.headers.get('content-type')).toBe('video/iso.segment');
    expect(await vodResponse(storage, 'rec_v/none.m4s', { headers: {} }, options)).toBeUndefined();
    await storage.close();
  });

  it('rejects (does not answer "missing") while the store is down', async () => {
    const storage = storageWith({ maxAttempts: 1 });
    await storage.put('rec_w/a.txt', 'x', 'text/plain');
    await s3.down();
    try {
      await expect(storage.get('rec_w/a.txt')).rejects.toThrow();
      await expect(storage.put('rec_w/b.txt', 'x', 'text/plain')).rejects.toThrow();
      await expect(storage.list('rec_w')).rejects.toThrow();
    } finally {
      await s3.up();
    }
    expect(await storage.list('rec_w')).toEqual(['rec_w/a.txt']);
    await storage.close();
  });

  it('throws for a missing bucket instead of answering "missing"', async () => {
    const storage = storageWith({ bucket: 'no-such-bucket' });
    await expect(storage.get('rec_a/x.txt')).rejects.toMatchObject({ name: 'NoSuchBucket' });
    await storage.close();
  });

  it('is what createStorage picks for the s3 kind', async () => {
    const storage = createStorage({ kind: 's3', ...s3.storageOptions, prefix: 'x/' });
    expect(storage).toBeInstanceOf(S3Storage);
    expect(storage.kind).toBe('s3');
    await storage.close();
  });
});
