/**
 * HTTP behaviour WHIP (RFC 9725) and WHEP (draft-ietf-wish-whep) share: CORS for browser
 * clients, OPTIONS, ICE-server Link headers, and the session PATCH (trickle / ICE restart).
 * Conformance item numbers refer to shared/docs/whip-whep-conformance.md.
 */
import type { Context } from 'hono';
import type { IceServerConfig } from './config.ts';
import { readTextBody, requireContentType } from './http.ts';
import type { PeerTransport } from './media/PeerTransport.ts';
import { buildIceRestartFragment } from './sdp/answer.ts';
import { parseTrickleFragment } from './sdp/fragment.ts';
import { iceServersFor } from './turn.ts';

export const SDP_TYPE = 'application/sdp';
export const SDPFRAG_TYPE = 'application/trickle-ice-sdpfrag';
const ENDPOINT_METHODS = 'OPTIONS, GET, HEAD, POST';
const SESSION_METHODS = 'OPTIONS, GET, HEAD, PATCH, DELETE';

function quoted(value: string): string {
  return `"${value.replace(/[\\"]/g, (ch) => `\\${ch}`)}"`;
}

/** One Link value per ICE server (RFC 9725 §4.6; D1-D3). */
export function iceServerLinks(servers: IceServerConfig[]): string[] {
  return servers.map((s) => {
    let link = `<${s.url}>; rel="ice-server"`;
    if (s.username !== undefined && s.credential !== undefined) {
      link += `; username=${quoted(s.username)}; credential=${quoted(s.credential)}; credential-type="password"`;
    }
    return link;
  });
}

/**
 * Sends the Links as one header joined by "," without spaces. Node sends repeated headers
 * as one line joined by ", ", and OBS splits the line on "," without trimming, so it would
 * ignore every server after the first (field-notes §1, D3). Config refuses commas in
 * credentials, so the split is safe.
 */
export function addLinks(c: Context, links: string[]): void {
  if (links.length > 0) c.header('Link', links.join(','));
}

/**
 * The ICE-server Links one response may carry (core/src/turn.ts): TURN servers, with their
 * credentials, only when `grantee` (the session or stream id of a caller who proved the
 * right to publish or watch) is given, STUN servers always. A response that carries
 * credentials is marked `no-store` so no cache keeps them.
 */
export function addIceServerLinks(
  c: Context,
  iceServers: IceServerConfig[],
  grantee: string | undefined,
): void {
  const servers = iceServersFor(iceServers, grantee);
  addLinks(c, iceServerLinks(servers));
  if (servers.some((s) => s.credential !== undefined)) c.header('Cache-Control', 'no-store');
}

/** Whether the request is a CORS preflight (C4, C7): answered without auth or ICE servers. */
export function isPreflight(c: Context): boolean {
  return c.req.method === 'OPTIONS' && c.req.header('access-control-request-method') !== undefined;
}

/**
 * OPTIONS on an endpoint or a session. A CORS preflight gets the allowed methods and headers
 * and no ICE servers (C7); a plain OPTIONS on an endpoint also gets the ICE-server Links
 * (C8): STUN for anyone, TURN only with a `grantee` (see addIceServerLinks).
 */
export function optionsResponse(
  c: Context,
  kind: 'endpoint' | 'session',
  iceServers: IceServerConfig[],
  grantee?: string,
): Response {
  const methods = kind === 'endpoint' ? ENDPOINT_METHODS : SESSION_METHODS;
  c.header('Allow', methods);
  if (kind === 'endpoint') c.header('Accept-Post', SDP_TYPE);
  else c.header('Accept-Patch', SDPFRAG_TYPE);
  if (isPreflight(c)) {
    c.header('Access-Control-Allow-Methods', methods);
    c.header('Access-Control-Allow-Headers', 'Authorization, Content-Type, If-Match');
    c.header('Access-Control-Max-Age', '86400');
  } else if (kind === 'endpoint') {
    addIceServerLinks(c, iceServers, grantee);
  }
  return c.body(null, 200);
}

/** RFC 9110 §15.5.6: a 405 carries Allow. */
export function methodNotAllowed(c: Context, kind: 'endpoint' | 'session'): Response {
  c.header('Allow', kind === 'endpoint' ? ENDPOINT_METHODS : SESSION_METHODS);
  c.header('Content-Type', 'application/problem+json');
  return c.body(
    JSON.stringify({
      title: 'Method Not Allowed',
      status: 405,
      detail: `${c.req.method} is not supported here`,
    }),
    405,
  );
}

/**
 * PATCH on a session: `application/trickle-ice-sdpfrag` only (415 with Accept-Patch, G1/G2),
 * malformed fragments 400 (G3), If-Match rules 428/412 (H6/H7), trickle -> 204 without body
 * or ETag (H2-H4), restart -> 200 with the new credentials, candidates and a new ETag (I2).
 * A failed restart leaves the session and its ETag as they were (I6).
 */
export async function handleSessionPatch(
  c: Context,
  peer: PeerTransport,
  mids: { mid: string; kind: string; protocol: string }[],
  maxBytes: number,
): Promise<Response> {
  requireContentType(c, SDPFRAG_TYPE, { patch: SDPFRAG_TYPE });
  const fragment = parseTrickleFragment(await readTextBody(c, maxBytes));
  const result = await peer.applyPatch(fragment, c.req.header('if-match'));
  if (result.kind === 'trickle') return c.body(null, 204);
  c.header('ETag', result.etag);
  c.header('Content-Type', SDPFRAG_TYPE);
  return c.body(buildIceRestartFragment({ transport: result.transport, mids }), 200);
}
