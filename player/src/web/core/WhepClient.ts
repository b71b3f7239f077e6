/**
 * A WHEP viewer session (draft-ietf-wish-whep): one recvonly PeerConnection with an audio and a
 * video transceiver, negotiated with one POST (redirects followed by `postOffer`), candidates
 * gathered after the offer trickled with PATCH + `If-Match` ETag, an ICE restart PATCH when
 * the network changes, simulcast layer selection when the server links a layer URL, the
 * server-sent events extension when it links one, and a DELETE of the session URL at the end.
 */
import { warn } from './log.ts';
import {
  createPeerConnection,
  deleteResource,
  fetchIceServers,
  findLink,
  patchSession,
  postOffer,
  SignalingError,
  useSessionIceServers,
  waitForIceGathering,
} from './signaling.ts';
import type { ParsedLink } from './signaling.ts';
import { applyIceRestartAnswer, iceRestartFragment, trickleFragment } from './sdpFragment.ts';
import { EVENTS_REL, subscribeEvents } from './whepEvents.ts';

/** WHEP layer extension (wish-wg webrtc-http-egress-events): select simulcast layers. */
export const LAYER_REL = 'urn:ietf:params:whep:ext:core:layer';

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

/** One simulcast/SVC video of the session, as the server's layer URL describes it. */
export interface MediaLayers {
  mediaId: string;
  spatialLayers: number;
  temporalLayers: number;
  /** True when the server picks the layer (bandwidth estimation). */
  auto: boolean;
  preferred: { spatialLayerId: number; temporalLayerId: number } | null;
  /** What the server sends right now (null while it sends nothing). */
  current: { spatialLayerId: number; temporalLayerId: number } | null;
}

export type LayerChoice = 'auto' | { spatialLayerId: number; temporalLayerId?: number };

export class WhepClient {
  readonly pc: RTCPeerConnection;
  /** The received tracks, ready for `video.srcObject`. */
  readonly stream: MediaStream;
  /** The absolute session URL from the server's `Location`. */
  readonly resourceUrl: string;
  /** The layer-selection URL the server linked, if any. */
  readonly layerUrl: string | undefined;
  /** The server-sent events extension's URL and the events it offers, if linked. */
  readonly eventsUrl: string | undefined;
  readonly events: string[];
  readonly #token: string | undefined;
  readonly #abort = new AbortController();
  readonly #gatheringTimeoutMs: number;
  #etag: string | undefined;
  #closed = false;
  #restarting: Promise<void> | undefined;
  #pendingCandidates: string[] = [];
  #endOfCandidates = false;
  #trickleTimer: ReturnType<typeof setTimeout> | undefined;

  private constructor(parts: {
    pc: RTCPeerConnection;
    stream: MediaStream;
    resourceUrl: string;
    etag: string | undefined;
    layerUrl: string | undefined;
    eventsLink: ParsedLink | undefined;
    token: string | undefined;
    gatheringTimeoutMs: number;
  }) {
    this.pc = parts.pc;
    this.stream = parts.stream;
    this.resourceUrl = parts.resourceUrl;
    this.#etag = parts.etag;
    this.layerUrl = parts.layerUrl;
    this.eventsUrl = parts.eventsLink?.uri;
    this.events = (parts.eventsLink?.params.get('events') ?? '').split(',').map((e) => e.trim());
    this.#token = parts.token;
    this.#gatheringTimeoutMs = parts.gatheringTimeoutMs;
  }

