/**
 * Viewer tokens of private streams (docs/api.md, "Private streams"): HS256 JWTs (jose) that
 * the control API issues (`POST /api/streams/:id/viewer-tokens`) and every node that admits
 * viewers checks (`POST /whep/:id`, `/watch/:id?token=`, the VOD files).
 *
 * - `iss` is `wisp`, `aud` is the stream id (a token for one stream is refused by another),
 *   `scope` is `view`, `exp` the expiry, `jti` a random id that the logs can name.
 * - The key is derived from `CLUSTER_SECRET` (HMAC-SHA-256 of a fixed label), not the secret
 *   itself, so a viewer token can never pass as a redirect ticket or an internal call token
 *   (tickets.ts) and the other way round, whatever their claims.
 * - A token admits new sessions until it expires; a session it started is not cut when it
 *   expires (like LiveKit's join tokens). Deleting the stream makes every token useless.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { ForbiddenError, UnauthorizedError } from './errors.ts';

const ISSUER = 'wisp';
const SCOPE = 'view';
const KEY_LABEL = 'wisp viewer tokens v1';

/** A token lives one hour unless asked otherwise. */
export const DEFAULT_VIEWER_TOKEN_TTL_SECONDS = 3600;
/** At most 30 days: a longer-lived link is a public link, make the stream public. */
export const MAX_VIEWER_TOKEN_TTL_SECONDS = 30 * 24 * 3600;

/** Longest string worth handing to the JWT parser; real tokens are about 250 characters. */
const MAX_TOKEN_LENGTH = 4096;

export interface IssuedViewerToken {
  token: string;
  /** Seconds since the epoch. */
  expiresAt: number;
}

export class ViewerTokens {
  readonly #key: Uint8Array;

  constructor(options: { secret: string }) {
    if (typeof options.secret !== 'string' || options.secret.length < 16) {
      throw new TypeError('the viewer token secret must be at least 16 characters');
    }
    this.#key = createHmac('sha256', options.secret).update(KEY_LABEL).digest();
  }

  /** A token that lets its holder watch `streamId` for `ttlSeconds`. */
  async issue(streamId: string, ttlSeconds: number): Promise<IssuedViewerToken> {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
      throw new TypeError('ttlSeconds must be a positive integer');
    }
    const now = Math.floor(Date.now() / 1000);
    const expiresAt = now + ttlSeconds;
    const token = await new SignJWT({ scope: SCOPE })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(streamId)
      .setIssuedAt(now)
      .setExpirationTime(expiresAt)
      .setJti(randomBytes(12).toString('base64url'))
      .sign(this.#key);
    return { token, expiresAt };
  }

  /**
   * Resolves when `token` lets its holder watch `streamId`. A missing, malformed, forged or
   * expired token is UnauthorizedError (401); a valid token for another stream is
   * ForbiddenError (403).
   */
  async verify(token: string | undefined, streamId: string): Promise<void> {
    if (token === undefined || token === '') {
      throw new UnauthorizedError('this stream is private: a viewer token is required');
    }
    if (token.length > MAX_TOKEN_LENGTH) throw invalid('the viewer token is not valid');
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.#key, {
        issuer: ISSUER,
        algorithms: ['HS256'],
        requiredClaims: ['exp', 'aud'],
      }));
    } catch (error) {
      throw invalid(
        error instanceof joseErrors.JWTExpired
          ? 'the viewer token has expired'
          : 'the viewer token is not valid',
      );
    }
    if (payload.scope !== SCOPE) throw invalid('the viewer token is not valid');
    const audience = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (!audience.includes(streamId)) {
      throw new ForbiddenError('the viewer token is for another stream');
    }
  }
}

function invalid(message: string): UnauthorizedError {
  return new UnauthorizedError(message, true);
}
