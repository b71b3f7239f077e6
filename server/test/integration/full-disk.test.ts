/**
 * A single process whose data directory sits on a real disk that fills up (a small tmpfs,
 * filled to the last byte): API changes are refused with a clear 507 problem and change
 * nothing, while what needs no write goes on: listing streams, publishing an existing stream
 * and watching it. Once there is room again, changes are accepted. Recording is off here; a
 * recorder on a full disk is not covered (docs/recording.md, Failures).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WrtcPublisher, WrtcViewer } from '@wisp/loadtest';
import {
  mountSmallDisk,
  smallDiskAvailable,
  type SmallDisk,
} from '../../../core/test/support/smallDisk.ts';
import { startPlatform, type TestPlatform } from '../support/platform.ts';

describe.skipIf(!smallDiskAvailable)('a full disk under the data directory (needs root)', () => {
  let disk: SmallDisk;
  let t: TestPlatform;

  beforeAll(async () => {
    disk = await mountSmallDisk(1024 * 1024);
    t = await startPlatform({ DATA_DIR: disk.dir, RECORDINGS: 'off', MEDIASOUP_WORKERS: '1' });
  });

  afterAll(async () => {
    await t?.stop();
    await disk?.remove();
  });

  it('refuses changes with 507 while publishing and watching go on', async () => {
    const stream = await t.createStream('before the disk filled');
    await disk.fill();

    const refused = await t.api('/api/streams', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'refused' }),
    });
    expect(refused.status).toBe(507);
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    expect(refused.headers.get('retry-after')).toBe('30');
    expect(await refused.json()).toMatchObject({
      title: 'Insufficient Storage',
      detail: expect.stringMatching(/disk .* is full/),
    });
    const rotate = await t.api(`/api/streams/${stream.id}/key`, { method: 'POST' });
    expect(rotate.status).toBe(507);

    // Nothing changed: one stream, and its key still publishes.
    const listed = (await (await t.api('/api/streams')).json()) as { streams: unknown[] };
    expect(listed.streams).toHaveLength(1);
    const publisher = await WrtcPublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
    });
    try {
      await publisher.waitConnected(15_000);
      const viewer = await WrtcViewer.start({ whepUrl: stream.whepUrl });
      try {
        await viewer.waitForFrames(20, 15_000);
      } finally {
        await viewer.close();
      }
    } finally {
      await publisher.close();
    }

    await disk.free();
    const created = await t.api('/api/streams', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'after' }),
    });
    expect(created.status).toBe(201);
  });
});
