/**
 * The publish admission hook with real publishes from an OBS-like peer (libdatachannel,
 * OBS's WHIP request shape and User-Agent): the hook is a real HTTP server that verifies the
 * signature with the `standardwebhooks` package; its 2xx lets the publish through, anything
 * else refuses it with a 403 that leaves nothing behind, and a hook that is too slow or
 * unreachable follows PUBLISH_HOOK_ON_TIMEOUT.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OBS_USER_AGENT, ObsLikePublisher, SignalingError } from '@wisp/loadtest';
import { startPlatform, type TestPlatform } from '../support/platform.ts';
import { WebhookReceiver, type ReceivedRequest } from '../support/webhookReceiver.ts';

const SECRET = `whsec_${Buffer.from('wisp publish hook test secret!!').toString('base64')}`;

let hook: WebhookReceiver;
let t: TestPlatform;
const cleanup: (() => Promise<unknown>)[] = [];

function hookEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PUBLISH_HOOK_URL: hook.url,
    WEBHOOK_SECRET: SECRET,
    PUBLISH_HOOK_TIMEOUT_MS: '500',
    MEDIASOUP_WORKERS: '1',
    ...extra,
  };
}

beforeAll(async () => {
  hook = await WebhookReceiver.start(SECRET);
  t = await startPlatform(hookEnv());
});

afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!().catch(() => undefined);
  hook.respond = () => 200;
  await hook.up();
});

afterAll(async () => {
  await t?.stop();
  await hook?.stop();
});

async function publish(
  stream: { whipUrl: string; streamKey: string },
  options: { connect?: boolean } = {},
): Promise<ObsLikePublisher> {
  const publisher = await ObsLikePublisher.start({
    whipUrl: stream.whipUrl,
    streamKey: stream.streamKey,
    bindAddress: '127.0.0.1',
  });
  cleanup.push(() => publisher.close());
  if (options.connect !== false) await publisher.waitConnected(15_000);
  return publisher;
}

async function refusal(stream: { whipUrl: string; streamKey: string }): Promise<SignalingError> {
  const error = await ObsLikePublisher.start({
    whipUrl: stream.whipUrl,
    streamKey: stream.streamKey,
    bindAddress: '127.0.0.1',
  }).then(
    async (publisher) => {
      await publisher.close();
      throw new Error('the publish was accepted');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SignalingError);
  return error as SignalingError;
}

function hookRequests(streamId: string): ReceivedRequest[] {
  return hook.requests.filter((r) => r.body.includes(streamId));
}

async function expectNothingAllocated(platform = t): Promise<void> {
  const dump = await platform.platform.pool.dump();
  expect(dump.every((w) => w.routerIds.length === 0)).toBe(true);
}

describe('publish admission hook', () => {
  it('lets a publish through on 2xx, after a signed request naming the stream and publisher', async () => {
    const stream = await t.createStream('allowed');
    await publish(stream);
    expect(t.platform.ingest.isLive(stream.id)).toBe(true);
    const [request] = hookRequests(stream.id);
    expect(request.verified).toEqual({
      streamId: stream.id,
      remoteAddress: expect.stringMatching(/^(::ffff:)?127\.0\.0\.1$/),
      userAgent: OBS_USER_AGENT,
    });
    expect(request.headers['webhook-id']).toMatch(/^msg_/);
    expect(request.headers['content-type']).toBe('application/json');
  });

  it('refuses with 403 problem+json on any other answer, creating nothing', async () => {
    const stream = await t.createStream('refused');
    hook.respond = () => 403;
    const error = await refusal(stream);
    expect(error.status).toBe(403);
    expect(JSON.parse(error.body)).toMatchObject({
      status: 403,
      title: 'Forbidden',
      detail: 'the publish admission hook refused this publish',
    });
    await expectNothingAllocated();
    expect(t.platform.ingest.isLive(stream.id)).toBe(false);
    hook.respond = () => 500;
    expect((await refusal(stream)).status).toBe(403);
    expect(hookRequests(stream.id)).toHaveLength(2);
  });

  it('keeps the live publisher when the hook refuses a takeover', async () => {
    const stream = await t.createStream('takeover');
    const first = await publish(stream);
    hook.respond = () => 401;
    expect((await refusal(stream)).status).toBe(403);
    expect(t.platform.ingest.isLive(stream.id)).toBe(true);
    expect(first.closed).toBe(false);
  });

  it('fails closed by default when the hook is too slow or unreachable', async () => {
    const stream = await t.createStream('slow');
    hook.respond = () => ({ status: 200, delayMs: 1500 });
    const started = Date.now();
    const slow = await refusal(stream);
    expect(slow.status).toBe(403);
    expect(JSON.parse(slow.body).detail).toBe('the publish admission hook did not answer in time');
    expect(Date.now() - started).toBeLessThan(1400);
    await hook.down();
    expect((await refusal(stream)).status).toBe(403);
    await expectNothingAllocated();
  });

  it('is not asked for a publish with a wrong key (401 first)', async () => {
    const stream = await t.createStream('wrong key');
    const error = await refusal({ ...stream, streamKey: 'sk_wrong' });
    expect(error.status).toBe(401);
    expect(hookRequests(stream.id)).toEqual([]);
  });
});

describe('PUBLISH_HOOK_ON_TIMEOUT=allow', () => {
  it('lets publishes through when the hook is slow or unreachable, and still obeys its refusals', async () => {
    const open = await startPlatform(hookEnv({ PUBLISH_HOOK_ON_TIMEOUT: 'allow' }));
    cleanup.push(() => open.stop());
    const stream = await open.createStream('fail open');
    hook.respond = () => ({ status: 200, delayMs: 1500 });
    const publisher = await publish(stream);
    expect(open.platform.ingest.isLive(stream.id)).toBe(true);
    await publisher.close();
    await hook.down();
    await publish(stream);
    expect(open.platform.ingest.isLive(stream.id)).toBe(true);
    await hook.up();
    hook.respond = () => 403;
    expect((await refusal(stream)).status).toBe(403);
  });
});
