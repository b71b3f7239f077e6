/**
 * A WHEP viewer session (draft-ietf-wish-whep): one recvonly PeerConnection with an audio and a
 * video transceiver, negotiated with a single POST, ended with a DELETE of the session URL.
 */
import type { PlaybackStats } from './types.ts';
import {
  createPeerConnection,
  deleteResource,
  fetchIceServers,
  postOffer,
  useSessionIceServers,
  waitForIceGathering,
} from './signaling.ts';

export interface WhepClientOptions {
  /** The WHEP endpoint, e.g. `https://example.com/whep/<id>`. */
  endpoint: string;
  /** Bearer token for private streams; public streams need none. */
  token?: string;
  /** ICE servers to use instead of those the endpoint's OPTIONS `Link` headers give. */
  iceServers?: RTCIceServer[];
  /** How long to wait for ICE gathering before sending the offer anyway. Default 1000 ms. */
  iceGatheringTimeoutMs?: number;
  /** Aborts the connect; the PeerConnection is closed and any created session deleted. */
  signal?: AbortSignal;
}

export class WhepClient {
  readonly pc: RTCPeerConnection;
  /** The received tracks, ready for `video.srcObject`. */
  readonly stream: MediaStream;
  /** The absolute session URL from the server's `Location`. */
  readonly resourceUrl: string;
  readonly #token: string | undefined;
  #closed = false;

  private constructor(
    pc: RTCPeerConnection,
    stream: MediaStream,
    resourceUrl: string,
    token?: string,
  ) {
    this.pc = pc;
    this.stream = stream;
    this.resourceUrl = resourceUrl;
    this.#token = token;
  }

  /** Negotiates a session. Throws `SignalingError` for HTTP failures (409 = not live yet). */
  static async connect(options: WhepClientOptions): Promise<WhepClient> {
    // Asked anew for every session: TURN credentials are per session and time-limited.
    const iceServers =
      options.iceServers ??
      (await fetchIceServers(options.endpoint, {
        ...(options.token ? { token: options.token } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      }));
    const pc = createPeerConnection(iceServers);
    let resourceUrl: string | undefined;
    try {
      const audio = pc.addTransceiver('audio', { direction: 'recvonly' });
      const video = pc.addTransceiver('video', { direction: 'recvonly' });
      // The receivers' tracks exist before negotiation, so the stream is complete up front and
      // nobody has to wait for `track` events.
      const stream = new MediaStream([audio.receiver.track, video.receiver.track]);
      await pc.setLocalDescription(await pc.createOffer());
      await waitForIceGathering(pc, options.iceGatheringTimeoutMs ?? 1000);
      options.signal?.throwIfAborted();
      const result = await postOffer(options.endpoint, pc.localDescription!.sdp, {
        ...(options.token ? { token: options.token } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      resourceUrl = result.resourceUrl;
      options.signal?.throwIfAborted();
      await pc.setRemoteDescription({ type: 'answer', sdp: result.answer });
      useSessionIceServers(pc, result.iceServers);
      return new WhepClient(pc, stream, resourceUrl, options.token);
    } catch (error) {
      pc.close();
      if (resourceUrl) {
        await deleteResource(resourceUrl, options.token ? { token: options.token } : {});
      }
      throw error;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Counters of the inbound RTP streams, summed over audio and video. */
  async stats(): Promise<PlaybackStats> {
    const result: PlaybackStats = {
      framesDecoded: 0,
      bytesReceived: 0,
      packetsLost: 0,
      frameWidth: 0,
      frameHeight: 0,
    };
    if (this.#closed) return result;
    const report = await this.pc.getStats();
    report.forEach((entry: RTCStats) => {
      if (entry.type !== 'inbound-rtp') return;
      const inbound = entry as RTCInboundRtpStreamStats;
      result.bytesReceived += inbound.bytesReceived ?? 0;
      result.packetsLost += inbound.packetsLost ?? 0;
      if (inbound.kind === 'video') {
        result.framesDecoded += inbound.framesDecoded ?? 0;
        result.frameWidth = inbound.frameWidth ?? result.frameWidth;
        result.frameHeight = inbound.frameHeight ?? result.frameHeight;
      }
    });
    return result;
  }

  /**
   * Ends the session: closes the PeerConnection and DELETEs the session URL. Idempotent. Pass
   * `keepalive` from a pagehide handler so the DELETE survives the page.
   */
  async close(options: { keepalive?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // DELETE before closing the PeerConnection: closing first sends a DTLS close_notify, the
    // server ends the session on it, and the DELETE that follows would find nothing (404).
    const deleting = deleteResource(this.resourceUrl, {
      ...(this.#token ? { token: this.#token } : {}),
      keepalive: options.keepalive ?? false,
    });
    // A page that is going away cannot wait for the answer.
    if (!options.keepalive) await deleting;
    this.pc.close();
    await deleting;
  }
}
