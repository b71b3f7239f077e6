/**
 * One client's WebRtcTransport with everything WHIP and WHEP sessions share: DTLS role from
 * the offer, the answer's transport attributes, liveness (connect timeout, consent loss,
 * inactivity), ICE restart with a rotating strong ETag (RFC 9725 §4.3.1), and an idempotent
 * close that tells the owner why.
 */
import { randomBytes } from 'node:crypto';
import type { types as ms } from 'mediasoup';
import type { MediaConfig, SessionConfig } from '../config.ts';
import {
  PreconditionFailedError,
  PreconditionRequiredError,
  ServiceUnavailableError,
  ValidationError,
} from '../errors.ts';
import { TypedEmitter } from '../events.ts';
import type { Logger } from '../logger.ts';
import type { AnswerTransport } from '../sdp/answer.ts';
import type { TrickleFragment } from '../sdp/fragment.ts';
import type { DtlsSetup, ParsedOffer } from '../sdp/offer.ts';
import { transportListenOf } from './WorkerPool.ts';

export type CloseReason =
  | 'deleted'
  | 'connect-timeout'
  | 'ice-disconnected'
  | 'inactive'
  | 'dtls-failed'
  | 'dtls-closed'
  | 'replaced'
  | 'stream-offline'
  | 'key-revoked'
  | 'router-closed'
  | 'shutdown'
  /** The edge is draining: the viewer was moved (or asked to move) to another edge. */
  | 'drained'
  | 'error';

export interface PeerTransportEvents extends Record<string, unknown> {
  connected: undefined;
  closed: { reason: CloseReason };
}

export type PatchResult =
  { kind: 'trickle' } | { kind: 'restart'; transport: AnswerTransport; etag: string };

/**
 * The bandwidth estimate a viewer's transport starts from, before any transport-cc feedback
 * (mediasoup keeps it exactly until feedback arrives, which tests rely on).
 */
export const INITIAL_AVAILABLE_OUTGOING_BITRATE = 1_000_000;

function newEtag(): string {
  return `"${randomBytes(12).toString('base64url')}"`;
}

/** Our DTLS role is the opposite of the offerer's; actpass lets us choose passive (server). */
function answerSetup(offered: DtlsSetup): 'active' | 'passive' {
  return offered === 'passive' ? 'active' : 'passive';
}

export class PeerTransport extends TypedEmitter<PeerTransportEvents> {
  readonly transport: ms.WebRtcTransport;
  readonly #session: SessionConfig;
  readonly #log: Logger;
  readonly #setup: 'active' | 'passive';
  #etag = newEtag();
  #remoteUfrag: string;
  #closed = false;
  #connected = false;
  #connectTimer: NodeJS.Timeout | undefined;
  #disconnectTimer: NodeJS.Timeout | undefined;
  #inactivityTimer: NodeJS.Timeout | undefined;
  #lastBytesReceived = 0;
  #lastActivityAt = Date.now();

  private constructor(
    transport: ms.WebRtcTransport,
    offer: ParsedOffer,
    session: SessionConfig,
    log: Logger,
  ) {
    super();
    this.transport = transport;
    this.#session = session;
    this.#log = log;
    this.#setup = answerSetup(offer.setup);
    this.#remoteUfrag = offer.iceUfrag;
  }

