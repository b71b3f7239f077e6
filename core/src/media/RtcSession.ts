/**
 * What a WHIP session and a WHEP session have in common: an id, the stream, the client's
 * PeerTransport, the SDP answer, the answered mids (for ICE-restart fragments), and an
 * idempotent close that follows the transport's and tells the owner.
 */
import { TypedEmitter } from '../events.ts';
import type { CloseReason, PeerTransport } from './PeerTransport.ts';

export interface SessionMid {
  mid: string;
  kind: string;
  protocol: string;
}

export interface RtcSessionEvents extends Record<string, unknown> {
  closed: { reason: CloseReason };
}

export interface RtcSessionOptions {
  id: string;
  streamId: string;
  peer: PeerTransport;
  answer: string;
  mids: SessionMid[];
}

export abstract class RtcSession extends TypedEmitter<RtcSessionEvents> {
  readonly id: string;
  readonly streamId: string;
  readonly peer: PeerTransport;
  readonly answer: string;
  readonly mids: SessionMid[];
  readonly createdAt = Date.now();
  #closed = false;

  protected constructor(options: RtcSessionOptions) {
    super();
    this.id = options.id;
    this.streamId = options.streamId;
    this.peer = options.peer;
    this.answer = options.answer;
    this.mids = options.mids;
    this.peer.on('closed', ({ reason }) => this.close(reason));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Idempotent: closes the transport (and with it producers/consumers), then tells the owner. */
  close(reason: CloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    this.peer.close(reason);
    this.emit('closed', { reason });
    this.removeAllListeners();
  }
}
