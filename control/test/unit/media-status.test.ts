/**
 * The `media` part of a stream's view: present exactly while the stream is live and the live
 * status provider knows it, on GET of one stream and in the list, never on create.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  EmbeddedStateStore,
  configureLogging,
  type LiveStatusProvider,
  type StreamMediaView,
  type StreamView,
} from '@wisp/core';
import { StreamService, createControlRoutes } from '../../src/index.ts';

configureLogging('warn');

const ADMIN_TOKEN = 'admin-token-for-tests';

const MEDIA: StreamMediaView = {
  tracks: [
    {
      kind: 'video',
      mid: '0',
      codec: 'video/VP8',
      state: 'no-keyframe',
      packetsReceived: 420,
      bytesReceived: 2520,
      keyframesReceived: 0,
    },
  ],
};

/** A provider whose answers the test sets; `mediaStatus` is asked even when offline. */
class LiveMedia implements LiveStatusProvider {
  readonly live = new Set<string>();
  readonly asked: string[] = [];
  isLive(streamId: string): boolean {
    return this.live.has(streamId);
  }
  mediaStatus(streamId: string): Promise<StreamMediaView> {
    this.asked.push(streamId);
    return Promise.resolve(MEDIA);
  }
}

describe('stream media status in the API', () => {
  let dir: string;
  let store: EmbeddedStateStore;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'wisp-control-media-'));
    store = await EmbeddedStateStore.create({ dataDir: dir });
  });

  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  function api(live: LiveStatusProvider) {
    const service = new StreamService({ store, publicUrl: 'https://live.example.test', live });
    const app = createControlRoutes({ service, adminToken: ADMIN_TOKEN, maxJsonBytes: 1024 });
    return async (
      method: string,
      pathname: string,
    ): Promise<StreamView & { streams?: StreamView[] }> => {
      const response = await app.request(pathname, {
        method,
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
        ...(method === 'POST' ? { body: JSON.stringify({ name: 'media' }) } : {}),
      });
      expect(response.status).toBeLessThan(300);
      return (await response.json()) as StreamView & { streams?: StreamView[] };
    };
  }

  it('shows the media of a live stream on GET and in the list', async () => {
    const live = new LiveMedia();
    const request = api(live);
    const created = await request('POST', '/streams');
    expect(created).not.toHaveProperty('media');

    live.live.add(created.id);
    expect((await request('GET', `/streams/${created.id}`)).media).toEqual(MEDIA);
    const { streams } = await request('GET', '/streams');
    expect(streams?.[0]?.media).toEqual(MEDIA);
  });

  it('leaves media out while the stream is offline, without asking for it', async () => {
    const live = new LiveMedia();
    const request = api(live);
    const created = await request('POST', '/streams');
    const view = await request('GET', `/streams/${created.id}`);
    expect(view.live).toBe(false);
    expect(view).not.toHaveProperty('media');
    expect(live.asked).toEqual([]);
  });

  it('leaves media out when the provider cannot tell', async () => {
    const ids = new Set<string>();
    const request = api({ isLive: (id) => ids.has(id) });
    const created = await request('POST', '/streams');
    ids.add(created.id);
    const view = await request('GET', `/streams/${created.id}`);
    expect(view.live).toBe(true);
    expect(view).not.toHaveProperty('media');
  });
});
