/**
 * The WHEP/WHIP client's HTTP side against real HTTP servers on two origins (two loopback
 * ports): 307 redirects followed by the client itself, same- and cross-origin, with
 * Authorization kept on every hop, both the way Node shows redirects (manual mode) and the way
 * browsers do (opaque: the client asks again where the redirect led); 409 waiting with
 * Retry-After; 422; and the session ETag in If-Match on PATCH.
 */
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  patchSession,
  postOffer,
  resetRedirectMode,
  SignalingError,
} from '../../src/web/core/signaling.ts';
import { LAYER_REL } from '../../src/web/core/WhepClient.ts';

interface Seen {
  server: 'front' | 'edge';
  method: string;
  path: string;
  authorization: string | null;
  ifMatch: string | null;
  body: string;
}

let seen: Seen[] = [];
let front: { url: string; server: Server };
let edge: { url: string; server: Server };

async function listen(app: Hono): Promise<{ url: string; server: Server }> {
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) =>
      resolve({ url: `http://127.0.0.1:${info.port}`, server: server }),
    ) as Server;
  });
}

function recorder(name: Seen['server']) {
  return async (c: Context, next: () => Promise<void>) => {
    seen.push({
      server: name,
      method: c.req.method,
      path: new URL(c.req.url).pathname + new URL(c.req.url).search,
      authorization: c.req.header('authorization') ?? null,
      ifMatch: c.req.header('if-match') ?? null,
      body: await c.req.text(),
    });
    await next();
  };
}

beforeAll(async () => {
  const edgeApp = new Hono();
  edgeApp.use('*', recorder('edge'));
  // A WHIP ingest that insists on the stream key, like the real one.
  edgeApp.post('/whip', (c) =>
    c.req.header('authorization') === 'Bearer key'
      ? c.body('v=0 answer', 201, { Location: '/whip/session-1', ETag: '"w1"' })
      : c.json({ title: 'Unauthorized', detail: 'a stream key is required' }, 401),
  );
  edgeApp.post('/whep/s1', (c) =>
    c.body('v=0 answer', 201, {
      Location: 'sessions/7',
      ETag: '"e7"',
      Link: `<sessions/7/layer>; rel="${LAYER_REL}"`,
    }),
  );
  edge = await listen(edgeApp);

  const frontApp = new Hono();
  frontApp.use('*', recorder('front'));
  // Cross-origin: absolute Location to the other port, as the front door does.
  frontApp.post('/whip', (c) => c.body(null, 307, { Location: `${edge.url}/whip?t=ticket` }));
  frontApp.post('/whep/s1', (c) => c.body(null, 307, { Location: `${edge.url}/whep/s1` }));
  // Same origin, relative Location, two hops.
  frontApp.post('/whep/same', (c) => c.body(null, 307, { Location: 'hop/same' }));
  frontApp.post('/whep/hop/same', (c) => c.body(null, 307, { Location: '/edge/whep/same' }));
  frontApp.post('/edge/whep/same', (c) =>
    c.body('v=0 answer', 201, { Location: 'sessions/42', ETag: '"e1"' }),
  );
  frontApp.post('/whep/loop', (c) => c.body(null, 307, { Location: '/whep/loop' }));
  frontApp.post('/whep/found', (c) => c.body(null, 302, { Location: '/whep/s1' }));
  frontApp.post('/whep/offline', (c) =>
    c.json({ title: 'Conflict', detail: 'the stream is not live' }, 409, {
      'Retry-After': '3',
      'Content-Type': 'application/problem+json',
    }),
  );
  frontApp.post('/whep/unprocessable', (c) =>
    c.json({ title: 'Unprocessable Content', detail: 'no codec in common' }, 422, {
      'Content-Type': 'application/problem+json',
    }),
  );
  // A session: trickle (same ufrag) -> 204, restart (new ufrag) -> 200 + new ETag, stale
  // If-Match -> 412, as RFC 9725 §4.3 and the platform's PeerTransport answer.
  let etag = '"e1"';
  frontApp.patch('/edge/whep/sessions/42', async (c) => {
    const ifMatch = c.req.header('if-match');
    if (!ifMatch) return c.body(null, 428);
    if (ifMatch !== etag && ifMatch !== '*') return c.body(null, 412);
    const body = await c.req.text();
    if (!body.includes('a=ice-ufrag:new')) return c.body(null, 204);
    etag = '"e2"';
    return c.body('a=ice-ufrag:srv2\r\na=ice-pwd:pwd2\r\n', 200, {
      ETag: etag,
      'Content-Type': 'application/trickle-ice-sdpfrag',
    });
  });
  front = await listen(frontApp);
});

afterAll(() => {
  front.server.close();
  edge.server.close();
});

afterEach(() => {
  seen = [];
  vi.unstubAllGlobals();
  resetRedirectMode();
});

/**
 * fetch as a browser does it: `redirect: 'manual'` gives an opaque answer without status or
 * Location, and followed redirects drop Authorization across origins (Node's fetch does the
 * latter too, per the same Fetch standard).
 */
function browserLikeFetch(): void {
  const real = globalThis.fetch;
  vi.stubGlobal('fetch', async (input: string, init: RequestInit = {}) => {
    const response = await real(input, init);
    if (init.redirect === 'manual' && response.status >= 300 && response.status < 400) {
      return { type: 'opaqueredirect', status: 0, headers: new Headers(), body: null };
    }
    return response;
  });
}

