/**
 * What the libdatachannel (`node-datachannel`) peers share: the offer/answer
 * exchange without candidates, sending packets on a track, answering the server's RTCP
 * feedback from a packet history, waiting for the connection, and local UDP sockets that
 * receive an encoder's RTP (libdatachannel's `media-sender` approach).
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import type { PeerConnection, Track } from 'node-datachannel';
import { InvalidStateError } from './errors.ts';
import { isRtcp, parseRtcpFeedback, rtpSsrc } from './rtp.ts';
import type { RtpHistory } from './RtpHistory.ts';
import { negotiate, stripCandidates, type Negotiated, type SignalingTarget } from './signaling.ts';
import { withTimeout } from './timing.ts';

/** Creates and sets the local offer (libdatachannel hands it over in a callback). */
export function localOffer(pc: PeerConnection, timeoutMs = 5000): Promise<string> {
  return withTimeout(
    new Promise<string>((resolve) => {
      pc.onLocalDescription((sdp) => resolve(sdp));
      pc.setLocalDescription();
    }),
    timeoutMs,
    'the local offer',
  );
}

/**
 * Creates the local offer, strips any candidates (no trickle, like OBS since 30.2), and
 * exchanges it for the answer. The answer is not applied: the caller first records the
 * session's location, so that it can DELETE the session if the answer turns out unusable.
 */
export async function exchangeOffer(
  pc: PeerConnection,
  target: SignalingTarget,
): Promise<Negotiated & { offerSdp: string }> {
  const offerSdp = stripCandidates(await localOffer(pc));
  return { ...(await negotiate(offerSdp, target)), offerSdp };
}

/** Sends one packet; false if the track is closed (the native call throws then). */
export function sendOnTrack(track: Track, packet: Buffer): boolean {
  try {
    return track.sendMessageBinary(packet);
  } catch {
    return false;
  }
}

/** The counters `answerRtcpFeedback` updates. */
export interface FeedbackCounters {
  nacksReceived: number;
  packetsRetransmitted: number;
  plisReceived: number;
  firsReceived: number;
}

/**
 * Handles RTCP from the server on a send-only track: NACKed packets are sent again from
 * `history` (plain retransmission, like libdatachannel's `RtcpNackResponder`); PLIs and FIRs
 * are only counted, since the encoders these peers drive make keyframes on their interval.
 */
export function answerRtcpFeedback(
  message: Buffer,
  track: Track,
  history: RtpHistory,
  counters: FeedbackCounters,
): void {
  if (!isRtcp(message)) return;
  for (const feedback of parseRtcpFeedback(message)) {
    if (feedback.type === 'pli') {
      counters.plisReceived++;
    } else if (feedback.type === 'fir') {
      counters.firsReceived++;
    } else {
      counters.nacksReceived++;
      for (const sequenceNumber of feedback.sequenceNumbers) {
        const packet = history.get(feedback.mediaSsrc, sequenceNumber);
        if (packet && rtpSsrc(packet) === feedback.mediaSsrc && sendOnTrack(track, packet)) {
          counters.packetsRetransmitted++;
        }
      }
    }
  }
}

/**
 * libdatachannel's peer connection state (new, connecting, connected, disconnected, failed,
 * closed), with waits on it that end when the owner closes.
 */
export class PeerStateWatch {
  readonly #what: string;
  readonly #waiters = new Set<() => void>();
  #state = 'new';
  #ended = false;

  /** `what` names the peer in errors, e.g. "OBS-like publisher". */
  constructor(what: string) {
    this.#what = what;
  }

  get state(): string {
    return this.#state;
  }

  set(state: string): void {
    this.#state = state;
    this.#notify();
  }

  /** The owner is closing: pending and later waits reject. */
  end(): void {
    this.#ended = true;
    this.#notify();
  }

  /** Resolves once connected; rejects on failure, close or timeout. */
  async waitConnected(timeoutMs: number): Promise<void> {
    let waiter: (() => void) | undefined;
    try {
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          waiter = () => {
            if (this.#state === 'connected') resolve();
            else if (this.#state === 'failed' || this.#state === 'closed' || this.#ended) {
              reject(new InvalidStateError(`The ${this.#what} connection is ${this.#state}`));
            }
          };
          this.#waiters.add(waiter);
          waiter();
        }),
        timeoutMs,
        `the ${this.#what} to connect`,
      );
    } finally {
      if (waiter) this.#waiters.delete(waiter);
    }
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

/** A UDP socket on 127.0.0.1 with a free port, for an encoder to send RTP to. */
export async function bindUdp(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      // A receive-only socket on loopback should never error; if it does, the packets stop
      // and the counters show it, but the process must not die of an unhandled event.
      socket.on('error', () => undefined);
      resolve();
    });
  });
  return socket;
}

/** Random [0-9A-Za-z] characters, as OBS makes its media stream ids and CNAMEs. */
export function randomAlphanumeric(length: number): string {
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  return Array.from(randomBytes(length), (byte) => alphabet[byte % alphabet.length]).join('');
}
