/**
 * Which ICE servers a WHIP/WHEP response may carry, and the TURN credentials in them.
 *
 * A TURN server relays for whoever holds valid credentials, so they go only to callers who
 * proved the right to publish (a valid stream key) or to watch (a public stream): never on a
 * CORS preflight, never to an anonymous OPTIONS. STUN servers hold no secret and go to anyone.
 *
 * With `TURN_SECRET` the credentials are time-limited, by the TURN REST scheme that coturn
 * (`use-auth-secret` + `static-auth-secret`) and most TURN services implement
 * (draft-uberti-behave-turn-rest-00): username `<expiry unix seconds>:<id>`, password
 * base64(HMAC-SHA1(secret, username)). The TURN server recomputes the password from the
 * username and refuses it once the expiry has passed; nothing is shared per session.
 */
import { createHmac } from 'node:crypto';
import type { IceServerConfig } from './config.ts';

export interface TurnCredentials {
  username: string;
  credential: string;
  /** Unix time (seconds) after which the TURN server refuses them for new allocations. */
  expiresAt: number;
}

/** base64(HMAC-SHA1(secret, username)): the TURN REST password of `username`. */
export function turnRestPassword(secret: string, username: string): string {
  return createHmac('sha1', secret).update(username).digest('base64');
}

/**
 * Credentials for `id` (a session or stream id) valid until `expiresAt` (unix seconds). The
 * id is only a label for the TURN server's logs and quotas; the secret is what grants.
 */
export function turnRestCredentials(
  secret: string,
  id: string,
  expiresAt: number,
): TurnCredentials {
  if (!Number.isInteger(expiresAt) || expiresAt < 0) {
    throw new TypeError(`expiresAt must be unix seconds, got ${expiresAt}`);
  }
  // Link header values must stay free of what OBS-style parsers split on (conformance D3).
  if (!id || /[\s,;"\\]/.test(id)) throw new TypeError(`unusable TURN username id "${id}"`);
  const username = `${expiresAt}:${id}`;
  return { username, credential: turnRestPassword(secret, username), expiresAt };
}

const isTurn = (server: IceServerConfig): boolean => /^turns?:/.test(server.url);

/**
 * The ICE servers for one response. `grantee` is the session or stream id of a caller who
 * proved the right to publish or watch it; without one only the STUN servers are returned.
 * TURN servers with a secret get fresh credentials for the grantee, valid `ttlSeconds` from
 * `nowMs`; those with static credentials get them as configured.
 */
export function iceServersFor(
  servers: IceServerConfig[],
  grantee: string | undefined,
  nowMs: number = Date.now(),
): IceServerConfig[] {
  const result: IceServerConfig[] = [];
  for (const server of servers) {
    if (!isTurn(server)) {
      result.push({ url: server.url });
    } else if (grantee !== undefined) {
      if (server.secret !== undefined) {
        const expiresAt = Math.floor(nowMs / 1000) + (server.ttlSeconds ?? 0);
        const { username, credential } = turnRestCredentials(server.secret, grantee, expiresAt);
        result.push({ url: server.url, username, credential });
      } else {
        result.push({ ...server });
      }
    }
  }
  return result;
}
