/**
 * The front door's WHIP and WHEP endpoints (egress role, on a node without the ingest or
 * edge role): `POST /whip` and `POST /whep/:id` answer 307 to the chosen node (WHIP §4.5
 * and WHEP allow redirects; 307 keeps the method and body). The body is not read: the
 * client sends it again to the Location. OPTIONS, GET and HEAD answer as the endpoints do.
 */
import { Hono } from 'hono';
import {
  SDP_TYPE,
  isPreflight,
  methodNotAllowed,
  onError,
  optionsResponse,
  parseBearer,
  type IceServerConfig,
} from '@wisp/core';
import type { Context } from 'hono';
import type { ClientHints, FrontDoor } from '../FrontDoor.ts';

export interface FrontDoorRoutesOptions {
  frontDoor: FrontDoor;
  iceServers: IceServerConfig[];
  /** Serve `/whip` here (false when this node is an ingest itself). */
  whip: boolean;
  /** Serve `/whep/:id` here (false when this node is an edge itself). */
  whep: boolean;
  /** `REGION_HEADER`: the request header with the client's region (lower case), if any. */
  regionHeader?: string | undefined;
}

export function createFrontDoorRoutes(options: FrontDoorRoutesOptions): Hono {
  const { frontDoor, iceServers } = options;
  // The client's region: from the CDN's or load balancer's header, else `?region=`.
  const hints = (c: Context): ClientHints => ({
    region:
      (options.regionHeader && c.req.header(options.regionHeader)?.trim()) ||
      c.req.query('region')?.trim() ||
      undefined,
  });
  const app = new Hono();
  app.onError(onError);
  const redirect = (location: string) =>
    new Response(null, {
      status: 307,
      headers: { Location: location, 'Cache-Control': 'no-store' },
    });

  if (options.whip) {
    // TURN credentials only to a caller that proved it may publish (C8), as on the ingest.
    app.options('/whip', async (c) => {
      const grantee = isPreflight(c)
        ? undefined
        : await frontDoor.publisherOf(parseBearer(c.req.header('authorization')));
      return optionsResponse(c, 'endpoint', iceServers, grantee);
    });
    app.on(['GET', 'HEAD'], '/whip', (c) => c.body(null, 200));
    app.post('/whip', async (c) =>
      redirect(await frontDoor.publishTarget(parseBearer(c.req.header('authorization')), hints(c))),
    );
    app.all('/whip', (c) => methodNotAllowed(c, 'endpoint'));
  }
  if (options.whep) {
    app.options('/whep/:streamId', async (c) => {
      const streamId = c.req.param('streamId');
      const grantee = !isPreflight(c) && (await frontDoor.mayView(streamId)) ? streamId : undefined;
      return optionsResponse(c, 'endpoint', iceServers, grantee);
    });
    app.on(['GET', 'HEAD'], '/whep/:streamId', (c) => {
      c.header('Content-Type', SDP_TYPE);
      return c.body(null, 200);
    });
    app.post('/whep/:streamId', async (c) =>
      redirect(await frontDoor.viewTarget(c.req.param('streamId'), hints(c))),
    );
    app.all('/whep/:streamId', (c) => methodNotAllowed(c, 'endpoint'));
  }
  return app;
}
