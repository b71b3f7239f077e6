/**
 * WHEP endpoint (draft-ietf-wish-whep): `POST /whep/:streamId` with a recvonly offer creates
 * a session at `/whep/:streamId/:sessionId`. Public streams need no token: the unguessable
 * session URL is the capability for PATCH and DELETE.
 */
import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import {
  AppError,
  NotFoundError,
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
import { EVENTS_REL, WHEP_EVENTS, isWhepEvent, type EventReader } from '../WhepEvents.ts';

/** WHEP layer extension: a session's simulcast layers, and choosing one (LAYER_REL link). */
export const LAYER_REL = 'urn:ietf:params:whep:ext:core:layer';

/** Comments on an open event stream so proxies and NATs do not time it out. */
const EVENTS_KEEPALIVE_MS = 15_000;

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
    const sessionUrl = `${publicUrl}/whep/${encodeURIComponent(streamId)}/${session.id}`;
    c.header(
      'Link',
      `<${sessionUrl}/events>; rel="${EVENTS_REL}"; events="${WHEP_EVENTS.join(',')}"`,
      { append: true },
    );
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

  // The server-sent events extension (wish-wg webrtc-http-egress-events). Like the session
  // URL it hangs off, an event stream's URL is its own capability: no token, CORS `*` (an
  // EventSource or fetch from the player's page on another origin).
  const eventsPath = '/whep/:streamId/:sessionId/events';
  const preflight = (methods: string) => (c: Context) => {
    c.header('Allow', methods);
    c.header('Access-Control-Allow-Methods', methods);
    c.header('Access-Control-Allow-Headers', 'Authorization, Content-Type, Last-Event-ID');
    c.header('Access-Control-Max-Age', '86400');
    return c.body(null, 200);
  };
  app.options(eventsPath, preflight('OPTIONS, GET, POST'));
  app.options(`${eventsPath}/:eventsId`, preflight('OPTIONS, GET, DELETE'));
  app.post(eventsPath, async (c) => {
    const streamId = c.req.param('streamId');
    const sessionId = c.req.param('sessionId');
    edge.getSession(streamId, sessionId);
    const body = await readJsonBody(c, 4096);
    if (!Array.isArray(body) || body.length === 0 || !body.every(isWhepEvent)) {
      throw new ValidationError(
        `expected a JSON array of event names, among those offered: ${WHEP_EVENTS.join(', ')}`,
      );
    }
    const stream = edge.subscribeEvents(streamId, sessionId, body);
    if (!stream) throw new AppError(429, 'Too Many Requests', 'too many event streams');
    const url = `${publicUrl}/whep/${encodeURIComponent(streamId)}/${sessionId}/events/${stream.id}`;
    c.header('Location', url);
    c.header('Cache-Control', 'no-store');
    return c.body(null, 201);
  });
  // Broadcast Box-style: a GET of the extension's URL itself streams every event.
  app.get(eventsPath, (c) => {
    const streamId = c.req.param('streamId');
    const sessionId = c.req.param('sessionId');
    const stream = edge.subscribeEvents(streamId, sessionId, WHEP_EVENTS);
    if (!stream) throw new AppError(429, 'Too Many Requests', 'too many event streams');
    const session = edge.getSession(streamId, sessionId);
    return serveEvents(c, stream, () => session.events.remove(stream.id));
  });
  app.get(`${eventsPath}/:eventsId`, (c) => {
    const session = edge.getSession(c.req.param('streamId'), c.req.param('sessionId'));
    const stream = session.events.get(c.req.param('eventsId'));
    if (!stream) throw new NotFoundError('no such event stream');
    return serveEvents(c, stream);
  });
  app.delete(`${eventsPath}/:eventsId`, (c) => {
    const session = edge.getSession(c.req.param('streamId'), c.req.param('sessionId'));
    if (!session.events.remove(c.req.param('eventsId'))) {
      throw new NotFoundError('no such event stream');
    }
    return c.body(null, 200);
  });
  return app;
}

/**
 * `text/event-stream` of one event stream until it ends (DELETE, another GET, the session
 * closing) or the client goes away. Writes are chained so the last message (an `inactive`)
 * is out before the response ends.
 */
function serveEvents(
  c: Context,
  events: { attach(reader: EventReader): void; detach(reader: EventReader): void },
  onAbort?: () => void,
): Response {
  c.header('Cache-Control', 'no-store');
  return streamSSE(c, async (stream) => {
    await new Promise<void>((resolve) => {
      let writing = Promise.resolve();
      const keepalive = setInterval(() => {
        writing = writing.then(() => stream.write(': keepalive\n\n')).then(noop, noop);
      }, EVENTS_KEEPALIVE_MS);
      const reader: EventReader = {
        write: (message) => {
          writing = writing
            .then(() => stream.writeSSE({ event: message.event, data: message.data }))
            .then(noop, noop);
        },
        end: () => {
          clearInterval(keepalive);
          void writing.then(resolve);
        },
      };
      stream.onAbort(() => {
        events.detach(reader);
        onAbort?.();
        reader.end();
      });
      events.attach(reader);
    });
  });
}

function noop(): void {}
