/**
 * A WHEP viewer on libwebrtc (`@roamhq/wrtc`) that really decodes: video frames arrive raw
 * through `nonstandard.RTCVideoSink`, audio through `RTCAudioSink`, so a test can assert that
 * pictures and sound come out, not just packets. libwebrtc here decodes VP8, VP9 and AV1 but
 * not H.264.
 */
import { createLogger, type Logger } from '@wisp/core';
import { PeerTimeoutError } from './errors.ts';
import { negotiate, type SignalFn } from './signaling.ts';
import { waitUntil } from './timing.ts';
import { findEventsLink, WhepEventStream, type WhepEvent } from './whepEvents.ts';
import { deleteSessionQuietly } from './whipClient.ts';
import {
  RTCPeerConnection,
  localSdp,
  nonstandard,
  waitForConnected,
  waitForIceGathering,
  type I420Frame,
  type RTCAudioData,
} from './wrtc.ts';

export interface WrtcViewerOptions {
  /** The WHEP endpoint. Required unless `signal` is given. */
  whepUrl?: string;
  /**
   * Where the first session is POSTed instead of `whepUrl` (e.g. one chosen edge); later
   * sessions of `follow` go to `whepUrl`.
   */
  startUrl?: string;
  /** Sent as `Authorization: Bearer` on POST and DELETE if set. */
  token?: string;
  /** Replaces the HTTP exchange (in-process tests). No DELETE is sent then. */
  signal?: SignalFn;
  /** Offer a recvonly audio transceiver. Default true. */
  audio?: boolean;
  /** Offer a recvonly video transceiver. Default true. */
  video?: boolean;
  /** Called with every decoded frame (e.g. by a latency probe that reads a stamped time). */
  onFrame?: (frame: I420Frame, receivedAt: number) => void;
  /** STUN/TURN servers of the peer connection, e.g. from the WHEP `Link` headers. Default none. */
  iceServers?: RTCIceServer[];
  /** `relay` gathers and uses TURN relay candidates only (a viewer behind a strict firewall). */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** How long to wait for ICE gathering before sending the offer. Default 2000 ms. */
  iceGatheringTimeoutMs?: number;
  /** HTTP timeout of POST and DELETE. Default 8000 ms. */
  httpTimeoutMs?: number;
  /**
   * Follow `reconnect` events make-before-break, and start a new session when the server
   * ends this one. Needs `whepUrl`. Default off.
   */
  follow?: boolean | FollowOptions;
}

export interface FollowOptions {
  /** Subscribe to `reconnect` when the edge offers the events extension. Default true. */
  reconnect?: boolean;
  /** POST `whepUrl` again when the session ends by the server's doing. Default true. */
  rePost?: boolean;
  /** No decoded frame for this long (after the first) counts as the session ended. Default 2000 ms. */
  stallMs?: number;
  /** How long a new session may take to decode its first frame. Default 10000 ms. */
  firstFrameTimeoutMs?: number;
}

/** One move from a session to another. */
export interface ViewerMove {
  kind: 'reconnect' | 'repost';
  /** The session left and the one it moved to. */
  from: string | undefined;
  to: string | undefined;
  /** `performance.now()` of the `reconnect` event, or of noticing the session had ended. */
  startedAt: number;
  /** From `startedAt` to the new session's first decoded frame. */
  backMs: number;
  /**
   * The time without a decoded frame at the switch: from the last frame of the old session to
   * the first of the new one (make-before-break: about one frame interval).
   */
  gapMs: number;
}

export interface WrtcViewerStats {
  framesDecoded: number;
  /** Size of the last decoded frame (0 before the first). */
  width: number;
  height: number;
  /** Milliseconds from `start()` to the first decoded frame. */
  timeToFirstFrameMs: number | undefined;
  /** Decoded audio samples per channel, and the number of sink callbacks. */
  audioSamples: number;
  audioChunks: number;
  timeToFirstAudioMs: number | undefined;
  connectionState: RTCPeerConnectionState;
}

/** libwebrtc's `inbound-rtp` counters for one kind (what `getStats()` reports). */
export interface WrtcInboundRtpStats {
  packetsReceived: number;
  bytesReceived: number;
  packetsLost: number;
  framesReceived: number | undefined;
  framesDecoded: number | undefined;
  keyFramesDecoded: number | undefined;
  pliCount: number | undefined;
  nackCount: number | undefined;
}

