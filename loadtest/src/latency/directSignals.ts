/**
 * Connects a WrtcPublisher straight to a WrtcViewer, with no server in between: the floor the
 * latency of every server path is compared with.
 *
 * Both peers are WHIP/WHEP clients, so both make the offer. Each one's offer is handed to the
 * other as if it were the answer, rewritten where an answer must differ from an offer: a
 * definite DTLS role (`a=setup:passive` to the publisher, `a=setup:active` to the viewer, so
 * the publisher is the DTLS client and the viewer the server) and, towards the publisher, only
 * the codecs the publisher offered. Both ICE agents then start as controlling; ICE resolves
 * that role conflict by its tie-breaker (RFC 8445 section 7.3.1.1), as libwebrtc implements.
 */
import sdpTransform from 'sdp-transform';
import { withTimeout } from '../peers/timing.ts';
import type { SignalFn } from '../peers/signaling.ts';

export interface DirectSignals {
  /** Give to `WrtcPublisher.start({ signal })`. */
  publisherSignal: SignalFn;
  /** Give to `WrtcViewer.start({ signal })`. */
  viewerSignal: SignalFn;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * Two signal functions that exchange the publisher's and the viewer's offers. Start both peers
 * concurrently: each `signal` waits (at most `timeoutMs`) for the other peer's offer.
 */
export function directSignals(timeoutMs = 5000): DirectSignals {
  const publisherOffer = deferred<string>();
  const viewerOffer = deferred<string>();
  return {
    publisherSignal: async (offerSdp) => {
      publisherOffer.resolve(offerSdp);
      const other = await withTimeout(viewerOffer.promise, timeoutMs, "the direct viewer's offer");
      return offerAsAnswer(other, 'passive', offerSdp);
    },
    viewerSignal: async (offerSdp) => {
      viewerOffer.resolve(offerSdp);
      const other = await withTimeout(
        publisherOffer.promise,
        timeoutMs,
        "the direct publisher's offer",
      );
      return offerAsAnswer(other, 'active', offerSdp);
    },
  };
}

/**
 * Rewrites `offerSdp` into an answer to `peerOfferSdp`: the DTLS role is fixed to `setup`, and
 * each m-line keeps only the payload types the peer offered with the same codec.
 */
export function offerAsAnswer(
  offerSdp: string,
  setup: 'active' | 'passive',
  peerOfferSdp: string,
): string {
  const session = sdpTransform.parse(offerSdp);
  const peer = sdpTransform.parse(peerOfferSdp);
  if (session.media.length !== peer.media.length) {
    throw new TypeError(
      `The direct peers offered ${session.media.length} and ${peer.media.length} m-lines; ` +
        'give publisher and viewer the same audio/video options',
    );
  }
  session.media.forEach((media, index) => {
    const peerMedia = peer.media[index];
    if (media.type !== peerMedia.type || String(media.mid) !== String(peerMedia.mid)) {
      throw new TypeError(
        `m-line ${index} is ${media.type} mid ${media.mid} on one side and ` +
          `${peerMedia.type} mid ${peerMedia.mid} on the other`,
      );
    }
    const peerCodecs = new Map(peerMedia.rtp.map((r) => [r.payload, r.codec.toLowerCase()]));
    const keep = new Set(
      media.rtp
        .filter((r) => peerCodecs.get(r.payload) === r.codec.toLowerCase())
        .map((r) => r.payload),
    );
    if (keep.size === 0) {
      throw new TypeError(`The direct peers share no payload type on the ${media.type} m-line`);
    }
    media.rtp = media.rtp.filter((r) => keep.has(r.payload));
    media.fmtp = media.fmtp.filter((f) => keep.has(f.payload));
    media.rtcpFb = media.rtcpFb?.filter((f) => f.payload === '*' || keep.has(Number(f.payload)));
    media.payloads = [...keep].join(' ');
    media.setup = setup;
  });
  return sdpTransform.write(session);
}
