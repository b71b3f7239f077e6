import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configureLogging } from '@wisp/core';
import { DiskStorage } from '../../src/storage/DiskStorage.ts';
import { createStorage } from '../../src/storage/index.ts';
import { describeRecordingStorage, readAll } from '../support/storageSuite.ts';

configureLogging('warn');

const dirs: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wisp-disk-storage-'));
  dirs.push(dir);
  return dir;
}

afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describeRecordingStorage('DiskStorage', {
  create: async () => new DiskStorage({ dir: path.join(await tempDir(), 'recordings') }),
});

/** Every file under `dir`, dot-files included, as relative paths. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

describe('DiskStorage on disk', () => {
  it('lays keys out as plain files and leaves no temporary file behind', async () => {
    const dir = path.join(await tempDir(), 'recordings');
    const storage = new DiskStorage({ dir });
    await storage.put('rec_a/index.m3u8', '#EXTM3U\n', 'application/vnd.apple.mpegurl');
    const source = path.join(await tempDir(), 'seg.m4s');
    await writeFile(source, 'segment bytes');
    await storage.putFile('rec_a/p1-00001.m4s', source, 'video/iso.segment');
    expect(await tree(dir)).toEqual(['rec_a/index.m3u8', 'rec_a/p1-00001.m4s']);
    expect(await readFile(path.join(dir, 'rec_a', 'p1-00001.m4s'), 'utf8')).toBe('segment bytes');
    expect(storage.pathOf('rec_a/index.m3u8')).toBe(path.join(dir, 'rec_a', 'index.m3u8'));
    // The source is copied, never moved.
    expect(await readFile(source, 'utf8')).toBe('segment bytes');
    await storage.close();
  });

  it('keeps a non-default content type in a hidden sidecar that list ignores', async () => {
    const dir = await tempDir();
    const storage = new DiskStorage({ dir });
    await storage.put('rec_b/data.m3u8', 'x', 'audio/mpegurl');
    expect(await tree(dir)).toEqual(['rec_b/.data.m3u8.type', 'rec_b/data.m3u8']);
    expect(await storage.list('')).toEqual(['rec_b/data.m3u8']);
    await storage.put('rec_b/data.m3u8', 'x', 'application/vnd.apple.mpegurl');
    expect(await tree(dir)).toEqual(['rec_b/data.m3u8']);
    await storage.close();
  });

  it('ignores leftover temporary files of an interrupted write', async () => {
    const dir = await tempDir();
    const storage = new DiskStorage({ dir });
    await storage.put('rec_c/a.m4s', 'a', 'video/iso.segment');
    await writeFile(path.join(dir, 'rec_c', '.b.m4s.0123456789ab.tmp'), 'torn');
    expect(await storage.list('rec_c')).toEqual(['rec_c/a.m4s']);
    await storage.deletePrefix('rec_c');
    expect(await tree(dir)).toEqual([]);
    await storage.close();
  });

  it('finishes a read started before an overwrite with the old bytes', async () => {
    const storage = new DiskStorage({ dir: await tempDir() });
    const old = Buffer.alloc(2 * 1024 * 1024, 'a');
    await storage.put('rec_d/index.m3u8', old, 'application/vnd.apple.mpegurl');
    const reading = (await storage.get('rec_d/index.m3u8'))!;
    await storage.put('rec_d/index.m3u8', 'new', 'application/vnd.apple.mpegurl');
    expect((await readAll(reading.body)).equals(old)).toBe(true);
    expect((await readAll((await storage.get('rec_d/index.m3u8'))!.body)).toString()).toBe('new');
    await storage.close();
  });

  it('is what createStorage picks for the disk kind', async () => {
    const dir = await tempDir();
    const storage = createStorage({ kind: 'disk', dir });
    expect(storage).toBeInstanceOf(DiskStorage);
    expect(storage.kind).toBe('disk');
    await storage.close();
  });
});