/** Sessions a `follow` viewer tries for one move before it gives up. */
const MOVE_ATTEMPTS = 20;

/** One WHEP session of the viewer: its peer connection, sinks and event stream. */
interface Leg {
  pc: RTCPeerConnection;
  sinks: { stop(): void }[];
  location: string | undefined;
  offerSdp: string;
  answerSdp: string;
  /** The 201's headers, names lower-cased. */
  headers: Record<string, string>;
  events: WhepEventStream | undefined;
  frames: number;
  firstFrameAt: number | undefined;
  lastFrameAt: number | undefined;
  /** Set when the leg is being replaced or closed: its frames no longer count. */
  retired: boolean;
  /** When it took over: the time since the viewer's previous decoded frame. */
  switchGapMs: number | undefined;
}

export class WrtcViewer {
  readonly #options: WrtcViewerOptions;
  readonly #follow: Required<FollowOptions> | undefined;
  readonly #logger: Logger;
  readonly #startedAt = performance.now();
  /** The session whose frames count. */
  #leg: Leg;
  /** A session being made to replace it (make-before-break). */
  #next: Leg | undefined;
  #moving = false;
  #gaveUp = false;
  #framesDecoded = 0;
  #width = 0;
  #height = 0;
  #firstFrameAt: number | undefined;
  #lastFrameAt: number | undefined;
  #longestGapMs = 0;
  #audioSamples = 0;
  #audioChunks = 0;
  #firstAudioAt: number | undefined;
  #stallTimer: NodeJS.Timeout | undefined;
  readonly #moves: ViewerMove[] = [];
  #closing: Promise<void> | undefined;

  /** Offers recvonly audio+video, POSTs to the WHEP endpoint and sets the answer. */
  static async start(options: WrtcViewerOptions): Promise<WrtcViewer> {
    const viewer = new WrtcViewer(options);
    try {
      await viewer.#negotiate(viewer.#leg, options.startUrl ?? options.whepUrl);
    } catch (error) {
      // After a 201 whose answer could not be applied, the server holds a session: DELETE it.
      await viewer.#teardown(true).catch(() => undefined);
      throw error;
    }
    viewer.#watch();
    return viewer;
  }