  static async create(options: {
    router: ms.Router;
    offer: ParsedOffer;
    media: MediaConfig;
    session: SessionConfig;
    log: Logger;
  }): Promise<PeerTransport> {
    const { router, offer, media } = options;
    const listen = transportListenOf(router);
    const common = {
      enableUdp: media.enableUdp,
      enableTcp: media.enableTcp,
      preferUdp: true,
      initialAvailableOutgoingBitrate: INITIAL_AVAILABLE_OUTGOING_BITRATE,
    };
    const transport = await router
      .createWebRtcTransport(
        listen.kind === 'server'
          ? { ...common, webRtcServer: listen.webRtcServer }
          : { ...common, listenInfos: listen.listenInfos },
      )
      .catch((error: unknown) => {
        // Our own parameters are fixed, so a failure here is a resource problem: above all,
        // in range mode every session takes ports of RTC_MIN_PORT..RTC_MAX_PORT and they can
        // run out. The client should retry later (RFC 9725 §4.5: 503 with Retry-After).
        options.log.warn({ err: error }, 'could not create a WebRTC transport');
        throw new ServiceUnavailableError('no free media port or transport: try again later', 5);
      });
    const peer = new PeerTransport(transport, offer, options.session, options.log);
    try {
      await transport.connect({
        dtlsParameters: {
          // The remote role is the opposite of ours.
          role: peer.#setup === 'passive' ? 'client' : 'server',
          fingerprints: offer.fingerprints.map((f) => ({
            algorithm: f.algorithm as ms.FingerprintAlgorithm,
            value: f.value,
          })),
        },
      });
    } catch (error) {
      transport.close();
      throw new ValidationError(`invalid DTLS parameters: ${(error as Error).message}`);
    }
    peer.#watch();
    return peer;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get connected(): boolean {
    return this.#connected;
  }

  get etag(): string {
    return this.#etag;
  }

  /** Transport attributes for the SDP answer. */
  answerTransport(): AnswerTransport {
    const { iceParameters, iceCandidates, dtlsParameters } = this.transport;
    const fingerprint =
      dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256') ??
      dtlsParameters.fingerprints[0];
    return {
      iceUfrag: iceParameters.usernameFragment,
      icePwd: iceParameters.password,
      candidates: iceCandidates.map((c) => ({
        foundation: c.foundation,
        priority: c.priority,
        ip: c.address,
        protocol: c.protocol,
        port: c.port,
        ...(c.tcpType ? { tcpType: c.tcpType } : {}),
      })),
      fingerprint: { algorithm: fingerprint.algorithm, value: fingerprint.value },
      setup: this.#setup,
    };
  }

  /**
   * Applies a trickle/restart PATCH (RFC 9725 §4.3). If-Match is required (428); it must be
   * the current ETag (412) or `*` (both quoted and unquoted forms, conformance I8). New ICE
   * credentials always mean an ICE restart (§4.3.3). mediasoup is ICE-lite, so trickled
   * client candidates need no processing: the client's checks reach us anyway.
   */
  async applyPatch(fragment: TrickleFragment, ifMatch: string | undefined): Promise<PatchResult> {
    if (ifMatch === undefined || ifMatch.trim() === '') {
      throw new PreconditionRequiredError('PATCH requires an If-Match header');
    }
    // A list of entity-tags matches if any member does (RFC 9110 §13.1.1).
    const tags = ifMatch.split(',').map((tag) => tag.trim());
    const wildcard = tags.some((tag) => tag === '*' || tag === '"*"');
    const matches = tags.some((tag) => tag === this.#etag || tag === this.#etag.slice(1, -1));
    if (!wildcard && !matches) {
      throw new PreconditionFailedError('If-Match does not match the session ETag');
    }
    const isRestart = fragment.iceUfrag !== undefined && fragment.iceUfrag !== this.#remoteUfrag;
    if (!isRestart) return { kind: 'trickle' };
    if (!fragment.icePwd) throw new ValidationError('ICE restart requires a=ice-pwd');
    await this.transport.restartIce();
    this.#remoteUfrag = fragment.iceUfrag!;
    this.#etag = newEtag();
    this.#log.info('ICE restarted');
    return { kind: 'restart', transport: this.answerTransport(), etag: this.#etag };
  }

  #watch(): void {
    const { transport } = this;
    this.#connectTimer = setTimeout(
      () => this.close('connect-timeout'),
      this.#session.connectTimeoutMs,
    );
    transport.on('dtlsstatechange', (state: ms.DtlsState) => {
      if (state === 'connected' && !this.#connected) {
        this.#connected = true;
        clearTimeout(this.#connectTimer);
        this.#lastActivityAt = Date.now();
        this.#startInactivityWatch();
        this.#log.info('connected');
        this.emit('connected', undefined);
      } else if (state === 'failed') {
        this.close('dtls-failed');
      } else if (state === 'closed') {
        this.close('dtls-closed');
      }
    });
    transport.on('icestatechange', (state: ms.IceState) => {
      if (state === 'disconnected') {
        clearTimeout(this.#disconnectTimer);
        this.#disconnectTimer = setTimeout(
          () => this.close('ice-disconnected'),
          this.#session.disconnectTimeoutMs,
        );
      } else if (state === 'connected' || state === 'completed') {
        clearTimeout(this.#disconnectTimer);
      }
    });
    transport.observer.on('close', () => this.close('router-closed'));
  }

  /**
   * mediasoup's ICE consent timeout (30 s) is slow to notice a client that vanishes without a
   * DTLS close_notify (killed process, unplugged cable), and a client may not do consent
   * checks at all (ICE-lite peers). Every client sends
   * something several times a second (media, RTCP, or STUN consent checks every few
   * seconds), so a transport that received no byte for `inactivityTimeoutMs` is dead.
   */
  #startInactivityWatch(): void {
    const interval = Math.max(
      250,
      Math.min(2000, Math.floor(this.#session.inactivityTimeoutMs / 3)),
    );
    const tick = async (): Promise<void> => {
      if (this.#closed) return;
      try {
        const [stats] = (await this.transport.getStats()) as { bytesReceived: number }[];
        if (stats && stats.bytesReceived !== this.#lastBytesReceived) {
          this.#lastBytesReceived = stats.bytesReceived;
          this.#lastActivityAt = Date.now();
        }
      } catch {
        return; // The transport closed under us; close() handles the rest.
      }
      if (Date.now() - this.#lastActivityAt >= this.#session.inactivityTimeoutMs) {
        this.close('inactive');
        return;
      }
      this.#inactivityTimer = setTimeout(() => void tick(), interval);
    };
    this.#inactivityTimer = setTimeout(() => void tick(), interval);
  }

  async getStats(): Promise<unknown[]> {
    return await this.transport.getStats();
  }

  /** Idempotent. Closes the transport (and so its producers/consumers) and tells the owner. */
  close(reason: CloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#disconnectTimer);
    clearTimeout(this.#inactivityTimer);
    if (!this.transport.closed) this.transport.close();
    this.#log.info({ reason }, 'transport closed');
    this.emit('closed', { reason });
    this.removeAllListeners();
  }
}
