/**
 * The player routes served on 127.0.0.1 next to fake WHIP/WHEP endpoints, for browser tests
 * that must not depend on the media server. The fake endpoints follow the public contract:
 *
 * - `POST /whep/missing` -> 404; `POST /whep/live` -> 201 with a real WebRTC answer while
 *   `live` is true; any other id (or `live` while not live) -> 409 + `Retry-After: 1`.
 * - `POST /whip` with `Bearer good-key` -> 201 with a real answer; other keys -> 401.
 * - `DELETE` of a session URL closes its peer and is recorded.
 * - `GET /watch/:id/status`: 404 for `missing`, else live for `live` while `live` is true, with
 *   `recordings` as the list.
 * - `OPTIONS /whep/:id` and `OPTIONS /whip` answer 200 with `iceLinks` as `Link` (none by
 *   default; for `/whip` only with the good key), and so does each 201, with `sessionIceLinks`.
 */
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { Context, Next } from 'hono';
import { createPlayerRoutes } from '../../src/index.ts';
import type { PublicStreamStatus, Recording } from '../../src/index.ts';
import { answerAsReceiver, answerWithTestPattern } from './fakePeers.ts';
import type { FakePeer } from './fakePeers.ts';

export const GOOD_KEY = 'good-key';

export interface RecordedRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

export interface FakePlatform {
  baseUrl: string;
  /** Every request to /whep and /whip, in order. */
  requests: RecordedRequest[];
  /** Whether `POST /whep/live` answers 201 (true) or 409 (false). */
  live: boolean;
  /** `Link` values of the OPTIONS answers (ICE servers), and of the 201s. Default none. */
  iceLinks: string[];
  sessionIceLinks: string[];
  /** What `GET /watch/:id/status` lists (any id but `missing`); none by default. */
  recordings: Recording[];
  /** How often the status was asked for. */
  statusRequests: number;
  /** Open fake peers by session path. */
  sessions: Map<string, FakePeer>;
  /** Closes every open peer, as a server does when the publisher leaves. */
  dropSessions(): void;
  stop(): Promise<void>;
}

export async function startFakePlatform(options: { distDir?: string } = {}): Promise<FakePlatform> {
  // Routes are added once the port (and so the base URL) is known, before any request.
  const app = new Hono();
  const server = await new Promise<Server>((resolve, reject) => {
    const created = serve(
      { fetch: (request) => app.fetch(request), hostname: '127.0.0.1', port: 0 },
      () => resolve(created as Server),
    );
    created.once('error', reject);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  const baseUrl = `http://127.0.0.1:${address.port}`;

  let nextSession = 1;
  const platform: FakePlatform = {
    baseUrl,
    requests: [],
    live: true,
    iceLinks: [],
    sessionIceLinks: [],
    recordings: [],
    statusRequests: 0,
    sessions: new Map(),
    dropSessions() {
      for (const peer of platform.sessions.values()) peer.close();
      platform.sessions.clear();
    },
    async stop() {
      platform.dropSessions();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  app.use('/whep/*', record);
  app.use('/whip', record);
  app.use('/whip/*', record);
  // The status follows the same rules as the WHEP endpoint below.
  const status = (id: string): Promise<PublicStreamStatus | undefined> => {
    platform.statusRequests++;
    if (id === 'missing') return Promise.resolve(undefined);
    const live = id === 'live' && platform.live;
    return Promise.resolve({
      id,
      name: `Stream ${id}`,
      live,
      viewers: live ? platform.sessions.size : 0,
      recordings: platform.recordings,
    });
  };
  app.route('/', createPlayerRoutes({ publicUrl: baseUrl, status, ...options }));

  const links = (values: string[]): Record<string, string> =>
    values.length > 0 ? { Link: values.join(',') } : {};
  app.options('/whep/:id', (c) => c.body(null, 200, links(platform.iceLinks)));
  app.options('/whip', (c) => {
    const granted = c.req.header('authorization') === `Bearer ${GOOD_KEY}`;
    return c.body(null, 200, links(granted ? platform.iceLinks : []));
  });

  app.post('/whep/:id', async (c) => {
    if (c.req.header('content-type') !== 'application/sdp') return c.text('want SDP', 415);
    const id = c.req.param('id');
    if (id === 'missing') {
      return c.json({ title: 'Not Found', status: 404, detail: 'no such stream' }, 404, {
        'Content-Type': 'application/problem+json',
      });
    }
    if (id !== 'live' || !platform.live) {
      return c.json({ title: 'Conflict', status: 409, detail: 'stream is not live' }, 409, {
        'Content-Type': 'application/problem+json',
        'Retry-After': '1',
      });
    }
    const peer = await answerWithTestPattern(await c.req.text());
    const path = `/whep/sessions/${nextSession++}`;
    platform.sessions.set(path, peer);
    // Relative on purpose: the client must resolve it against the endpoint (R.4).
    return c.body(peer.answer, 201, {
      'Content-Type': 'application/sdp',
      Location: path,
      ...links(platform.sessionIceLinks),
    });
  });

  app.post('/whip', async (c) => {
    if (c.req.header('authorization') !== `Bearer ${GOOD_KEY}`) {
      return c.json({ title: 'Unauthorized', status: 401, detail: 'invalid stream key' }, 401, {
        'Content-Type': 'application/problem+json',
        'WWW-Authenticate': 'Bearer realm="wisp", error="invalid_token"',
      });
    }
    const peer = await answerAsReceiver(await c.req.text());
    const path = `/whip/sessions/${nextSession++}`;
    platform.sessions.set(path, peer);
    return c.body(peer.answer, 201, {
      'Content-Type': 'application/sdp',
      Location: `${baseUrl}${path}`,
      ...links(platform.sessionIceLinks),
    });
  });

  // Trickle (RFC 8840 fragments): the fake peers are full ICE agents, so they use them.
  app.patch('/:kind{whep|whip}/sessions/:n', async (c) => {
    const peer = platform.sessions.get(c.req.path);
    if (!peer) return c.body(null, 404);
    const body = await c.req.text();
    const mid = /^a=mid:(\S+)/m.exec(body)?.[1] ?? '0';
    for (const [, candidate] of body.matchAll(/^a=(candidate:[^\r\n]+)/gm)) {
      await peer.pc.addIceCandidate({ candidate, sdpMid: mid }).catch(() => undefined);
    }
    return c.body(null, 204);
  });

  app.delete('/:kind{whep|whip}/sessions/:n', (c) => {
    if (c.req.param('kind') === 'whip' && c.req.header('authorization') !== `Bearer ${GOOD_KEY}`) {
      return c.text('Unauthorized', 401);
    }
    platform.sessions.get(c.req.path)?.close();
    platform.sessions.delete(c.req.path);
    return c.body(null, 200);
  });

  async function record(c: Context, next: Next): Promise<void> {
    platform.requests.push({
      method: c.req.method,
      path: c.req.path,
      authorization: c.req.header('authorization'),
      contentType: c.req.header('content-type'),
      body: c.req.method === 'POST' ? await c.req.raw.clone().text() : '',
    });
    await next();
  }

  return platform;
}
