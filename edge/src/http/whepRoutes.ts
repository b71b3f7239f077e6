/**
 * WHEP endpoint (draft-ietf-wish-whep): `POST /whep/:streamId` with a recvonly offer creates
 * a session at `/whep/:streamId/:sessionId`. Public streams need no token: the unguessable
 * session URL is the capability for PATCH and DELETE.
 */
import { Hono } from 'hono';
import {
  ValidationError,
  onError,
  readJsonBody,
  readTextBody,
  requireContentType,
  type ClusterAuth,
  type IceServerConfig,
  type Metrics,
  SDP_TYPE,
  addIceServerLinks,
  handleSessionPatch,
  isPreflight,
  methodNotAllowed,
  optionsResponse,
} from '@wisp/core';

import type { Edge } from '../Edge.ts';

/** WHEP layer extension: a session's simulcast layers, and choosing one (LAYER_REL link). */
export const LAYER_REL = 'urn:ietf:params:whep:ext:core:layer';

export interface WhepRoutesOptions {
  edge: Edge;
  publicUrl: string;
  iceServers: IceServerConfig[];
  maxSdpBytes: number;
  /** Check the front door's redirect tickets (`?t=`) for this node when one is sent. */
  tickets?: { auth: ClusterAuth; node: string };
  /** Counts and times the session POSTs (`wisp_view_sessions_total`, ...). */
  metrics?: Pick<Metrics, 'sessionMiddleware'>;
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
  // Before the handler, on the same route: sees the status the handler's errors map to.
  if (options.metrics) app.post('/whep/:streamId', options.metrics.sessionMiddleware('view'));
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
    if (session.layers().length > 0) {
      const layerUrl = `${publicUrl}/whep/${encodeURIComponent(streamId)}/${session.id}/layer`;
      c.header('Link', `<${layerUrl}>; rel="${LAYER_REL}"`, { append: true });
    }
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

  // The layer extension's URL (wish-wg webrtc-http-egress-events). The draft learns layers
  // from its SSE `layers` event; without SSE here, GET answers the same data. The session URL
  // is the capability, as for PATCH and DELETE.
  const layerPath = '/whep/:streamId/:sessionId/layer';
  app.options(layerPath, (c) => {
    c.header('Allow', 'OPTIONS, GET, POST');
    c.header('Access-Control-Allow-Methods', 'OPTIONS, GET, POST');
    c.header('Access-Control-Allow-Headers', 'Authorization, Content-Type');
    c.header('Access-Control-Max-Age', '86400');
    return c.body(null, 200);
  });
  app.get(layerPath, (c) => {
    const session = edge.getSession(c.req.param('streamId'), c.req.param('sessionId'));
    c.header('Cache-Control', 'no-store');
    return c.json({ media: session.layers() });
  });
  app.post(layerPath, async (c) => {
    const session = edge.getSession(c.req.param('streamId'), c.req.param('sessionId'));
    requireContentType(c, 'application/json');
    const body = (await readJsonBody(c, 4096)) as Record<string, unknown> | null;
    const mediaId = body?.mediaId;
    const spatial = body?.spatialLayerId;
    const temporal = body?.temporalLayerId;
    const isLayer = (v: unknown) => v === undefined || (Number.isInteger(v) && (v as number) >= 0);
    if (typeof mediaId !== 'string' || !isLayer(spatial) || !isLayer(temporal)) {
      throw new ValidationError(
        'expected {"mediaId": string, "spatialLayerId"?: integer, "temporalLayerId"?: integer}',
      );
    }
    // {mediaId} alone returns to automatic selection (the draft's rule).
    await session.selectLayers(
      mediaId,
      spatial === undefined && temporal === undefined
        ? 'auto'
        : {
            ...(spatial !== undefined ? { spatialLayerId: spatial as number } : {}),
            ...(temporal !== undefined ? { temporalLayerId: temporal as number } : {}),
          },
    );
    return c.json({ media: session.layers() });
  });
  return app;
}
