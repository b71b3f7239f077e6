/**
 * Lifecycle with real media (libwebrtc publisher and viewers): publisher gone by DELETE, by
 * closing its PeerConnection, or by a killed process -> stream offline, viewers closed,
 * resources freed; takeover, key rotation, late joiners get a keyframe, and many
 * publish/view cycles leak nothing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WrtcPublisher, WrtcViewer } from '@wisp/loadtest';
import { spawnPublisher } from '../support/publisherProcess.ts';
import { startPlatform, type TestPlatform } from '../support/platform.ts';

let t: TestPlatform;
const cleanup: (() => Promise<unknown>)[] = [];

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

async function expectAllFreed(): Promise<void> {
  await until('all sessions, routers and transports freed', async () => {
    const dump = await t.platform.pool.dump();
    return (
      t.platform.ingest.liveStreamCount === 0 &&
      t.platform.edge.viewerCount() === 0 &&
      t.platform.edge.streamCount === 0 &&
      dump.every((w) => w.routerIds.length === 0) &&
      t.platform.pool.stats().every((w) => w.transports === 0)
    );
  });
}

async function livePublisher(streamKey: string, whipUrl: string): Promise<WrtcPublisher> {
  const publisher = await WrtcPublisher.start({ whipUrl, streamKey });
  cleanup.push(() => publisher.close());
  await publisher.waitConnected(10_000);
  return publisher;
}

async function viewer(whepUrl: string): Promise<WrtcViewer> {
  const v = await WrtcViewer.start({ whepUrl });
  cleanup.push(() => v.close());
  return v;
}

beforeAll(async () => {
  t = await startPlatform({
    SESSION_INACTIVITY_TIMEOUT_MS: '2000',
    SESSION_CONNECT_TIMEOUT_MS: '8000',
  });
});

afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!().catch(() => undefined);
  await expectAllFreed();
});

afterAll(async () => {
  await t.stop();
});

describe('publisher leaves', () => {
  it('by DELETE: the stream goes offline, viewers are closed, everything is freed', async () => {
    const stream = await t.createStream();
    const publisher = await livePublisher(stream.streamKey, stream.whipUrl);
    const v = await viewer(stream.whepUrl);
    await v.waitForFrames(10, 10_000);
    expect(v.stats().width).toBe(320);
    expect((await (await t.api(`/api/streams/${stream.id}`)).json()).live).toBe(true);

    await publisher.close();
    await until('stream offline', () => !t.platform.ingest.isLive(stream.id));
    await until('viewer session closed', () => t.platform.edge.viewerCount() === 0);
    await until('viewer sees the end', () =>
      ['closed', 'failed', 'disconnected'].includes(v.connectionState),
    );
    expect((await (await t.api(`/api/streams/${stream.id}`)).json()).live).toBe(false);
  });

  it('by closing its PeerConnection without DELETE (DTLS close): offline within seconds', async () => {
    const stream = await t.createStream();
    const publisher = await livePublisher(stream.streamKey, stream.whipUrl);
    const v = await viewer(stream.whepUrl);
    await v.waitForFrames(5, 10_000);
    const started = Date.now();
    await publisher.kill();
    await until('stream offline', () => !t.platform.ingest.isLive(stream.id), 6000);
    console.log(`offline ${Date.now() - started} ms after the publisher closed without DELETE`);
    await until('viewer session closed', () => t.platform.edge.viewerCount() === 0);
  });

  it('by a killed process (nothing sent): offline after the inactivity timeout', async () => {
    const stream = await t.createStream();
    const { child, ready } = spawnPublisher(stream.whipUrl, stream.streamKey);
    cleanup.push(() => Promise.resolve(child.kill('SIGKILL')));
    await ready;
    await until('stream live', () => t.platform.ingest.isLive(stream.id));
    const v = await viewer(stream.whepUrl);
    await v.waitForFrames(5, 10_000);
    const started = Date.now();
    child.kill('SIGKILL');
    await until('stream offline', () => !t.platform.ingest.isLive(stream.id), 8000);
    const elapsed = Date.now() - started;
    console.log(`offline ${elapsed} ms after the publisher process was killed`);
    expect(elapsed).toBeGreaterThanOrEqual(1000); // Detected by inactivity, not by a message.
    await until('viewer session closed', () => t.platform.edge.viewerCount() === 0);
  });
});

describe('publisher takeover and keys', () => {
  it('a new publish with the same key replaces the live publisher at once', async () => {
    const stream = await t.createStream();
    const first = await livePublisher(stream.streamKey, stream.whipUrl);
    const firstSession = first.location!;
    const second = await livePublisher(stream.streamKey, stream.whipUrl);
    expect(second.location).not.toBe(firstSession);
    expect(t.platform.ingest.liveStreamCount).toBe(1);
    // The old session URL is gone; the new one serves viewers.
    const old = await fetch(firstSession, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${stream.streamKey}` },
    });
    expect(old.status).toBe(404);
    const v = await viewer(stream.whepUrl);
    await v.waitForFrames(5, 10_000);
  });

  it('rotating the key disconnects the live publisher and refuses the old key', async () => {
    const stream = await t.createStream();
    await livePublisher(stream.streamKey, stream.whipUrl);
    const rotated = await (await t.api(`/api/streams/${stream.id}/key`, { method: 'POST' })).json();
    expect(rotated.streamKey).not.toBe(stream.streamKey);
    await until('publisher kicked', () => !t.platform.ingest.isLive(stream.id));
    await expect(
      WrtcPublisher.start({ whipUrl: stream.whipUrl, streamKey: stream.streamKey }),
    ).rejects.toThrow(/401/);
    await livePublisher(rotated.streamKey, stream.whipUrl);
    expect(t.platform.ingest.isLive(stream.id)).toBe(true);
  });
});

describe('viewers', () => {
  it('a viewer joining mid-stream gets a keyframe promptly (libwebrtc sends none unasked)', async () => {
    const stream = await t.createStream();
    await livePublisher(stream.streamKey, stream.whipUrl);
    const early = await viewer(stream.whepUrl);
    await early.waitForFrames(5, 10_000);
    await new Promise((r) => setTimeout(r, 2500));
    const late = await viewer(stream.whepUrl);
    await late.waitForFrames(1, 3000);
    console.log(`late joiner: first frame after ${late.timeToFirstFrameMs?.toFixed(0)} ms`);
    expect(late.timeToFirstFrameMs).toBeLessThan(3000);
  });

  it('30 publish/view cycles with real media leave nothing behind', async () => {
    const stream = await t.createStream();
    for (let i = 0; i < 30; i++) {
      const publisher = await WrtcPublisher.start({
        whipUrl: stream.whipUrl,
        streamKey: stream.streamKey,
        audio: i % 2 === 0,
      });
      await publisher.waitConnected(10_000);
      const v = await WrtcViewer.start({ whepUrl: stream.whepUrl, audio: i % 2 === 0 });
      await v.waitForFrames(1, 5000);
      if (i % 3 === 0) await v.close();
      await publisher.close();
      await v.close();
    }
    await expectAllFreed();
  }, 180_000);
});
