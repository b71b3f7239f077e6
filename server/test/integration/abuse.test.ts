/**
 * Bad input gets a clear 4xx, creates nothing and never crashes the process: malformed and
 * oversized SDP, wrong content types, bad keys, unknown session URLs, stale ETags, abrupt
 * disconnects, random mutations of real offers, and 1,000 publish/unpublish cycles that must
 * leave no router or transport behind.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sdpFixture } from '../support/fixtures.ts';
import { publishFixture, whepPost, whipPost } from '../support/http.ts';
import { startPlatform, type TestPlatform } from '../support/platform.ts';

let t: TestPlatform;
let key: string;
let streamId: string;

async function expectNothingLive(): Promise<void> {
  expect(t.platform.ingest.liveStreamCount).toBe(0);
  expect(t.platform.edge.viewerCount()).toBe(0);
  const dump = await t.platform.pool.dump();
  expect(dump.flatMap((w) => w.routerIds)).toEqual([]);
  expect(t.platform.pool.stats().every((w) => w.routers === 0 && w.transports === 0)).toBe(true);
}

async function expectProblem(response: Response, status: number): Promise<Record<string, unknown>> {
  expect(response.status).toBe(status);
  expect(response.headers.get('location')).toBeNull();
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  const body = (await response.json()) as Record<string, unknown>;
  expect(body.status).toBe(status);
  expect(typeof body.detail).toBe('string');
  return body;
}

beforeAll(async () => {
  t = await startPlatform({ MAX_SDP_BYTES: '16384' });
  const stream = await t.createStream('abuse');
  key = stream.streamKey;
  streamId = stream.id;
});

afterAll(async () => {
  await t.stop();
});

describe('malformed and oversized SDP', () => {
  it.each([
    ['plain text', 'hello'],
    ['empty body', ''],
    ['v=0 only', 'v=0\r\n'],
    ['binary garbage', '\u0000\u0001\u0002\u00ff'.repeat(50)],
    ['no fingerprint', sdpFixture('f11-no-fingerprint')],
    ['no ice-ufrag', sdpFixture('f11-no-ufrag')],
    ['truncated offer', sdpFixture('f7-obs').slice(0, 200)],
  ])('WHIP %s -> 400, nothing created', async (_name, body) => {
    await expectProblem(await whipPost(t.baseUrl, key, body), 400);
    await expectNothingLive();
  });

  it('SDP over MAX_SDP_BYTES -> 413 (declared Content-Length)', async () => {
    const body = sdpFixture('f2-browser') + `a=x-padding:${'x'.repeat(20_000)}\r\n`;
    await expectProblem(await whipPost(t.baseUrl, key, body), 413);
    await expectNothingLive();
  });

  it('SDP over MAX_SDP_BYTES without Content-Length (chunked) -> 413', async () => {
    const chunk = new TextEncoder().encode('a=x-padding:' + 'y'.repeat(4000) + '\r\n');
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ >= 10) controller.close();
        else controller.enqueue(chunk);
      },
    });
    const response = await fetch(`${t.baseUrl}/whip`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${key}` },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    await expectProblem(response, 413);
    await expectNothingLive();
  });

  it('WHEP malformed offer -> 400 and oversized -> 413', async () => {
    const live = await publishFixture(t.baseUrl, key);
    await expectProblem(await whepPost(t.baseUrl, streamId, 'hello'), 400);
    await expectProblem(
      await whepPost(t.baseUrl, streamId, 'v=0\r\n' + 'a=x\r\n'.repeat(5000)),
      413,
    );
    expect(t.platform.edge.viewerCount()).toBe(0);
    await fetch(live.location, { method: 'DELETE', headers: { Authorization: `Bearer ${key}` } });
    await expectNothingLive();
  });
});

describe('wrong content types', () => {
  it.each(['text/plain', 'application/json', 'application/x-www-form-urlencoded'])(
    'WHIP POST with %s -> 415 with Accept-Post',
    async (type) => {
      const response = await whipPost(t.baseUrl, key, sdpFixture('f7-obs'), type);
      await expectProblem(response, 415);
      expect(response.headers.get('accept-post')).toBe('application/sdp');
      await expectNothingLive();
    },
  );

  it('WHIP POST without a Content-Type -> 415', async () => {
    const response = await fetch(`${t.baseUrl}/whip`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${key}` },
      body: new Blob([sdpFixture('f7-obs')]),
    });
    await expectProblem(response, 415);
  });

  it('API POST with text/plain -> 415, invalid JSON -> 400, oversized -> 413', async () => {
    const post = (body: string, type: string): Promise<Response> =>
      t.api('/api/streams', { method: 'POST', headers: { 'Content-Type': type }, body });
    await expectProblem(await post('{"name":"x"}', 'text/plain'), 415);
    await expectProblem(await post('{"name":', 'application/json'), 400);
    await expectProblem(
      await post(JSON.stringify({ name: 'x'.repeat(100_000) }), 'application/json'),
      413,
    );
  });
});

describe('bad keys and unknown sessions', () => {
  it.each([
    ['missing', undefined],
    ['wrong', 'sk_not-a-real-key'],
    ['empty-ish', ' '],
    ['huge', 'k'.repeat(10_000)],
  ])('WHIP POST with a %s key -> 401 with a Bearer challenge, nothing created', async (_n, bad) => {
    const response = await whipPost(t.baseUrl, bad, sdpFixture('f7-obs'));
    await expectProblem(response, 401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /);
    await expectNothingLive();
  });

  it('a malformed offer with a bad key still gets 401 (no SDP parsing for strangers)', async () => {
    await expectProblem(await whipPost(t.baseUrl, 'wrong', 'hello'), 401);
  });

  it.each(['DELETE', 'PATCH', 'GET'])(
    '%s on unknown WHIP/WHEP session URLs -> 404',
    async (method) => {
      const headers = {
        Authorization: `Bearer ${key}`,
        'Content-Type': 'application/trickle-ice-sdpfrag',
        'If-Match': '*',
      };
      const body = method === 'PATCH' ? 'a=end-of-candidates\r\n' : undefined;
      for (const url of [
        `${t.baseUrl}/whip/00000000-0000-4000-8000-000000000000`,
        `${t.baseUrl}/whip/..%2F..%2Fetc%2Fpasswd`,
        `${t.baseUrl}/whep/${streamId}/00000000-0000-4000-8000-000000000000`,
        `${t.baseUrl}/whep/nope/nope`,
      ]) {
        const response = await fetch(url, { method, headers, body });
        expect(response.status, `${method} ${url}`).toBe(404);
      }
    },
  );

  it('WHEP for an unknown stream -> 404, for an idle stream -> 409 + Retry-After', async () => {
    await expectProblem(
      await whepPost(t.baseUrl, 'does-not-exist', sdpFixture('w1-whep-browser')),
      404,
    );
    const idle = await t.createStream('idle');
    const response = await whepPost(t.baseUrl, idle.id, sdpFixture('w1-whep-browser'));
    await expectProblem(response, 409);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('PATCH preconditions', () => {
  it('stale ETag -> 412, missing If-Match -> 428, the session survives both', async () => {
    const live = await publishFixture(t.baseUrl, key);
    const patch = (ifMatch: string | undefined): Promise<Response> =>
      fetch(live.location, {
        method: 'PATCH',
        headers: {
          Authorization: `Bearer ${key}`,
          'Content-Type': 'application/trickle-ice-sdpfrag',
          ...(ifMatch ? { 'If-Match': ifMatch } : {}),
        },
        body: 'a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host\r\n',
      });
    await expectProblem(await patch('"stale-etag"'), 412);
    await expectProblem(await patch(undefined), 428);
    expect((await patch(live.etag)).status).toBe(204);
    const del = await fetch(live.location, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${key}` },
    });
    expect(del.status).toBe(200);
    await expectNothingLive();
  });
});

describe('abrupt disconnects and random input', () => {
  it('a client that disconnects mid-upload does not hurt the server', async () => {
    const url = new URL(`${t.baseUrl}/whip`);
    await new Promise<void>((resolve) => {
      const req = request({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: {
          'Content-Type': 'application/sdp',
          'Content-Length': '5000',
          Authorization: `Bearer ${key}`,
        },
      });
      req.on('error', () => resolve());
      req.write(sdpFixture('f7-obs').slice(0, 500));
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 100);
    });
    const health = await fetch(`${t.baseUrl}/healthz`);
    expect(health.status).toBe(200);
    await expectNothingLive();
  });

  it('500 random mutations of real offers never cause a 5xx', async () => {
    let seed = 42;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const sources = ['f1-rfc', 'f2-browser', 'f6-ffmpeg', 'f7-obs', 'f7s-obs-simulcast'].map(
      sdpFixture,
    );
    const statuses = new Map<number, number>();
    for (let i = 0; i < 500; i++) {
      const lines = sources[random(sources.length)].split('\r\n');
      const mutations = 1 + random(4);
      for (let m = 0; m < mutations; m++) {
        const at = random(lines.length);
        switch (random(5)) {
          case 0:
            lines.splice(at, 1);
            break;
          case 1:
            lines.splice(at, 0, lines[random(lines.length)]);
            break;
          case 2:
            lines[at] = lines[at].replace(/\d+/, String(random(1_000_000)));
            break;
          case 3:
            lines[at] = lines[at].slice(0, random(lines[at].length + 1));
            break;
          default:
            lines[at] = lines[at].replace(/[a-z]/, String.fromCharCode(33 + random(90)));
        }
      }
      const response = await whipPost(t.baseUrl, key, lines.join('\r\n'));
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      expect(response.status, `mutation ${i}`).toBeLessThan(500);
      if (response.status === 201) {
        await fetch(response.headers.get('location')!, {
          method: 'DELETE',
          headers: { Authorization: `Bearer ${key}` },
        });
      } else {
        await response.arrayBuffer();
      }
    }
    // Both outcomes must occur, or the mutations are not exercising anything.
    expect(statuses.get(201) ?? 0).toBeGreaterThan(0);
    expect([...statuses.keys()].some((s) => s >= 400)).toBe(true);
    await expectNothingLive();
  });
});

describe('no leaks', () => {
  it('1,000 publish/unpublish cycles leave no router, transport or session behind', async () => {
    const offers = ['f7-obs', 'f2-browser', 'f6-ffmpeg', 'f7s-obs-simulcast'].map(sdpFixture);
    for (let i = 0; i < 1000; i++) {
      const response = await whipPost(t.baseUrl, key, offers[i % offers.length]);
      expect(response.status).toBe(201);
      await response.arrayBuffer();
      if (i % 10 === 0) {
        // Every tenth cycle also has a viewer join before the publisher leaves.
        const view = await whepPost(t.baseUrl, streamId, sdpFixture('w1-whep-browser'));
        expect([201, 422]).toContain(view.status);
        await view.arrayBuffer();
      }
      const del = await fetch(response.headers.get('location')!, {
        method: 'DELETE',
        headers: { Authorization: `Bearer ${key}` },
      });
      expect(del.status).toBe(200);
    }
    await expectNothingLive();
  }, 180_000);
});