describe('postOffer follows 307 itself', () => {
  it('same origin: relative Locations resolve against the URL that sent them', async () => {
    const result = await postOffer(`${front.url}/whep/same`, 'v=0 offer');
    expect(seen.map((s) => s.path)).toEqual(['/whep/same', '/whep/hop/same', '/edge/whep/same']);
    // Every hop got the offer again (307 keeps method and body).
    expect(seen.every((s) => s.method === 'POST' && s.body === 'v=0 offer')).toBe(true);
    expect(result.resourceUrl).toBe(`${front.url}/edge/whep/sessions/42`);
    expect(result.etag).toBe('"e1"');
  });

  it('cross origin: the session URL and Links are on the origin that answered', async () => {
    const result = await postOffer(`${front.url}/whep/s1`, 'v=0 offer');
    expect(seen.map((s) => `${s.server} ${s.path}`)).toEqual(['front /whep/s1', 'edge /whep/s1']);
    expect(result.resourceUrl).toBe(`${edge.url}/whep/sessions/7`);
    expect(result.links.find((l) => l.rel.includes(LAYER_REL))?.uri).toBe(
      `${edge.url}/whep/sessions/7/layer`,
    );
  });

  it('cross origin: Authorization (the stream key) reaches the target', async () => {
    const result = await postOffer(`${front.url}/whip`, 'v=0 offer', { token: 'key' });
    expect(seen.map((s) => `${s.server} ${s.path} ${s.authorization}`)).toEqual([
      'front /whip Bearer key',
      'edge /whip?t=ticket Bearer key',
    ]);
    expect(result.resourceUrl).toBe(`${edge.url}/whip/session-1`);
  });

  it('in a browser, where redirects are opaque, asks again with the key where it was sent', async () => {
    browserLikeFetch();
    const result = await postOffer(`${front.url}/whip`, 'v=0 offer', { token: 'key' });
    expect(seen.map((s) => `${s.server} ${s.path} ${s.authorization}`)).toEqual([
      // The manual try: the browser hides the 307, so the client learns it must let it follow.
      'front /whip Bearer key',
      // Followed by the browser, which dropped the key on the way to another origin: 401.
      'front /whip Bearer key',
      'edge /whip?t=ticket null',
      // Sent again to where the redirect led, with the key.
      'edge /whip?t=ticket Bearer key',
    ]);
    expect(result.resourceUrl).toBe(`${edge.url}/whip/session-1`);

    // Learned once: the next request lets the browser follow at once.
    seen = [];
    await postOffer(`${front.url}/whep/s1`, 'v=0 offer');
    expect(seen.map((s) => `${s.server} ${s.path}`)).toEqual(['front /whep/s1', 'edge /whep/s1']);
  });

  it('refuses 302 (WHIP and WHEP redirect with 307) and redirect loops', async () => {
    await expect(postOffer(`${front.url}/whep/found`, 'v=0')).rejects.toMatchObject({
      name: 'SignalingError',
      status: 302,
    });
    await expect(postOffer(`${front.url}/whep/loop`, 'v=0', { maxRedirects: 3 })).rejects.toThrow(
      /more than 3 redirects/,
    );
    expect(seen.filter((s) => s.path === '/whep/loop')).toHaveLength(4);
  });
});

describe('postOffer errors', () => {
  it('409: not live yet, with the Retry-After to wait', async () => {
    const error = await postOffer(`${front.url}/whep/offline`, 'v=0').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SignalingError);
    expect(error).toMatchObject({ status: 409, retryAfterSeconds: 3 });
    expect((error as Error).message).toBe('the stream is not live');
  });

  it('422: the offer cannot be served, with the reason', async () => {
    const error = await postOffer(`${front.url}/whep/unprocessable`, 'v=0').catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ status: 422, retryAfterSeconds: undefined });
    expect((error as Error).message).toBe('no codec in common');
  });
});

describe('patchSession', () => {
  const session = () => `${front.url}/edge/whep/sessions/42`;

  it('sends the session ETag in If-Match; a trickle answers 204', async () => {
    const result = await patchSession(
      session(),
      'a=ice-ufrag:old\r\na=candidate:1 1 udp 1 1.2.3.4 5 typ host\r\n',
      {
        etag: '"e1"',
      },
    );
    expect(result).toEqual({ status: 204, etag: undefined, body: '' });
    expect(seen[0]).toMatchObject({ method: 'PATCH', ifMatch: '"e1"' });
  });

  it('an ICE restart answers 200 with the new ETag, after which the old one is stale (412)', async () => {
    const restart = await patchSession(session(), 'a=ice-ufrag:new\r\na=ice-pwd:p\r\n', {
      etag: '"e1"',
    });
    expect(restart).toMatchObject({ status: 200, etag: '"e2"' });
    expect(restart.body).toContain('a=ice-ufrag:srv2');
    await expect(
      patchSession(session(), 'a=ice-ufrag:new\r\na=ice-pwd:p\r\n', { etag: '"e1"' }),
    ).rejects.toMatchObject({ status: 412 });
    expect(seen.map((s) => s.ifMatch)).toEqual(['"e1"', '"e1"']);
  });
});
