import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { configureLogging } from '@wisp/core';
import { DiskStorage } from '../../src/storage/DiskStorage.ts';
import { describeUploader } from '../support/uploaderSuite.ts';

configureLogging('silent');

const dirs: string[] = [];

afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describeUploader('DiskStorage', {
  async create() {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'wisp-uploader-disk-'));
    dirs.push(dir);
    return new DiskStorage({ dir });
  },
});
