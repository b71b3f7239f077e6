import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CorruptStateFileError, EmbeddedStateStore } from '../../src/store/EmbeddedStateStore.ts';
import { createStateStore } from '../../src/store/index.ts';
import { describeStateStore, makeRecord } from '../support/storeSuite.ts';
import { configureLogging } from '../../src/logger.ts';

configureLogging('warn');

const dirs: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wisp-store-'));
  dirs.push(dir);
  return dir;
}

afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

let currentDir = '';
describeStateStore('EmbeddedStateStore', {
  async create() {
    currentDir = await tempDir();
    return EmbeddedStateStore.create({ dataDir: currentDir });
  },
  reopen: () => EmbeddedStateStore.create({ dataDir: currentDir }),
});

describe('EmbeddedStateStore on disk', () => {
  it('creates a missing data directory', async () => {
    const dataDir = path.join(await tempDir(), 'nested', 'data');
    const store = await EmbeddedStateStore.create({ dataDir });
    await store.createStream(makeRecord());
    expect(await readdir(dataDir)).toEqual(['state.json']);
    await store.close();
  });

  it('writes readable JSON and leaves no temporary file behind', async () => {
    const dataDir = await tempDir();
    const store = await EmbeddedStateStore.create({ dataDir });
    const record = makeRecord({ name: 'on disk' });
    await store.createStream(record);
    await store.close();
    expect(await readdir(dataDir)).toEqual(['state.json']);
    const state = JSON.parse(await readFile(path.join(dataDir, 'state.json'), 'utf8'));
    expect(state).toEqual({
      version: 3,
      streams: [record],
      recordings: [],
      webhooks: { events: [], queues: [], dead: [] },
    });
  });

  it('reads a version 1 file (before recordings) and keeps its streams', async () => {
    const dataDir = await tempDir();
    const record = makeRecord({ name: 'from v1' });
    await writeFile(
      path.join(dataDir, 'state.json'),
      JSON.stringify({ version: 1, streams: [record] }),
    );
    const store = await EmbeddedStateStore.create({ dataDir });
    expect(await store.listStreams()).toEqual([record]);
    expect(await store.listUnfinishedRecordings()).toEqual([]);
    await store.close();
  });

  it('reads a version 2 file (before the webhook outbox) with an empty outbox', async () => {
    const dataDir = await tempDir();
    const record = makeRecord({ name: 'from v2' });
    await writeFile(
      path.join(dataDir, 'state.json'),
      JSON.stringify({ version: 2, streams: [record], recordings: [] }),
    );
    const store = await EmbeddedStateStore.create({ dataDir });
    expect(await store.listStreams()).toEqual([record]);
    expect(await store.webhookOutboxStats()).toEqual({ pending: 0, dead: 0 });
    await store.close();
  });

  it('does not change memory or file when a write is refused', async () => {
    const dataDir = await tempDir();
    const store = await EmbeddedStateStore.create({ dataDir });
    const record = makeRecord();
    await store.createStream(record);
    const before = await readFile(store.file, 'utf8');
    await expect(store.createStream(makeRecord({ id: record.id }))).rejects.toThrow();
    expect(await readFile(store.file, 'utf8')).toBe(before);
    await store.close();
  });

  it.each([
    ['invalid JSON', '{"version": 1, "streams": [', /not valid JSON/],
    ['a non-object', '42', /not a JSON object/],
    ['an unknown version', '{"version": 99, "streams": []}', /unsupported version 99/],
    ['a malformed record', '{"version": 1, "streams": [{"id": 1}]}', /stream #0 is malformed/],
    [
      'a malformed webhook outbox',
      '{"version": 3, "streams": [], "webhooks": {"events": [{}], "queues": [], "dead": []}}',
      /webhook event #0 is malformed/,
    ],
  ])('refuses a state file holding %s, naming the file', async (_label, content, reason) => {
    const dataDir = await tempDir();
    const file = path.join(dataDir, 'state.json');
    await writeFile(file, content);
    const opening = EmbeddedStateStore.create({ dataDir });
    await expect(opening).rejects.toBeInstanceOf(CorruptStateFileError);
    await expect(opening).rejects.toThrow(file);
    await expect(opening).rejects.toThrow(reason);
    // The data is left for an operator to inspect, not wiped.
    expect(await readFile(file, 'utf8')).toBe(content);
  });

  it('is what createStateStore picks for the embedded kind', async () => {
    const dataDir = await tempDir();
    const store = await createStateStore({
      store: { kind: 'embedded', redisUrl: undefined, redisPrefix: 'wisp:' },
      dataDir,
    });
    expect(store).toBeInstanceOf(EmbeddedStateStore);
    await store.close();
  });
});
