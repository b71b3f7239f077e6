/**
 * Sessions that never complete ICE/DTLS are closed after SESSION_CONNECT_TIMEOUT_MS, with
 * everything they held (a WHIP offer whose client never connects must not keep a stream
 * "live" or a port open).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sdpFixture } from '../support/fixtures.ts';
import { publishFixture, whepPost } from '../support/http.ts';
import { startPlatform, type TestPlatform } from '../support/platform.ts';

let t: TestPlatform;

beforeAll(async () => {
  t = await startPlatform({ SESSION_CONNECT_TIMEOUT_MS: '600' });
});

afterAll(async () => {
  await t.stop();
});

it('WHIP and WHEP sessions that never connect are closed after the connect timeout', async () => {
  const stream = await t.createStream();
  const live = await publishFixture(t.baseUrl, stream.streamKey, 'f7-obs');
  const view = await whepPost(t.baseUrl, stream.id, sdpFixture('w1-whep-browser'));
  expect(view.status).toBe(201);
  expect(t.platform.ingest.isLive(stream.id)).toBe(true);
  expect(t.platform.edge.viewerCount()).toBe(1);

  await expect
    .poll(() => t.platform.ingest.isLive(stream.id), { timeout: 5000, interval: 50 })
    .toBe(false);
  expect(t.platform.edge.viewerCount()).toBe(0);
  const session = await fetch(live.location, {
    headers: { Authorization: `Bearer ${stream.streamKey}` },
  });
  expect(session.status).toBe(404);
  const dump = await t.platform.pool.dump();
  expect(dump.flatMap((w) => w.routerIds)).toEqual([]);
});
