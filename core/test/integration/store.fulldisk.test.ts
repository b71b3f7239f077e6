/**
 * The embedded state store on a real full disk (a small tmpfs filled to the last byte): a
 * change that cannot be written is refused with InsufficientStorageError (507) and changes
 * nothing, in memory or on disk; reads go on; once there is room again, changes are stored.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  EmbeddedStateStore,
  InsufficientStorageError,
  configureLogging,
  type StateStore,
} from '../../src/index.ts';
import { makeRecord } from '../support/storeSuite.ts';
import { mountSmallDisk, smallDiskAvailable, type SmallDisk } from '../support/smallDisk.ts';

configureLogging('silent');

describe.skipIf(!smallDiskAvailable)('embedded state store on a full disk (needs root)', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(): Promise<{ disk: SmallDisk; store: StateStore }> {
    const disk = await mountSmallDisk(256 * 1024);
    cleanups.push(() => disk.remove());
    const store = await EmbeddedStateStore.create({ dataDir: disk.dir });
    cleanups.push(() => store.close());
    return { disk, store };
  }

  it('refuses changes with 507 and keeps the old state, then stores changes again', async () => {
    const { disk, store } = await setup();
    const kept = makeRecord({ name: 'kept' });
    await store.createStream(kept);
    const before = await readFile(path.join(disk.dir, 'state.json'), 'utf8');

    await disk.fill();
    expect(await disk.freeBytes()).toBe(0);
    const refused = makeRecord({ name: 'refused' });
    const error = await store.createStream(refused).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InsufficientStorageError);
    expect(error).toMatchObject({ status: 507, title: 'Insufficient Storage' });
    expect((error as Error).message).toMatch(/full \(ENOSPC\)/);
    await expect(store.updateStream(kept.id, { name: 'renamed' })).rejects.toBeInstanceOf(
      InsufficientStorageError,
    );
    await expect(store.deleteStream(kept.id)).rejects.toBeInstanceOf(InsufficientStorageError);

    // Nothing changed: in memory, in the file, and no half-written temporary file is left.
    expect(await store.getStream(refused.id)).toBeUndefined();
    expect(await store.getStream(kept.id)).toEqual(kept);
    expect(await store.findStreamByKeyHash(refused.keyHash)).toBeUndefined();
    expect(await readFile(path.join(disk.dir, 'state.json'), 'utf8')).toBe(before);
    expect((await readdir(disk.dir)).sort()).toEqual(['.filler', 'state.json']);

    await disk.free();
    await store.createStream(refused);
    await store.updateStream(kept.id, { name: 'renamed' });
    await store.close();
    const reopened = await EmbeddedStateStore.create({ dataDir: disk.dir });
    cleanups.push(() => reopened.close());
    expect((await reopened.listStreams()).map((s) => s.name).sort()).toEqual([
      'refused',
      'renamed',
    ]);
  });
});
