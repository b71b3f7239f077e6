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

it('a full port range answers 503 with Retry-After, and frees the port when a session ends', async () => {
  const small = await startPlatform({
    RTC_PORT_MODE: 'range',
    RTC_LISTEN_IP: '127.0.0.1',
    RTC_MIN_PORT: '47100',
    RTC_MAX_PORT: '47101',
    RTC_ENABLE_TCP: 'false',
    MEDIASOUP_WORKERS: '1',
  });
  try {
    const a = await small.createStream('a');
    const b = await small.createStream('b');
    const c = await small.createStream('c');
    const first = await publishFixture(small.baseUrl, a.streamKey, 'f7-obs');
    await publishFixture(small.baseUrl, b.streamKey, 'f7-obs');
    const full = await fetch(`${small.baseUrl}/whip`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${c.streamKey}` },
      body: sdpFixture('f7-obs'),
    });
    expect(full.status).toBe(503);
    expect(full.headers.get('retry-after')).toBe('5');
    expect(full.headers.get('location')).toBeNull();
    const del = await fetch(first.location, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${a.streamKey}` },
    });
    expect(del.status).toBe(200);
    await publishFixture(small.baseUrl, c.streamKey, 'f7-obs');
  } finally {
    await small.stop();
  }
});
