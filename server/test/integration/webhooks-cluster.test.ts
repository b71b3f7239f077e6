/**
 * Webhooks in a real cluster (LocalCluster: redis-server, a front door, an ingest, an edge
 * and a recorder, each its own process, every one of them with WEBHOOK_URLS and so a
 * dispatcher): each event is queued once, by the node where it happened, and delivered
 * once, whichever node claims it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocalCluster } from '../../src/cluster/LocalCluster.ts';
import { closeAll, createStream, publish } from '../support/cluster.ts';
import { WebhookReceiver } from '../support/webhookReceiver.ts';

const SECRET = `whsec_${Buffer.from('wisp cluster webhook test secret').toString('base64')}`;

afterEach(closeAll);

describe('cluster webhooks', () => {
  let cluster: LocalCluster;
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await WebhookReceiver.start(SECRET);
    cluster = await LocalCluster.start({
      edges: 1,
      recorders: 1,
      output: 'collect',
      env: {
        WEBHOOK_URLS: receiver.url,
        WEBHOOK_SECRET: SECRET,
        WEBHOOK_RETRY_BASE_MS: '100',
        WEBHOOK_RETRY_MAX_MS: '1000',
        RECORDING_SEGMENT_SECONDS: '1',
      },
    });
  });
  afterAll(async () => {
    await cluster?.stop();
    await receiver?.stop();
  });

  it('sends each event once, from the node where it happened', async () => {
    const stream = await createStream(cluster, 'cluster webhooks');
    const publisher = await publish(stream);
    await new Promise((resolve) => setTimeout(resolve, 4000));
    await publisher.close();
    await receiver.waitFor(
      'recording.ready',
      () => receiver.streamEvents(stream.id).some((e) => e.type === 'recording.ready'),
      30_000,
    );
    expect((await cluster.api(`/api/streams/${stream.id}/key`, { method: 'POST' })).status).toBe(
      200,
    );
    expect((await cluster.api(`/api/streams/${stream.id}`, { method: 'DELETE' })).status).toBe(204);
    await receiver.waitFor('stream.deleted', () =>
      receiver.streamEvents(stream.id).some((e) => e.type === 'stream.deleted'),
    );
    // Time for any duplicate from another node's dispatcher to show up.
    await new Promise((resolve) => setTimeout(resolve, 2500));

    const events = receiver.streamEvents(stream.id);
    const byType = Object.fromEntries(events.map((e) => [e.type, e]));
    expect(Object.keys(byType).sort()).toEqual(
      [
        'recording.ready',
        'stream.deleted',
        'stream.ended',
        'stream.key_rotated',
        'stream.started',
      ].sort(),
    );
    expect(events.map((e) => e.type).indexOf('stream.ended')).toBeGreaterThan(
      events.map((e) => e.type).indexOf('stream.started'),
    );
    const requests = receiver.requests.filter((r) => r.body.includes(stream.id));
    expect(requests).toHaveLength(events.length);
    expect(requests.every((r) => r.verified && r.status === 200)).toBe(true);
    expect(byType['stream.started'].data.node).toBe('ingest-1');
    expect(byType['stream.ended'].data).toMatchObject({ node: 'ingest-1', reason: 'deleted' });
    expect(byType['recording.ready'].data.hlsUrl).toMatch(
      new RegExp(`^${cluster.frontDoor}/vod/rec_`),
    );
  });
});
