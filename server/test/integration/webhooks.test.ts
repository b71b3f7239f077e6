/**
 * Webhooks end to end on one platform with real media: a libwebrtc publisher publishes and
 * unpublishes, the API rotates keys and deletes streams, and a real HTTP receiver checks
 * every signature with the `standardwebhooks` package. Then what the outbox is for: a
 * receiver that is down, slow or failing gets every event afterwards, in order per stream;
 * a 4xx stops the retries; a platform restart with pending events delivers them.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WrtcPublisher } from '@wisp/loadtest';
import { startPlatform, type TestPlatform } from '../support/platform.ts';
import { WebhookReceiver, type ReceivedEvent } from '../support/webhookReceiver.ts';

const SECRET = `whsec_${Buffer.from('wisp webhook test secret, 32 b!').toString('base64')}`;

let receiver: WebhookReceiver;
let t: TestPlatform;
const cleanup: (() => Promise<unknown>)[] = [];

function webhookEnv(url: string): Record<string, string> {
  return {
    WEBHOOK_URLS: url,
    WEBHOOK_SECRET: SECRET,
    WEBHOOK_TIMEOUT_MS: '500',
    WEBHOOK_RETRY_BASE_MS: '100',
    WEBHOOK_RETRY_MAX_MS: '800',
    MEDIASOUP_WORKERS: '1',
  };
}

beforeAll(async () => {
  receiver = await WebhookReceiver.start(SECRET);
  t = await startPlatform(webhookEnv(receiver.url));
});

afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!().catch(() => undefined);
  receiver.respond = () => 200;
  await receiver.up();
});

afterAll(async () => {
  await t?.stop();
  await receiver?.stop();
});

async function publishAndUnpublish(stream: {
  whipUrl: string;
  streamKey: string;
}): Promise<WrtcPublisher> {
  const publisher = await WrtcPublisher.start({
    whipUrl: stream.whipUrl,
    streamKey: stream.streamKey,
  });
  cleanup.push(() => publisher.close());
  await publisher.waitConnected(10_000);
  await new Promise((resolve) => setTimeout(resolve, 300));
  await publisher.close();
  return publisher;
}

const types = (events: ReceivedEvent[]) => events.map((e) => e.type);

describe('events', () => {
  it('arrive signed for a real publish and unpublish, a key rotation and a delete, in order', async () => {
    const stream = await t.createStream('webhooks');
    const publisher = await publishAndUnpublish(stream);
    const rotated = await t.api(`/api/streams/${stream.id}/key`, { method: 'POST' });
    expect(rotated.status).toBe(200);
    expect((await t.api(`/api/streams/${stream.id}`, { method: 'DELETE' })).status).toBe(204);

    const events = await receiver.waitFor('four events', () => {
      const got = receiver.streamEvents(stream.id);
      return got.length >= 4 && got;
    });
    expect(types(events)).toEqual([
      'stream.started',
      'stream.ended',
      'stream.key_rotated',
      'stream.deleted',
    ]);
    const [started, ended, keyRotated, deleted] = events;
    const sessionId = publisher.location!.split('/').pop();
    expect(started.data).toEqual({
      streamId: stream.id,
      sessionId,
      node: t.platform.config.cluster.nodeId,
      codecs: { audio: 'audio/opus', video: 'video/VP8' },
      startedAt: expect.any(String),
    });
    expect(ended.data).toMatchObject({
      streamId: stream.id,
      sessionId,
      codecs: { audio: 'audio/opus', video: 'video/VP8' },
      startedAt: started.data.startedAt,
      reason: 'deleted',
    });
    expect(ended.data.durationSeconds).toBeGreaterThan(0.2);
    expect(ended.data.durationSeconds).toBeLessThan(10);
    expect(keyRotated.data).toEqual({ streamId: stream.id });
    expect(deleted.data).toEqual({ streamId: stream.id });
    for (const event of events) {
      expect(event.id).toMatch(/^msg_/);
      expect(Date.parse(event.timestamp)).not.toBeNaN();
      const [request] = receiver.attempts(event.id);
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers['webhook-id']).toBe(event.id);
    }
    expect(receiver.requests.every((r) => r.verified)).toBe(true);
    // The receiver saw the last one a moment before the platform recorded it.
    await expect.poll(() => t.platform.store.webhookOutboxStats()).toEqual({ pending: 0, dead: 0 });
  });

  it('fail verification with the standardwebhooks package once the payload is tampered with', async () => {
    const stream = await t.createStream('tamper');
    await t.api(`/api/streams/${stream.id}/key`, { method: 'POST' });
    const [event] = await receiver.waitFor('the key_rotated event', () => {
      const got = receiver.streamEvents(stream.id);
      return got.length > 0 && got;
    });
    const [request] = receiver.attempts(event.id);
    const webhook = new Webhook(SECRET);
    expect(webhook.verify(request.body, request.headers)).toEqual(event);
    const tampered = request.body.replace(stream.id, `${stream.id.slice(0, -1)}X`);
    expect(tampered).not.toBe(request.body);
    expect(() => webhook.verify(tampered, request.headers)).toThrow(/No matching signature/);
    const otherId = { ...request.headers, 'webhook-id': 'msg_other' };
    expect(() => webhook.verify(request.body, otherId)).toThrow(/No matching signature/);
  });
});

describe('delivery', () => {
  it('a receiver down for a while gets every event afterwards, in order per stream', async () => {
    const [a, b] = [await t.createStream('down a'), await t.createStream('down b')];
    await receiver.down();
    await publishAndUnpublish(a);
    for (let i = 0; i < 3; i++) {
      await t.api(`/api/streams/${a.id}/key`, { method: 'POST' });
      await t.api(`/api/streams/${b.id}/key`, { method: 'POST' });
    }
    await t.api(`/api/streams/${b.id}`, { method: 'DELETE' });
    // Down for 2 s: attempts fail (connection refused) and are retried with backoff.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect((await t.platform.store.webhookOutboxStats()).pending).toBe(5 + 4);
    const upAt = Date.now();
    await receiver.up();
    await receiver.waitFor(
      'every event',
      () => receiver.streamEvents(a.id).length === 5 && receiver.streamEvents(b.id).length === 4,
    );
    console.log(`all 9 events delivered ${Date.now() - upAt} ms after the receiver came back`);
    expect(types(receiver.streamEvents(a.id))).toEqual([
      'stream.started',
      'stream.ended',
      'stream.key_rotated',
      'stream.key_rotated',
      'stream.key_rotated',
    ]);
    expect(types(receiver.streamEvents(b.id))).toEqual([
      'stream.key_rotated',
      'stream.key_rotated',
      'stream.key_rotated',
      'stream.deleted',
    ]);
    // The receiver saw the last one a moment before the platform recorded it.
    await expect.poll(() => t.platform.store.webhookOutboxStats()).toEqual({ pending: 0, dead: 0 });
  });

  it('retries a slow (timed out) and a failing (5xx) receiver with the same webhook-id, keeping order', async () => {
    const stream = await t.createStream('slow');
    receiver.respond = (request, attempt) => {
      const event = request.verified as unknown as ReceivedEvent;
      if (event.data.streamId !== stream.id) return 200;
      if (attempt === 1) return { status: 200, delayMs: 1500 }; // past WEBHOOK_TIMEOUT_MS
      if (attempt === 2) return 503;
      return 200;
    };
    await t.api(`/api/streams/${stream.id}/key`, { method: 'POST' });
    await t.api(`/api/streams/${stream.id}`, { method: 'DELETE' });
    const events = await receiver.waitFor('both events', () => {
      const deleted = receiver.requests.find(
        (r) => r.status === 200 && r.body.includes('stream.deleted') && r.body.includes(stream.id),
      );
      return deleted && receiver.streamEvents(stream.id);
    });
    expect(types(events)).toEqual(['stream.key_rotated', 'stream.deleted']);
    const [rotated, deleted] = events.map((e) => receiver.attempts(e.id));
    expect(rotated.map((r) => r.status)).toEqual([200, 503, 200]);
    expect(new Set(rotated.map((r) => r.headers['webhook-id'])).size).toBe(1);
    // Each attempt is signed when sent, and the next event waited for the first's success.
    expect(rotated.every((r) => r.verified)).toBe(true);
    expect(deleted[0].at).toBeGreaterThanOrEqual(rotated[2].at);
  });

  it("stops retrying on a 4xx other than 408/429, and goes on with the stream's next event", async () => {
    const stream = await t.createStream('gone');
    receiver.respond = (request, attempt) => {
      const event = request.verified as unknown as ReceivedEvent;
      if (event.data.streamId !== stream.id) return 200;
      if (event.type === 'stream.key_rotated') return attempt === 1 ? 429 : 410;
      return 200;
    };
    await t.api(`/api/streams/${stream.id}/key`, { method: 'POST' });
    await t.api(`/api/streams/${stream.id}`, { method: 'DELETE' });
    const [deleted] = await receiver.waitFor('the deleted event', () => {
      const got = receiver.streamEvents(stream.id);
      return got.length > 0 && got;
    });
    expect(deleted.type).toBe('stream.deleted');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const rotatedAttempts = receiver.requests.filter(
      (r) => r.body.includes('stream.key_rotated') && r.body.includes(stream.id),
    );
    expect(rotatedAttempts.map((r) => r.status)).toEqual([429, 410]);
    const [dead] = await t.platform.store.listDeadWebhooks();
    expect(dead).toMatchObject({ target: receiver.url, attempts: 2, error: 'HTTP 410' });
    expect(dead.event).toMatchObject({ type: 'stream.key_rotated', data: { streamId: stream.id } });
  });
});

describe('a platform restart', () => {
  it('delivers the events that were pending when it stopped', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'wisp-webhooks-'));
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    const env = { ...webhookEnv(receiver.url), DATA_DIR: dataDir };
    const first = await startPlatform(env);
    const stream = await first.createStream('restart');
    await receiver.down();
    await publishAndUnpublish(stream);
    await first.api(`/api/streams/${stream.id}/key`, { method: 'POST' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    await first.stop();
    const state = JSON.parse(await readFile(path.join(dataDir, 'state.json'), 'utf8'));
    expect(state.webhooks.events.map((e: { event: ReceivedEvent }) => e.event.type)).toEqual([
      'stream.started',
      'stream.ended',
      'stream.key_rotated',
    ]);
    expect(receiver.streamEvents(stream.id)).toEqual([]);

    await receiver.up();
    const second = await startPlatform(env);
    cleanup.push(() => second.stop());
    const events = await receiver.waitFor('the pending events', () => {
      const got = receiver.streamEvents(stream.id);
      return got.length >= 3 && got;
    });
    expect(types(events)).toEqual(['stream.started', 'stream.ended', 'stream.key_rotated']);
    // The receiver saw the last one a moment before the platform recorded it.
    await expect
      .poll(() => second.platform.store.webhookOutboxStats())
      .toEqual({ pending: 0, dead: 0 });
  });
});
