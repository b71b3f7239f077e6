/**
 * The webhook pieces without a network: configuration, the retry schedule, how a receiver's
 * status is read, and signatures checked by the reference `standardwebhooks` verifier.
 */
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { ConfigError, describeConfig, loadConfig } from '../../src/config.ts';
import {
  WebhookSigner,
  classifyStatus,
  retryDelayMs,
  webhookEvent,
} from '../../src/webhooks/index.ts';

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const split = {
  ROLES: 'ingest',
  REDIS_URL: 'redis://127.0.0.1:6379',
  CLUSTER_SECRET: 'a-cluster-secret-of-some-length',
};

describe('loadConfig: webhooks', () => {
  it('is off by default, with a secret nobody needs', () => {
    const { webhooks } = loadConfig({});
    expect(webhooks).toMatchObject({
      urls: [],
      secretGenerated: false,
      timeoutMs: 5000,
      maxAgeSeconds: 86_400,
      retryBaseMs: 1000,
      retryMaxMs: 600_000,
      publishHook: undefined,
    });
  });

  it('reads the receivers and generates a whsec_ secret for one process', () => {
    const { webhooks } = loadConfig({
      WEBHOOK_URLS: ' https://a.example/hook , http://127.0.0.1:9000/x,https://a.example/hook',
    });
    expect(webhooks.urls).toEqual(['https://a.example/hook', 'http://127.0.0.1:9000/x']);
    expect(webhooks.secretGenerated).toBe(true);
    expect(webhooks.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(() => new Webhook(webhooks.secret)).not.toThrow();
    expect(loadConfig({ WEBHOOK_URLS: 'http://x/' }).webhooks.secret).not.toBe(webhooks.secret);
  });

  it('reads every webhook and publish hook variable', () => {
    const { webhooks } = loadConfig({
      WEBHOOK_URLS: 'http://x/',
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_TIMEOUT_MS: '700',
      WEBHOOK_MAX_AGE_SECONDS: '60',
      WEBHOOK_RETRY_BASE_MS: '50',
      WEBHOOK_RETRY_MAX_MS: '400',
      PUBLISH_HOOK_URL: 'https://auth.example/publish',
      PUBLISH_HOOK_TIMEOUT_MS: '250',
      PUBLISH_HOOK_ON_TIMEOUT: 'allow',
    });
    expect(webhooks).toEqual({
      urls: ['http://x/'],
      secret: SECRET,
      secretGenerated: false,
      timeoutMs: 700,
      maxAgeSeconds: 60,
      retryBaseMs: 50,
      retryMaxMs: 400,
      publishHook: { url: 'https://auth.example/publish', timeoutMs: 250, onTimeout: 'allow' },
    });
    expect(loadConfig({ PUBLISH_HOOK_URL: 'http://h/' }).webhooks.publishHook).toEqual({
      url: 'http://h/',
      timeoutMs: 3000,
      onTimeout: 'deny',
    });
  });

  it('requires WEBHOOK_SECRET on split nodes that use webhooks or the publish hook', () => {
    expect(() => loadConfig(split)).not.toThrow();
    expect(() => loadConfig({ ...split, WEBHOOK_URLS: 'http://x/' })).toThrow(
      /WEBHOOK_SECRET is required when roles are split/,
    );
    expect(() => loadConfig({ ...split, PUBLISH_HOOK_URL: 'http://x/' })).toThrow(ConfigError);
    const node = loadConfig({ ...split, WEBHOOK_URLS: 'http://x/', WEBHOOK_SECRET: SECRET });
    expect(node.webhooks).toMatchObject({ secret: SECRET, secretGenerated: false });
  });

  it.each([
    [{ WEBHOOK_URLS: 'not a url' }, /WEBHOOK_URLS entry "not a url"/],
    [{ WEBHOOK_URLS: 'ftp://x/' }, /WEBHOOK_URLS entry "ftp:\/\/x\/"/],
    [{ PUBLISH_HOOK_URL: '/relative' }, /PUBLISH_HOOK_URL/],
    [{ PUBLISH_HOOK_ON_TIMEOUT: 'maybe' }, /PUBLISH_HOOK_ON_TIMEOUT must be deny or allow/],
    [{ WEBHOOK_SECRET: 'hunter2' }, /WEBHOOK_SECRET must be "whsec_"/],
    [{ WEBHOOK_SECRET: 'whsec_c2hvcnQ=' }, /WEBHOOK_SECRET/],
    [{ WEBHOOK_TIMEOUT_MS: '0' }, /WEBHOOK_TIMEOUT_MS/],
    [{ WEBHOOK_RETRY_BASE_MS: '5000', WEBHOOK_RETRY_MAX_MS: '1000' }, /WEBHOOK_RETRY_MAX_MS/],
  ])('refuses %o', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('masks the secret in the start-up log', () => {
    const described = describeConfig(
      loadConfig({ WEBHOOK_URLS: 'http://x/', WEBHOOK_SECRET: SECRET }),
    );
    expect(JSON.stringify(described)).not.toContain(SECRET.slice(6));
    expect((described.webhooks as { secret: string }).secret).toBe('***');
  });
});

describe('webhook delivery rules', () => {
  it('doubles the retry delay from the base up to the cap, with 50-100 % jitter', () => {
    expect([1, 2, 3, 4, 10].map((n) => retryDelayMs(n, 1000, 10_000, () => 1))).toEqual([
      1000, 2000, 4000, 8000, 10_000,
    ]);
    expect(retryDelayMs(3, 1000, 10_000, () => 0)).toBe(2000);
    for (let i = 0; i < 100; i++) {
      const delay = retryDelayMs(2, 1000, 10_000);
      expect(delay).toBeGreaterThanOrEqual(1000);
      expect(delay).toBeLessThanOrEqual(2000);
    }
  });

  it('delivers on 2xx, retries 408, 429, 3xx and 5xx, gives up on other 4xx', () => {
    expect([200, 201, 204, 299].map(classifyStatus)).toEqual(Array(4).fill('delivered'));
    expect([408, 429, 301, 500, 502, 503].map(classifyStatus)).toEqual(Array(6).fill('retry'));
    expect([400, 401, 403, 404, 410, 422].map(classifyStatus)).toEqual(Array(6).fill('dead'));
  });
});

describe('WebhookSigner', () => {
  const event = webhookEvent('stream.key_rotated', { streamId: 'abc' });
  const body = JSON.stringify(event);
  const headers = new WebhookSigner(SECRET).headers(event.id, body);

  it('signs the way the standardwebhooks verifier accepts', () => {
    expect(headers['webhook-id']).toBe(event.id);
    expect(Number(headers['webhook-timestamp'])).toBeCloseTo(Date.now() / 1000, -1);
    expect(new Webhook(SECRET).verify(body, headers)).toEqual(event);
  });

  it('fails verification for a tampered body, another secret or an old timestamp', () => {
    const tampered = body.replace('"abc"', '"abd"');
    expect(() => new Webhook(SECRET).verify(tampered, headers)).toThrow(/No matching signature/);
    const other = `whsec_${Buffer.alloc(32, 8).toString('base64')}`;
    expect(() => new Webhook(other).verify(body, headers)).toThrow();
    const old = new WebhookSigner(SECRET).headers(event.id, body, new Date(Date.now() - 600_000));
    expect(() => new Webhook(SECRET).verify(body, old)).toThrow(/too old/);
  });
});