  private constructor(options: WrtcViewerOptions) {
    if (!options.whepUrl && !options.signal) {
      throw new TypeError('WrtcViewer needs a whepUrl or a signal function');
    }
    if (options.audio === false && options.video === false) {
      throw new TypeError('WrtcViewer needs audio, video or both');
    }
    if (options.follow && !options.whepUrl) throw new TypeError('follow needs a whepUrl');
    this.#options = options;
    const follow = options.follow === true ? {} : options.follow || undefined;
    this.#follow = follow && {
      reconnect: follow.reconnect ?? true,
      rePost: follow.rePost ?? true,
      stallMs: follow.stallMs ?? 2000,
      firstFrameTimeoutMs: follow.firstFrameTimeoutMs ?? 10_000,
    };
    this.#logger = createLogger('WrtcViewer', { whepUrl: options.whepUrl });
    this.#leg = this.#newLeg();
  }

  #newLeg(): Leg {
    const options = this.#options;
    const pc = new RTCPeerConnection({
      iceServers: options.iceServers ?? [],
      iceTransportPolicy: options.iceTransportPolicy ?? 'all',
    });
    const leg: Leg = {
      pc,
      sinks: [],
      location: undefined,
      offerSdp: '',
      answerSdp: '',
      headers: {},
      events: undefined,
      frames: 0,
      firstFrameAt: undefined,
      lastFrameAt: undefined,
      retired: false,
      switchGapMs: undefined,
    };
    if (options.audio !== false) pc.addTransceiver('audio', { direction: 'recvonly' });
    if (options.video !== false) pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addEventListener('track', (event) => this.#onTrack(leg, event.track));
    return leg;
  }

  get location(): string | undefined {
    return this.#leg.location;
  }

  get offerSdp(): string {
    return this.#leg.offerSdp;
  }

  get answerSdp(): string {
    return this.#leg.answerSdp;
  }

  /** The headers of the current session's 201 (names lower-cased). */
  get responseHeaders(): Readonly<Record<string, string>> {
    return this.#leg.headers;
  }

  get connectionState(): RTCPeerConnectionState {
    return this.#leg.pc.connectionState;
  }

  /** The moves so far (`follow`). */
  get moves(): readonly ViewerMove[] {
    return this.#moves;
  }

  /** The longest time between two decoded frames since the first (or since the last reset). */
  get longestFrameGapMs(): number {
    const now = performance.now();
    const current = this.#lastFrameAt === undefined ? 0 : now - this.#lastFrameAt;
    return Math.max(this.#longestGapMs, this.#closing ? 0 : current);
  }

  resetLongestFrameGap(): void {
    this.#longestGapMs = 0;
  }

  get framesDecoded(): number {
    return this.#framesDecoded;
  }

  /** Milliseconds from `start()` to the first decoded video frame, once there is one. */
  get timeToFirstFrameMs(): number | undefined {
    return this.#firstFrameAt === undefined ? undefined : this.#firstFrameAt - this.#startedAt;
  }

  stats(): WrtcViewerStats {
    return {
      framesDecoded: this.#framesDecoded,
      width: this.#width,
      height: this.#height,
      timeToFirstFrameMs: this.timeToFirstFrameMs,
      audioSamples: this.#audioSamples,
      audioChunks: this.#audioChunks,
      timeToFirstAudioMs:
        this.#firstAudioAt === undefined ? undefined : this.#firstAudioAt - this.#startedAt,
      connectionState: this.#leg.pc.connectionState,
    };
  }

  async waitConnected(timeoutMs = 10_000): Promise<void> {
    await waitForConnected(this.#leg.pc, timeoutMs, 'the wrtc viewer to connect');
  }

  /**
   * Resolves once `n` frames in total have been decoded. On timeout the error says whether
   * video RTP arrived at all, which tells a forwarding problem from a decoding one.
   */
  async waitForFrames(n: number, timeoutMs = 10_000): Promise<void> {
    try {
      await waitUntil(
        () => this.#framesDecoded >= n || this.#closing !== undefined,
        timeoutMs,
        `${n} decoded frames`,
      );
    } catch (error) {
      if (!(error instanceof PeerTimeoutError)) throw error;
      const video = (await this.inboundRtpStats().catch(() => undefined))?.video;
      throw new PeerTimeoutError(
        `${n} decoded frames (got ${this.#framesDecoded}; libwebrtc counted ` +
          `${video?.packetsReceived ?? 'no'} video RTP packets, ` +
          `${video?.keyFramesDecoded ?? 0} keyframes decoded, ${video?.pliCount ?? 0} PLIs sent)`,
        timeoutMs,
      );
    }
    if (this.#framesDecoded < n) throw new Error('WrtcViewer closed while waiting for frames');
  }

  /** The `inbound-rtp` counters of the peer connection, per kind. */
  async inboundRtpStats(): Promise<Partial<Record<'audio' | 'video', WrtcInboundRtpStats>>> {
    const result: Partial<Record<'audio' | 'video', WrtcInboundRtpStats>> = {};
    const report = await this.#leg.pc.getStats();
    report.forEach((entry: Record<string, unknown>) => {
      if (entry.type !== 'inbound-rtp' || (entry.kind !== 'audio' && entry.kind !== 'video'))
        return;
      const number = (key: string): number | undefined =>
        typeof entry[key] === 'number' ? entry[key] : undefined;
      result[entry.kind] = {
        packetsReceived: number('packetsReceived') ?? 0,
        bytesReceived: number('bytesReceived') ?? 0,
        packetsLost: number('packetsLost') ?? 0,
        framesReceived: number('framesReceived'),
        framesDecoded: number('framesDecoded'),
        keyFramesDecoded: number('keyFramesDecoded'),
        pliCount: number('pliCount'),
        nackCount: number('nackCount'),
      };
    });
    return result;
  }

  /**
   * The candidate types (`host`, `srflx`, `prflx`, `relay`) of the pair the connection uses,
   * from `getStats()`; undefined before a pair is selected.
   */
  async selectedCandidateTypes(): Promise<{ local: string; remote: string } | undefined> {
    const entries = new Map<string, Record<string, unknown>>();
    (await this.#leg.pc.getStats()).forEach((entry: Record<string, unknown>) =>
      entries.set(entry.id as string, entry),
    );
    const transport = [...entries.values()].find((e) => e.type === 'transport');
    const pair = entries.get(transport?.selectedCandidatePairId as string);
    if (!pair) return undefined;
    const type = (id: unknown): string => String(entries.get(id as string)?.candidateType);
    return { local: type(pair.localCandidateId), remote: type(pair.remoteCandidateId) };
  }

  /** Resolves once `n` audio samples (per channel) have been decoded. */
  async waitForAudio(samples: number, timeoutMs = 10_000): Promise<void> {
    await waitUntil(
      () => this.#audioSamples >= samples || this.#closing !== undefined,
      timeoutMs,
      `${samples} decoded audio samples (got ${this.#audioSamples})`,
    );
    if (this.#audioSamples < samples) throw new Error('WrtcViewer closed while waiting for audio');
  }

  /** Stops the sinks, closes the peer connection and DELETEs the session. Idempotent. */
  close(options: { sendDelete?: boolean } = {}): Promise<void> {
    this.#closing ??= this.#teardown(options.sendDelete ?? true);
    return this.#closing;
  }

  async #negotiate(leg: Leg, url: string | undefined): Promise<void> {
    const pc = leg.pc;
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIceGathering(pc, this.#options.iceGatheringTimeoutMs ?? 2000);
    leg.offerSdp = localSdp(pc);
    const negotiated = await negotiate(leg.offerSdp, {
      url,
      token: this.#options.token,
      signal: this.#options.signal,
      timeoutMs: this.#options.httpTimeoutMs,
    });
    leg.location = negotiated.location;
    leg.answerSdp = negotiated.answerSdp;
    leg.headers = negotiated.headers;
    await pc.setRemoteDescription({ type: 'answer', sdp: negotiated.answerSdp });
    this.#logger.debug({ location: leg.location }, 'WHEP session created');
    if (this.#follow?.reconnect && leg.location) {
      const link = findEventsLink(negotiated.headers.link, leg.location);
      if (link?.events.includes('reconnect')) {
        // Not awaited by start(): the session plays meanwhile.
        void WhepEventStream.open(link.url, ['reconnect'], (event) => this.#onEvent(leg, event))
          .then((stream) => {
            if (leg.retired || this.#closing) void stream.close();
            else leg.events = stream;
          })
          .catch((error: unknown) => this.#logger.warn({ err: error }, 'no event stream'));
      }
    }
  }

  #onTrack(leg: Leg, track: MediaStreamTrack): void {
    if (this.#closing) return;
    if (track.kind === 'video') {
      const sink = new nonstandard.RTCVideoSink(track);
      leg.sinks.push(sink);
      sink.onframe = ({ frame }: { frame: I420Frame }) => {
        const now = performance.now();
        leg.frames++;
        leg.firstFrameAt ??= now;
        leg.lastFrameAt = now;
        if (leg === this.#next && !this.#closing) this.#switchTo(leg, now);
        if (leg !== this.#leg) return;
        this.#firstFrameAt ??= now;
        if (this.#lastFrameAt !== undefined) {
          this.#longestGapMs = Math.max(this.#longestGapMs, now - this.#lastFrameAt);
        }
        this.#lastFrameAt = now;
        this.#framesDecoded++;
        this.#width = frame.width;
        this.#height = frame.height;
        try {
          this.#options.onFrame?.(frame, now);
        } catch (error) {
          this.#logger.warn({ err: error }, 'onFrame hook threw');
        }
      };
    } else if (track.kind === 'audio') {
      const sink = new nonstandard.RTCAudioSink(track);
      leg.sinks.push(sink);
      sink.ondata = (data: RTCAudioData) => {
        if (leg !== this.#leg) return;
        this.#firstAudioAt ??= performance.now();
        this.#audioChunks++;
        this.#audioSamples += data.numberOfFrames ?? data.samples.length / (data.channelCount ?? 1);
      };
    }
  }

  // --- follow -------------------------------------------------------------------------------

  /** Watches the current session for its end by the server (follow with rePost). */
  #watch(): void {
    const follow = this.#follow;
    if (!follow?.rePost) return;
    const leg = this.#leg;
    leg.pc.addEventListener('connectionstatechange', () => {
      const state = leg.pc.connectionState;
      if (leg === this.#leg && (state === 'failed' || state === 'closed')) {
        this.#lost(leg, `connection ${state}`);
      }
    });
    clearInterval(this.#stallTimer);
    this.#stallTimer = setInterval(() => {
      const last = leg.lastFrameAt;
      if (leg === this.#leg && last !== undefined && performance.now() - last > follow.stallMs) {
        this.#lost(leg, `no frame for ${follow.stallMs} ms`);
      }
    }, 250);
  }

  #onEvent(leg: Leg, event: WhepEvent): void {
    if (event.event !== 'reconnect' || leg !== this.#leg || this.#closing || this.#moving) return;
    const data = (event.data ?? {}) as { url?: unknown };
    const url = typeof data.url === 'string' ? data.url : this.#options.whepUrl;
    this.#logger.debug({ from: leg.location, url }, 'reconnect event');
    void this.#move('reconnect', url, performance.now());
  }

  #lost(leg: Leg, why: string): void {
    if (this.#closing || this.#moving || this.#gaveUp || leg !== this.#leg) return;
    this.#logger.debug({ location: leg.location, why }, 'session ended; posting again');
    void this.#move('repost', this.#options.whepUrl, performance.now());
  }

  /**
   * Makes a new session at `url` and switches to it on its first frame (#switchTo). A
   * failed attempt is retried (with backoff) while the current session has ended; after a
   * failed `reconnect` the current one keeps playing.
   */
  async #move(kind: ViewerMove['kind'], url: string | undefined, startedAt: number): Promise<void> {
    this.#moving = true;
    const follow = this.#follow!;
    const from = this.#leg;
    // Bounded: at most MOVE_ATTEMPTS sessions tried (backing off to 4 s), then it gives up.
    for (let attempt = 0; !this.#closing && attempt < MOVE_ATTEMPTS; attempt++) {
      const next = this.#newLeg();
      this.#next = next;
      try {
        await this.#negotiate(next, attempt === 0 ? url : this.#options.whepUrl);
        await waitUntil(
          () => next.firstFrameAt !== undefined || this.#closing !== undefined,
          follow.firstFrameTimeoutMs,
          'the first frame of the new session',
        );
        if (this.#closing) break;
        this.#moves.push({
          kind,
          from: from.location,
          to: next.location,
          startedAt,
          backMs: next.firstFrameAt! - startedAt,
          gapMs: next.switchGapMs ?? 0,
        });
        this.#moving = false;
        this.#watch();
        // After a reconnect event the old session is still there: DELETE it. One the server
        // ended needs none (and its node may be gone).
        await this.#closeLeg(from, kind === 'reconnect');
        return;
      } catch (error) {
        this.#next = undefined;
        await this.#closeLeg(next, true);
        this.#logger.warn({ err: error, kind, attempt }, 'move failed');
        const ended = from.pc.connectionState === 'closed' || from.pc.connectionState === 'failed';
        if (kind === 'reconnect' && !ended) {
          this.#moving = false;
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(4000, 250 * 2 ** attempt)));
      }
    }
    if (!this.#closing) {
      this.#logger.warn({ kind }, `no new session after ${MOVE_ATTEMPTS} attempts; giving up`);
      this.#gaveUp = true;
    }
    this.#moving = false;
  }

  /** The new session decoded its first frame: from now on its frames are the viewer's. */
  #switchTo(next: Leg, now: number): void {
    this.#next = undefined;
    const previous = this.#leg;
    previous.retired = true;
    this.#leg = next;
    next.switchGapMs = this.#lastFrameAt === undefined ? 0 : now - this.#lastFrameAt;
    this.#longestGapMs = Math.max(this.#longestGapMs, next.switchGapMs);
    this.#lastFrameAt = now;
  }

  async #closeLeg(leg: Leg, sendDelete: boolean): Promise<void> {
    leg.retired = true;
    await leg.events?.close();
    // DELETE first, then close: libwebrtc's close sends a DTLS close_notify, and a server
    // that reacts to it at once would answer the DELETE with 404.
    if (sendDelete && leg.location && !this.#options.signal) {
      await deleteSessionQuietly(
        leg.location,
        this.#options.token,
        { timeoutMs: this.#options.httpTimeoutMs },
        this.#logger,
      );
    }
    // Sinks must be stopped: a live sink keeps libwebrtc threads (and the process) running.
    for (const sink of leg.sinks) sink.stop();
    leg.pc.close();
  }

  async #teardown(sendDelete: boolean): Promise<void> {
    clearInterval(this.#stallTimer);
    const next = this.#next;
    this.#next = undefined;
    if (next) await this.#closeLeg(next, sendDelete);
    await this.#closeLeg(this.#leg, sendDelete);
    this.#logger.debug('viewer closed');
  }
}
