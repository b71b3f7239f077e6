/**
 * WHIP endpoint (RFC 9725): `POST /whip` with the stream key as Bearer token creates a
 * session at `/whip/:sessionId`. Mounted at the root of the server app.
 */
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono, type Context } from 'hono';
import {
  onError,
  parseBearer,
  readTextBody,
  requireContentType,
  type ClusterAuth,
  type IceServerConfig,
  type Metrics,
  SDP_TYPE,
  UnauthorizedError,
  addIceServerLinks,
  handleSessionPatch,
  isPreflight,
  methodNotAllowed,
  optionsResponse,
} from '@wisp/core';

import type { Ingest } from '../Ingest.ts';

export interface WhipRoutesOptions {
  ingest: Ingest;
  publicUrl: string;
  iceServers: IceServerConfig[];
  maxSdpBytes: number;
  /** Accept the front door's redirect tickets (`?t=`) for this node in place of the key. */
  tickets?: { auth: ClusterAuth; node: string };
  /** Counts and times the session POSTs (`wisp_publish_sessions_total`, ...). */
  metrics?: Pick<Metrics, 'sessionMiddleware'>;
}

export function createWhipRoutes(options: WhipRoutesOptions): Hono {
  const { ingest, publicUrl, iceServers, maxSdpBytes } = options;
  const app = new Hono();
  app.onError(onError);

  /**
   * The stream a plain OPTIONS proved the right to publish, by its key as Bearer token: only
   * such a caller gets TURN credentials (C8). Without a valid key the OPTIONS still answers,
   * with the STUN servers only.
   */
  async function publisherOf(c: Context): Promise<string | undefined> {
    const key = parseBearer(c.req.header('authorization'));
    if (isPreflight(c) || !key) return undefined;
    try {
      return await ingest.authenticate(key);
    } catch (error) {
      if (error instanceof UnauthorizedError) return undefined;
      throw error;
    }
  }

  app.options('/whip', async (c) =>
    optionsResponse(c, 'endpoint', iceServers, await publisherOf(c)),
  );
  // RFC 9725 §4.1: GET on the endpoint answers 2xx with no content (F1).
  app.on(['GET', 'HEAD'], '/whip', (c) => c.body(null, 200));
  // Before the handler, on the same route: sees the status the handler's errors map to.
  if (options.metrics) app.post('/whip', options.metrics.sessionMiddleware('publish'));
  app.post('/whip', async (c) => {
    requireContentType(c, SDP_TYPE, { post: SDP_TYPE });
    const sdp = await readTextBody(c, maxSdpBytes);
    const ticket = c.req.query('t');
    const bearer = parseBearer(c.req.header('authorization'));
    // A ticket counts only where no key is sent: a key is always checked itself.
    const credential =
      ticket !== undefined && bearer === undefined && options.tickets
        ? {
            streamId: await options.tickets.auth.verifyTicket(ticket, {
              node: options.tickets.node,
              action: 'publish',
            }),
          }
        : bearer;
    const session = await ingest.publish(credential, sdp, {
      remoteAddress: remoteAddressOf(c),
      userAgent: c.req.header('user-agent') ?? null,
    });
    // Absolute Location: OBS, GStreamer and some players mishandle relative ones (§R.1).
    c.header('Location', `${publicUrl}/whip/${session.id}`);
    c.header('ETag', session.peer.etag);
    c.header('Content-Type', SDP_TYPE);
    // The key proved the right to publish: TURN credentials for this session (RFC 9725 §4.6).
    addIceServerLinks(c, iceServers, session.id);
    return c.body(session.answer, 201);
  });
  app.all('/whip', (c) => methodNotAllowed(c, 'endpoint'));

  app.options('/whip/:sessionId', (c) => optionsResponse(c, 'session', iceServers));
  app.on(['GET', 'HEAD'], '/whip/:sessionId', async (c) => {
    await ingest.getSession(c.req.param('sessionId'), parseBearer(c.req.header('authorization')));
    return c.body(null, 200);
  });
  app.patch('/whip/:sessionId', async (c) => {
    const session = await ingest.getSession(
      c.req.param('sessionId'),
      parseBearer(c.req.header('authorization')),
    );
    return handleSessionPatch(c, session.peer, session.mids, maxSdpBytes);
  });
  // DELETE ignores If-Match (F4) and answers exactly 200, which OBS 30 expects (F3), also
  // for a session whose connection closed a moment before (SESSION_DELETE_GRACE_MS).
  app.delete('/whip/:sessionId', async (c) => {
    await ingest.endSession(c.req.param('sessionId'), parseBearer(c.req.header('authorization')));
    return c.body(null, 200);
  });
  app.all('/whip/:sessionId', (c) => methodNotAllowed(c, 'session'));
  return app;
}

/**
 * The client's address: as the platform's rate limiter resolved it (`TRUST_PROXY` applied),
 * else the TCP peer; null when the app is not served by Node's HTTP server.
 */
function remoteAddressOf(c: Context): string | null {
  const resolved = c.get('clientAddress');
  if (resolved) return resolved;
  try {
    return getConnInfo(c).remote.address ?? null;
  } catch {
    return null;
  }
}
