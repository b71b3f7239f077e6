/**
 * WHEP endpoint (draft-ietf-wish-whep): `POST /whep/:streamId` with a recvonly offer creates
 * a session at `/whep/:streamId/:sessionId`. Public streams need no token: the unguessable
 * session URL is the capability for PATCH and DELETE.
 */
import { Hono } from 'hono';
import {
  onError,
  readTextBody,
  requireContentType,
  type ClusterAuth,
  type IceServerConfig,
  SDP_TYPE,
  addIceServerLinks,
  handleSessionPatch,
  isPreflight,
  methodNotAllowed,
  optionsResponse,
} from '@wisp/core';

import type { Edge } from '../Edge.ts';

export interface WhepRoutesOptions {
  edge: Edge;
  publicUrl: string;
  iceServers: IceServerConfig[];
  maxSdpBytes: number;
  /** Check the front door's redirect tickets (`?t=`) for this node when one is sent. */
  tickets?: { auth: ClusterAuth; node: string };
}

export function createWhepRoutes(options: WhepRoutesOptions): Hono {
  const { edge, publicUrl, iceServers, maxSdpBytes } = options;
  const app = new Hono();
  app.onError(onError);

  // TURN credentials only for a stream the caller may watch (C8); STUN for anyone.
  app.options('/whep/:streamId', async (c) => {
    const streamId = c.req.param('streamId');
    const mayView = !isPreflight(c) && (await edge.mayView(streamId));
    return optionsResponse(c, 'endpoint', iceServers, mayView ? streamId : undefined);
  });
  // WHEP §4.1/§4.2: GET and HEAD answer 2xx, no content, Content-Type application/sdp (N11/N12).
  app.on(['GET', 'HEAD'], '/whep/:streamId', (c) => {
    c.header('Content-Type', SDP_TYPE);
    return c.body(null, 200);
  });
  app.post('/whep/:streamId', async (c) => {
    requireContentType(c, SDP_TYPE, { post: SDP_TYPE });
    const sdp = await readTextBody(c, maxSdpBytes);
    const streamId = c.req.param('streamId');
    // Public streams need no ticket; one that is sent must be valid, for this node and stream.
    const ticket = c.req.query('t');
    if (ticket !== undefined && options.tickets) {
      await options.tickets.auth.verifyTicket(ticket, {
        node: options.tickets.node,
        action: 'view',
        streamId,
      });
    }
    const session = await edge.view(streamId, sdp);
    c.header('Location', `${publicUrl}/whep/${encodeURIComponent(streamId)}/${session.id}`);
    c.header('ETag', session.peer.etag);
    c.header('Content-Type', SDP_TYPE);
    addIceServerLinks(c, iceServers, session.id);
    return c.body(session.answer, 201);
  });
  app.all('/whep/:streamId', (c) => methodNotAllowed(c, 'endpoint'));

  app.options('/whep/:streamId/:sessionId', (c) => optionsResponse(c, 'session', iceServers));
  app.on(['GET', 'HEAD'], '/whep/:streamId/:sessionId', (c) => {
    edge.getSession(c.req.param('streamId'), c.req.param('sessionId'));
    return c.body(null, 200);
  });
  app.patch('/whep/:streamId/:sessionId', async (c) => {
    const session = edge.getSession(c.req.param('streamId'), c.req.param('sessionId'));
    return handleSessionPatch(c, session.peer, session.mids, maxSdpBytes);
  });
  app.delete('/whep/:streamId/:sessionId', (c) => {
    edge.endSession(c.req.param('streamId'), c.req.param('sessionId'));
    return c.body(null, 200);
  });
  app.all('/whep/:streamId/:sessionId', (c) => methodNotAllowed(c, 'session'));
  return app;
}
