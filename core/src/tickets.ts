/**
 * Signed tokens between nodes, HS256 JWTs (jose) keyed by `CLUSTER_SECRET`:
 *
 * - **redirect tickets**: the front door checked a stream key (or that a stream may be
 *   watched) and sends the client to another node with `?t=<ticket>` in the `Location`.
 *   Browsers and Node's fetch drop `Authorization` on a cross-origin redirect, so the ticket
 *   stands in for the key there. A ticket names the stream, what it allows (`publish` or
 *   `view`) and the node it is for, and expires after `TICKET_TTL_MS` (30 s).
 * - **internal calls**: every request to a node's `/internal` API carries
 *   `Authorization: Bearer <token>` with audience `wisp-internal`, valid for a minute.
 */
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { ForbiddenError, UnauthorizedError } from './errors.ts';

export type TicketAction = 'publish' | 'view';

export interface Ticket {
  streamId: string;
  action: TicketAction;
  /** The node the ticket is for. */
  node: string;
}

const ISSUER = 'wisp';
const INTERNAL_AUDIENCE = 'wisp-internal';
const INTERNAL_TTL_SECONDS = 60;

export class ClusterAuth {
  readonly #key: Uint8Array;
  readonly #ticketTtlMs: number;

  constructor(options: { secret: string; ticketTtlMs: number }) {
    this.#key = new TextEncoder().encode(options.secret);
    this.#ticketTtlMs = options.ticketTtlMs;
  }

  /** A ticket for `node` to accept `action` on `streamId`. */
  async issueTicket(ticket: Ticket): Promise<string> {
    const now = Date.now();
    return new SignJWT({ act: ticket.action })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setSubject(ticket.streamId)
      .setAudience(`node:${ticket.node}`)
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(Math.floor((now + this.#ticketTtlMs) / 1000))
      .sign(this.#key);
  }

  /**
   * The stream a ticket allows `action` on at `node`. A forged, expired or malformed ticket
   * is 401; a valid ticket for another node, stream or action is 403.
   */
  async verifyTicket(
    token: string,
    expected: { node: string; action: TicketAction; streamId?: string },
  ): Promise<string> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.#key, { issuer: ISSUER, algorithms: ['HS256'] }));
    } catch (error) {
      throw new UnauthorizedError(
        error instanceof joseErrors.JWTExpired
          ? 'the redirect ticket has expired'
          : 'invalid redirect ticket',
        true,
      );
    }
    const audience = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (!audience.includes(`node:${expected.node}`)) {
      throw new ForbiddenError('the redirect ticket is for another node');
    }
    if (payload.act !== expected.action) {
      throw new ForbiddenError(`the redirect ticket does not allow ${expected.action}`);
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') {
      throw new UnauthorizedError('invalid redirect ticket', true);
    }
    if (expected.streamId !== undefined && payload.sub !== expected.streamId) {
      throw new ForbiddenError('the redirect ticket is for another stream');
    }
    return payload.sub;
  }

  /** The bearer token of an internal call from node `from`. */
  async internalToken(from: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setSubject(from)
      .setAudience(INTERNAL_AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + INTERNAL_TTL_SECONDS)
      .sign(this.#key);
  }

  /** The calling node's id; 401 without a valid internal token. */
  async verifyInternal(authorization: string | undefined): Promise<string> {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    if (!token) throw new UnauthorizedError('the internal API needs the cluster secret');
    try {
      const { payload } = await jwtVerify(token, this.#key, {
        issuer: ISSUER,
        audience: INTERNAL_AUDIENCE,
        algorithms: ['HS256'],
      });
      if (typeof payload.sub !== 'string') throw new Error('no subject');
      return payload.sub;
    } catch {
      throw new UnauthorizedError('invalid internal token', true);
    }
  }
}
