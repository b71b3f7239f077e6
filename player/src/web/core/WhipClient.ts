/**
 * A WHIP publisher session (RFC 9725): one sendonly transceiver per local track, negotiated with
 * a single POST carrying the stream key as bearer token, ended with an authenticated DELETE.
 */
import {
  createPeerConnection,
  deleteResource,
  fetchIceServers,
  postOffer,
  useSessionIceServers,
  waitForIceGathering,
} from './signaling.ts';

export interface WhipClientOptions {
  /** The WHIP endpoint, `{PUBLIC_URL}/whip` for every stream. */
  endpoint: string;
  /** The stream key; it is the bearer token of the POST and of the DELETE. */
  streamKey: string;
  /** The local media to send; its tracks are not stopped when the session closes. */
  stream: MediaStream;
  /** ICE servers to use instead of those the endpoint's OPTIONS `Link` headers give. */
  iceServers?: RTCIceServer[];
  /** How long to wait for ICE gathering before sending the offer anyway. Default 1000 ms. */
  iceGatheringTimeoutMs?: number;
  /** Video encodings, low to high (simulcast with `rid`s), or one with a `maxBitrate`. */
  videoEncodings?: RTCRtpEncodingParameters[];
  signal?: AbortSignal;
}

export class WhipClient {
  readonly pc: RTCPeerConnection;
  readonly resourceUrl: string;
  readonly #streamKey: string;
  #closed = false;

  private constructor(pc: RTCPeerConnection, resourceUrl: string, streamKey: string) {
    this.pc = pc;
    this.resourceUrl = resourceUrl;
    this.#streamKey = streamKey;
  }

  /** Negotiates a session. Throws `SignalingError` for HTTP failures (401 = key refused). */
  static async publish(options: WhipClientOptions): Promise<WhipClient> {
    // Asked anew for every session: TURN credentials are per session and time-limited, and
    // only a valid stream key earns them. The offer is made meanwhile (see WhepClient).
    const servers =
      options.iceServers ??
      fetchIceServers(options.endpoint, {
        token: options.streamKey,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    const pc = createPeerConnection([]);
    let resourceUrl: string | undefined;
    try {
      // Audio first, then video: the m-line order most WHIP servers and OBS use.
      const tracks = [...options.stream.getAudioTracks(), ...options.stream.getVideoTracks()];
      if (tracks.length === 0) throw new TypeError('the stream to publish has no tracks');
      for (const track of tracks) {
        pc.addTransceiver(track, {
          direction: 'sendonly',
          streams: [options.stream],
          ...(track.kind === 'video' && options.videoEncodings
            ? { sendEncodings: options.videoEncodings }
            : {}),
        });
      }
      const [offer, iceServers] = await Promise.all([pc.createOffer(), servers]);
      useSessionIceServers(pc, iceServers);
      await pc.setLocalDescription(offer);
      // All candidates (no trickle here): a publisher's start is not as pressing as a viewer's.
      await waitForIceGathering(pc, options.iceGatheringTimeoutMs ?? 1000);
      options.signal?.throwIfAborted();
      const result = await postOffer(options.endpoint, pc.localDescription!.sdp, {
        token: options.streamKey,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      resourceUrl = result.resourceUrl;
      options.signal?.throwIfAborted();
      await pc.setRemoteDescription({ type: 'answer', sdp: result.answer });
      useSessionIceServers(pc, result.iceServers);
      return new WhipClient(pc, resourceUrl, options.streamKey);
    } catch (error) {
      pc.close();
      if (resourceUrl) await deleteResource(resourceUrl, { token: options.streamKey });
      throw error;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The sender of the local track of `kind`, for replaceTrack and bitrate changes. */
  sender(kind: 'audio' | 'video'): RTCRtpSender | undefined {
    return this.pc.getSenders().find((sender) => sender.track?.kind === kind);
  }

  /** Ends the session: closes the PeerConnection and DELETEs the session URL. Idempotent. */
  async close(options: { keepalive?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // DELETE before closing the PeerConnection: closing first sends a DTLS close_notify, the
    // server ends the session on it, and the DELETE that follows would find nothing (404).
    const deleting = deleteResource(this.resourceUrl, {
      token: this.#streamKey,
      keepalive: options.keepalive ?? false,
    });
    // A page that is going away cannot wait for the answer.
    if (!options.keepalive) await deleting;
    this.pc.close();
    await deleting;
  }
}
