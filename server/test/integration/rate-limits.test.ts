/**
 * Rate limits (issue 11) against a real platform: a burst from one client address gets 429
 * with Retry-After and a problem body and creates nothing, while another address goes on
 * unaffected; the bucket refills; X-Forwarded-For counts only from a trusted proxy; the admin
 * token has its own bucket; wrong admin tokens are slowed down and then refused, a right one
 * is not. Distinct clients are distinct loopback addresses (Linux routes 127.0.0.0/8 to lo).
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import { ObsLikePublisher } from '@wisp/loadtest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sdpFixture } from '../support/fixtures.ts';
import { startPlatform, type TestPlatform } from '../support/platform.ts';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP request from the local address `from`, on its own connection. */
function send(
  base: string,
  from: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      { method, headers, localAddress: from, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function expectTooMany(reply: Reply, bucket: string): number {
  expect(reply.status).toBe(429);
  expect(reply.headers['content-type']).toBe('application/problem+json');
  expect(reply.headers.location).toBeUndefined();
  const retryAfter = Number(reply.headers['retry-after']);
  expect(Number.isInteger(retryAfter) && retryAfter >= 1).toBe(true);
  const problem = JSON.parse(reply.body) as Record<string, unknown>;
  expect(problem).toMatchObject({ status: 429, title: 'Too Many Requests', bucket, retryAfter });
  // CORS still applies: a browser can read why it was refused.
  expect(reply.headers['access-control-allow-origin']).toBe('*');
  return retryAfter;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const OFFER = sdpFixture('f7-obs');
const sdpHeaders = (key: string) => ({
  'Content-Type': 'application/sdp',
  Authorization: `Bearer ${key}`,
});

describe('rate limits: one platform with small buckets', () => {
  let t: TestPlatform;
  let key: string;
  let streamId: string;

  beforeAll(async () => {
    t = await startPlatform({
      // The harness exempts loopback; these tests are about loopback clients.
      RATE_LIMIT_EXEMPT: '',
      RATE_LIMIT_WHIP_RATE: '0.5',
      RATE_LIMIT_WHIP_BURST: '3',
      RATE_LIMIT_WHEP_RATE: '0.5',
      RATE_LIMIT_WHEP_BURST: '3',
      RATE_LIMIT_SESSION_RATE: '0.5',
      RATE_LIMIT_SESSION_BURST: '3',
      RATE_LIMIT_API_RATE: '0.1',
      RATE_LIMIT_API_BURST: '3',
      RATE_LIMIT_ADMIN_RATE: '0.1',
      RATE_LIMIT_ADMIN_BURST: '30',
      RATE_LIMIT_ADMIN_AUTH_RATE: '0.1',
      RATE_LIMIT_ADMIN_AUTH_BURST: '2',
      ADMIN_AUTH_FAILURE_DELAY_MS: '1000',
    });
    // The admin calls of the harness come from 127.0.0.1; the clients below use .2 to .9.
    const stream = await t.createStream('limited');
    key = stream.streamKey;
    streamId = stream.id;
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('a WHIP burst gets 429 with Retry-After, creates nothing, other clients unaffected, and the bucket refills', async () => {
    // Three requests the route refuses itself (a non-SDP offer: 400) use up the burst.
    for (let i = 0; i < 3; i++) {
      const reply = await send(t.baseUrl, '127.0.0.2', 'POST', '/whip', sdpHeaders(key), 'v=0');
      expect(reply.status).toBe(400);
    }
    // A valid offer now is refused before it reaches the ingest: nothing is created.
    const refused = await send(t.baseUrl, '127.0.0.2', 'POST', '/whip', sdpHeaders(key), OFFER);
    const retryAfter = expectTooMany(refused, 'whip');
    expect(retryAfter).toBe(2); // one token at 0.5 per second
    expect(t.platform.ingest.liveStreamCount).toBe(0);
    expect(t.platform.pool.stats().every((w) => w.transports === 0)).toBe(true);

    // Another address at the same moment publishes.
    const other = await send(t.baseUrl, '127.0.0.3', 'POST', '/whip', sdpHeaders(key), OFFER);
    expect(other.status).toBe(201);
    const session = new URL(String(other.headers.location)).pathname;
    expect(
      (await send(t.baseUrl, '127.0.0.3', 'DELETE', session, { Authorization: `Bearer ${key}` }))
        .status,
    ).toBe(200);

    // After Retry-After, the first client gets in again.
    await sleep(retryAfter * 1000);
    const again = await send(t.baseUrl, '127.0.0.2', 'POST', '/whip', sdpHeaders(key), 'v=0');
    expect(again.status).toBe(400);
  });

  it('a WHEP burst gets 429 and creates no viewer; another client is unaffected', async () => {
    const view = (from: string) =>
      send(
        t.baseUrl,
        from,
        'POST',
        `/whep/${streamId}`,
        { 'Content-Type': 'application/sdp' },
        sdpFixture('w1-whep-browser'),
      );
    for (let i = 0; i < 3; i++) expect((await view('127.0.0.4')).status).toBe(409); // not live
    expectTooMany(await view('127.0.0.4'), 'whep');
    expect(t.platform.edge.viewerCount()).toBe(0);
    expect((await view('127.0.0.5')).status).toBe(409);
  });

  it('session PATCHes are limited, DELETE never is', async () => {
    const patch = () =>
      send(
        t.baseUrl,
        '127.0.0.4',
        'PATCH',
        '/whip/no-such-session',
        { 'Content-Type': 'application/trickle-ice-sdpfrag', Authorization: `Bearer ${key}` },
        'a=ice-ufrag:x\r\n',
      );
    for (let i = 0; i < 3; i++) expect((await patch()).status).toBe(404);
    expectTooMany(await patch(), 'session');
    for (let i = 0; i < 5; i++) {
      const reply = await send(t.baseUrl, '127.0.0.4', 'DELETE', '/whip/no-such-session', {
        Authorization: `Bearer ${key}`,
      });
      expect(reply.status).toBe(404);
    }
  });

  it('/api without the admin token is limited; the admin token has its own bucket', async () => {
    for (let i = 0; i < 3; i++) {
      expect((await send(t.baseUrl, '127.0.0.6', 'GET', '/api/streams')).status).toBe(401);
    }
    expectTooMany(await send(t.baseUrl, '127.0.0.6', 'GET', '/api/streams'), 'api');
    const admin = { Authorization: `Bearer ${t.adminToken}` };
    expect((await send(t.baseUrl, '127.0.0.6', 'GET', '/api/streams', admin)).status).toBe(200);

    // The admin bucket is limited too, separately: using it up does not touch the public one.
    let status = 200;
    let adminRequests = 0;
    while (status === 200 && adminRequests < 100) {
      const reply = await send(t.baseUrl, '127.0.0.7', 'GET', '/api/streams', admin);
      status = reply.status;
      adminRequests += 1;
      if (status !== 200) expectTooMany(reply, 'admin');
    }
    // 30 at once; the slow refill (0.1 per second) may add one on a slow machine.
    expect(adminRequests).toBeGreaterThanOrEqual(31);
    expect(adminRequests).toBeLessThanOrEqual(32);
    expect((await send(t.baseUrl, '127.0.0.7', 'GET', '/api/streams')).status).toBe(401);
  });

  it('ignores X-Forwarded-For from an untrusted peer', async () => {
    for (let i = 0; i < 3; i++) {
      const reply = await send(t.baseUrl, '127.0.0.8', 'GET', '/api/streams', {
        'X-Forwarded-For': `203.0.113.${i + 1}`,
      });
      expect(reply.status).toBe(401);
    }
    const dodged = await send(t.baseUrl, '127.0.0.8', 'GET', '/api/streams', {
      'X-Forwarded-For': '203.0.113.99',
    });
    expectTooMany(dodged, 'api');
  });

  it('slows wrong admin tokens down, then refuses them; a right token is not slowed', async () => {
    const wrong = { Authorization: 'Bearer not-the-admin-token' };
    const right = { Authorization: `Bearer ${t.adminToken}` };
    // A guess and a right token sent together: the right one is answered first.
    const order: string[] = [];
    const started = performance.now();
    await Promise.all([
      send(t.baseUrl, '127.0.0.9', 'GET', '/api/streams', wrong).then((r) => {
        expect(r.status).toBe(401);
        expect(r.headers['www-authenticate']).toContain('invalid_token');
        order.push('wrong');
      }),
      send(t.baseUrl, '127.0.0.9', 'GET', '/api/streams', right).then((r) => {
        expect(r.status).toBe(200);
        order.push('right');
      }),
    ]);
    expect(order).toEqual(['right', 'wrong']);
    expect(performance.now() - started).toBeGreaterThanOrEqual(990);
    // The second guess waits longer (doubled); the third is refused at once.
    const second = performance.now();
    expect((await send(t.baseUrl, '127.0.0.9', 'GET', '/api/streams', wrong)).status).toBe(401);
    expect(performance.now() - second).toBeGreaterThanOrEqual(1990);
    expectTooMany(await send(t.baseUrl, '127.0.0.9', 'GET', '/api/streams', wrong), 'adminAuth');
    // The right token still works from the same address.
    expect((await send(t.baseUrl, '127.0.0.9', 'GET', '/api/streams', right)).status).toBe(200);
  });

  it('counts refusals by bucket in /metrics', async () => {
    const text = await (await fetch(`${t.baseUrl}/metrics`)).text();
    for (const bucket of ['whip', 'whep', 'session', 'api', 'admin', 'adminAuth']) {
      const match = new RegExp(`^wisp_rate_limited_total\\{bucket="${bucket}"\\} (\\d+)`, 'm').exec(
        text,
      );
      expect(Number(match?.[1])).toBeGreaterThanOrEqual(1);
    }
  });
});

describe('rate limits: default limits behind a trusted proxy', () => {
  let t: TestPlatform;

  beforeAll(async () => {
    t = await startPlatform({ RATE_LIMIT_EXEMPT: '', TRUST_PROXY: 'loopback' });
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('limits by the X-Forwarded-For address a trusted proxy sent', async () => {
    const from = (client: string) =>
      send(t.baseUrl, '127.0.0.2', 'GET', '/api/streams', { 'X-Forwarded-For': client });
    // Default api bucket: 50 at once.
    for (let i = 0; i < 50; i++) expect((await from('198.51.100.1')).status).toBe(401);
    expectTooMany(await from('198.51.100.1'), 'api');
    // Another client behind the same proxy is not affected.
    expect((await from('198.51.100.2')).status).toBe(401);
  });

  it('an OBS-like publisher publishes with the default limits', async () => {
    const stream = await t.createStream('obs');
    const publisher = await ObsLikePublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
      bindAddress: '127.0.0.1',
    });
    try {
      await publisher.waitConnected(15_000);
      expect(t.platform.ingest.liveStreamCount).toBe(1);
    } finally {
      await publisher.close();
    }
  });
});