  /** Negotiates a session. Throws `SignalingError` for HTTP failures (409 = not live yet). */
  static async connect(options: WhepClientOptions): Promise<WhepClient> {
    // Asked anew for every session: TURN credentials are per session and time-limited. The
    // peer connection and its offer are made meanwhile; gathering starts only with
    // setLocalDescription, after the servers are in the configuration.
    const servers =
      options.iceServers ??
      fetchIceServers(options.endpoint, {
        ...(options.token ? { token: options.token } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    const pc = createPeerConnection([]);
    const gatheringTimeoutMs = options.iceGatheringTimeoutMs ?? 1000;
    let resourceUrl: string | undefined;
    // Candidates found after the offer left are trickled once the session exists.
    const late: string[] = [];
    let lateEnd = false;
    let offerSent = false;
    let lite = false;
    let client: WhepClient | undefined;
    pc.addEventListener('icecandidate', ({ candidate }) => {
      if (!offerSent || lite) return;
      if (client) client.#queueCandidate(candidate);
      else if (candidate?.candidate) late.push(candidate.candidate);
      else if (!candidate) lateEnd = true;
    });
    try {
      const audio = pc.addTransceiver('audio', { direction: 'recvonly' });
      const video = pc.addTransceiver('video', { direction: 'recvonly' });
      // The receivers' tracks exist before negotiation, so the stream is complete up front and
      // nobody has to wait for `track` events.
      const stream = new MediaStream([audio.receiver.track, video.receiver.track]);
      const [offer, iceServers] = await Promise.all([pc.createOffer(), servers]);
      useSessionIceServers(pc, iceServers);
      await pc.setLocalDescription(offer);
      await waitForIceGathering(pc, gatheringTimeoutMs, { firstCandidate: true });
      options.signal?.throwIfAborted();
      offerSent = true;
      const result = await postOffer(options.endpoint, pc.localDescription!.sdp, {
        ...(options.token ? { token: options.token } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      resourceUrl = result.resourceUrl;
      options.signal?.throwIfAborted();
      await pc.setRemoteDescription({ type: 'answer', sdp: result.answer });
      useSessionIceServers(pc, result.iceServers);
      // An ICE-lite server (wisp's SFU) only answers checks: our candidates are of no use to
      // it, so none are trickled.
      lite = /^a=ice-lite/m.test(result.answer);
      client = new WhepClient({
        pc,
        stream,
        resourceUrl,
        etag: result.etag,
        layerUrl: findLink(result.links, LAYER_REL),
        eventsLink: result.links.find((link) => link.rel.includes(EVENTS_REL)),
        token: options.token,
        gatheringTimeoutMs,
      });
      if (!lite) {
        for (const candidate of late) client.#queueCandidate({ candidate } as RTCIceCandidate);
        if (lateEnd) client.#queueCandidate(null);
      }
      return client;
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

  /** The session's current ETag (changes with every ICE restart). */
  get etag(): string | undefined {
    return this.#etag;
  }

  /** Batches trickled candidates into one PATCH (RFC 9725 §4.3.1). */
  #queueCandidate(candidate: RTCIceCandidate | null): void {
    if (this.#closed) return;
    if (candidate?.candidate) this.#pendingCandidates.push(candidate.candidate);
    else if (!candidate) this.#endOfCandidates = true;
    else return;
    this.#trickleTimer ??= setTimeout(() => {
      this.#trickleTimer = undefined;
      void this.#sendCandidates();
    }, 50);
  }

  async #sendCandidates(): Promise<void> {
    const candidates = this.#pendingCandidates.splice(0);
    const end = this.#endOfCandidates;
    // A lone end-of-candidates is not worth a request per viewer.
    if (this.#closed || candidates.length === 0 || this.#restarting) return;
    const sdp = this.pc.localDescription?.sdp ?? '';
    try {
      await patchSession(this.resourceUrl, trickleFragment(sdp, candidates, end), {
        ...(this.#etag ? { etag: this.#etag } : {}),
        ...(this.#token ? { token: this.#token } : {}),
      });
    } catch (error) {
      // The server is ICE-lite and learns our addresses from the checks themselves, so a
      // refused trickle costs nothing.
      warn('trickle PATCH failed', error);
    }
  }

  /**
   * ICE restart (RFC 9725 §4.3.2): new local credentials, sent with a PATCH that carries the
   * session's ETag; the server's new credentials and candidates replace the old ones. Throws
   * `SignalingError` (412: the ETag no longer matches) when the session must be replaced.
   */
  restartIce(): Promise<void> {
    this.#restarting ??= this.#restartIce().finally(() => {
      this.#restarting = undefined;
    });
    return this.#restarting;
  }

  async #restartIce(): Promise<void> {
    if (this.#closed) throw new SignalingError('the session is closed', 0);
    this.pc.restartIce();
    await this.pc.setLocalDescription(await this.pc.createOffer({ iceRestart: true }));
    await waitForIceGathering(this.pc, this.#gatheringTimeoutMs);
    const result = await patchSession(
      this.resourceUrl,
      iceRestartFragment(this.pc.localDescription!.sdp),
      {
        ...(this.#etag ? { etag: this.#etag } : {}),
        ...(this.#token ? { token: this.#token } : {}),
      },
    );
    if (result.status !== 200 || !result.body.trim()) {
      throw new SignalingError('the server did not answer the ICE restart', result.status);
    }
    if (this.#closed) return;
    this.#etag = result.etag ?? this.#etag;
    const remote = this.pc.remoteDescription?.sdp ?? '';
    await this.pc.setRemoteDescription({
      type: 'answer',
      sdp: applyIceRestartAnswer(remote, result.body),
    });
  }

  /** The simulcast layers of the session (empty when the server offers no selection). */
  async layers(): Promise<MediaLayers[]> {
    if (!this.layerUrl || this.#closed) return [];
    const response = await fetch(this.layerUrl, { cache: 'no-store', headers: this.#auth() });
    if (!response.ok) throw new SignalingError(`layer query: HTTP ${response.status}`, 0);
    const body = (await response.json()) as { media?: MediaLayers[] };
    return body.media ?? [];
  }

  /**
   * Caps the video at a spatial layer, or returns it to the server's choice (`'auto'`): the
   * draft's POST of `{mediaId, spatialLayerId, temporalLayerId}`, `{mediaId}` alone for auto.
   */
  async selectLayer(mediaId: string, choice: LayerChoice): Promise<void> {
    if (!this.layerUrl) throw new SignalingError('the server offers no layer selection', 0);
    const body =
      choice === 'auto'
        ? { mediaId }
        : {
            mediaId,
            spatialLayerId: choice.spatialLayerId,
            ...(choice.temporalLayerId !== undefined
              ? { temporalLayerId: choice.temporalLayerId }
              : {}),
          };
    const response = await fetch(this.layerUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...this.#auth() },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      throw new SignalingError(`layer selection refused: HTTP ${response.status}`, response.status);
    }
  }

  /**
   * Subscribes to those of `wanted` the server offers (WHEP events extension); the stream is
   * read until the session closes. False when the server offers none of them.
   */
  async subscribe(
    wanted: string[],
    onEvent: (event: string, data: Record<string, unknown>) => void,
  ): Promise<boolean> {
    const events = wanted.filter((event) => this.events.includes(event));
    if (!this.eventsUrl || events.length === 0 || this.#closed) return false;
    await subscribeEvents(this.eventsUrl, events, onEvent, this.#abort.signal);
    return true;
  }

  #auth(): Record<string, string> {
    return this.#token ? { Authorization: `Bearer ${this.#token}` } : {};
  }

  /**
   * Ends the session: closes the PeerConnection and DELETEs the session URL. Idempotent. Pass
   * `keepalive` from a pagehide handler so the DELETE survives the page.
   */
  async close(options: { keepalive?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    clearTimeout(this.#trickleTimer);
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
