/**
 * The watch page: plays one stream live over WHEP, muted until the viewer unmutes (browsers
 * block unmuted autoplay), and reconnects on its own when the stream is not live yet, when the
 * connection fails, or when media stops flowing (publisher left, server restarted).
 */
import { errorName, requireData, requireElement, warn } from './dom.ts';
import { backoffDelayMs, DEFAULT_RETRY_POLICY, retryAfterDelayMs } from './retry.ts';
import type { RetryPolicy } from './retry.ts';
import { SignalingError } from './signaling.ts';
import type { PlaybackStats, PlayerState, WispPlayerApi } from './types.ts';
import { WhepClient } from './whepClient.ts';

const EMPTY_STATS: PlaybackStats = {
  framesDecoded: 0,
  bytesReceived: 0,
  packetsLost: 0,
  frameWidth: 0,
  frameHeight: 0,
};

interface WatchControllerOptions {
  whepUrl: string;
  video: HTMLVideoElement;
  status: HTMLElement;
  stageMessage: HTMLElement;
  unmute: HTMLButtonElement;
  unmuteLabel: HTMLElement;
  policy?: RetryPolicy;
}

class WatchController implements WispPlayerApi {
  readonly #whepUrl: string;
  readonly #video: HTMLVideoElement;
  readonly #status: HTMLElement;
  readonly #stageMessage: HTMLElement;
  readonly #unmute: HTMLButtonElement;
  readonly #unmuteLabel: HTMLElement;
  readonly #policy: RetryPolicy;
  #state: PlayerState = 'connecting';
  #message = '';
  #client: WhepClient | undefined;
  #abort: AbortController | undefined;
  /** Bumped by every connect and teardown; callbacks of older sessions compare and bail. */
  #generation = 0;
  #failures = 0;
  #stopped = true;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #disconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #lastBytes = 0;
  #lastProgressAt = 0;
  #autoplayBlocked = false;

  constructor(options: WatchControllerOptions) {
    this.#whepUrl = options.whepUrl;
    this.#video = options.video;
    this.#status = options.status;
    this.#stageMessage = options.stageMessage;
    this.#unmute = options.unmute;
    this.#unmuteLabel = options.unmuteLabel;
    this.#policy = options.policy ?? DEFAULT_RETRY_POLICY;
    this.#video.addEventListener('playing', () => this.#onVideoPlaying());
    this.#video.addEventListener('volumechange', () => this.#syncUnmuteButton());
    this.#unmute.addEventListener('click', () => this.#onUnmuteClick());
  }

  get state(): PlayerState {
    return this.#state;
  }

  get message(): string {
    return this.#message;
  }

  async stats(): Promise<PlaybackStats> {
    return this.#client ? this.#client.stats() : { ...EMPTY_STATS };
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#failures = 0;
    this.#setState('connecting', 'Connecting…');
    this.#attempt();
  }

  async stop(options: { keepalive?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    const closing = this.#teardown(options.keepalive ?? false);
    this.#video.srcObject = null;
    this.#setState('stopped', 'Stopped.');
    await closing;
  }

  #attempt(): void {
    this.#connect().catch((error: unknown) => {
      // #connect handles signalling errors itself; this is the unexpected rest.
      warn('player error', error);
      this.#scheduleRetry(backoffDelayMs(this.#failures++, this.#policy));
    });
  }

  async #connect(): Promise<void> {
    const generation = ++this.#generation;
    const abort = new AbortController();
    this.#abort = abort;
    let client: WhepClient;
    try {
      client = await WhepClient.connect({
        endpoint: this.#whepUrl,
        signal: abort.signal,
        iceGatheringTimeoutMs: this.#policy.iceGatheringTimeoutMs,
      });
    } catch (error) {
      if (generation === this.#generation) this.#onConnectError(error);
      return;
    }
    if (generation !== this.#generation) {
      await client.close();
      return;
    }
    this.#client = client;
    this.#lastBytes = 0;
    this.#lastProgressAt = performance.now();
    client.pc.addEventListener('connectionstatechange', () => {
      if (this.#client === client) this.#onConnectionState(client.pc.connectionState);
    });
    this.#watchdog = setInterval(() => this.#checkProgress(client), 250);
    this.#video.srcObject = client.stream;
    this.#play();
  }

  #onConnectError(error: unknown): void {
    if (!(error instanceof SignalingError)) {
      warn('WHEP negotiation failed', error);
      this.#setState('reconnecting', `Connection problem (${errorName(error)}), retrying…`);
      this.#scheduleRetry(backoffDelayMs(this.#failures++, this.#policy));
      return;
    }
    if (error.status === 409) {
      // The stream exists but nobody publishes yet (WHEP: 409 + Retry-After). Not a failure.
      this.#video.srcObject = null;
      this.#setState('waiting', 'Waiting for the stream to go live…');
      this.#scheduleRetry(retryAfterDelayMs(error.retryAfterSeconds, this.#policy));
      return;
    }
    if (error.status === 404) {
      this.#video.srcObject = null;
      this.#setState('error', 'Stream not found.');
      return;
    }
    if (error.status >= 400 && error.status < 500 && error.status !== 429) {
      // The server understood and refused (private stream, unsupported offer): retrying the
      // same request cannot help.
      this.#video.srcObject = null;
      this.#setState('error', `Cannot play this stream: ${error.message}`);
      return;
    }
    const delay =
      error.retryAfterSeconds !== undefined
        ? retryAfterDelayMs(error.retryAfterSeconds, this.#policy)
        : backoffDelayMs(this.#failures++, this.#policy);
    this.#setState('reconnecting', 'Cannot reach the server, retrying…');
    this.#scheduleRetry(delay);
  }

  #onConnectionState(state: RTCPeerConnectionState): void {
    if (state === 'connected') {
      clearTimeout(this.#disconnectTimer);
      this.#disconnectTimer = undefined;
    } else if (state === 'disconnected') {
      // ICE may recover from a short outage by itself; give it a moment first.
      this.#disconnectTimer ??= setTimeout(
        () => this.#reconnect('Connection lost, reconnecting…'),
        this.#policy.disconnectedGraceMs,
      );
    } else if (state === 'failed') {
      this.#reconnect('Connection lost, reconnecting…');
    }
  }

  /** Detects sessions that look alive but carry no media (publisher gone, server stuck). */
  #checkProgress(client: WhepClient): void {
    client.stats().then(
      (stats) => {
        if (this.#client !== client) return;
        const now = performance.now();
        if (stats.bytesReceived > this.#lastBytes) {
          this.#lastBytes = stats.bytesReceived;
          this.#lastProgressAt = now;
          return;
        }
        const limit =
          this.#lastBytes > 0 ? this.#policy.stallTimeoutMs : this.#policy.firstMediaTimeoutMs;
        if (now - this.#lastProgressAt > limit)
          this.#reconnect('The stream stalled, reconnecting…');
      },
      (error: unknown) => warn('getStats failed', error),
    );
  }

  #reconnect(message: string): void {
    if (this.#stopped) return;
    void this.#teardown(false);
    this.#setState('reconnecting', message);
    this.#scheduleRetry(backoffDelayMs(this.#failures++, this.#policy));
  }

  #scheduleRetry(delayMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (!this.#stopped) this.#attempt();
    }, delayMs);
  }

  /** Ends the current session and any pending attempt. Resolves when the DELETE is done. */
  async #teardown(keepalive: boolean): Promise<void> {
    this.#generation++;
    this.#abort?.abort();
    this.#abort = undefined;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#disconnectTimer);
    clearInterval(this.#watchdog);
    this.#retryTimer = this.#disconnectTimer = this.#watchdog = undefined;
    const client = this.#client;
    this.#client = undefined;
    await client?.close({ keepalive });
  }

  #onVideoPlaying(): void {
    if (!this.#client || this.#stopped) return;
    this.#failures = 0;
    this.#autoplayBlocked = false;
    this.#setState('playing', 'Live');
  }

  #play(): void {
    this.#video.play().then(
      () => {
        this.#autoplayBlocked = false;
        this.#syncUnmuteButton();
      },
      (error: unknown) => {
        // NotAllowedError: the browser wants a gesture even for muted video. AbortError: a
        // newer srcObject replaced this one, which is fine.
        if (errorName(error) === 'NotAllowedError') {
          this.#autoplayBlocked = true;
          this.#syncUnmuteButton();
        }
      },
    );
  }

  #onUnmuteClick(): void {
    this.#video.muted = false;
    this.#play();
  }

  /** Shows "Play" when autoplay was refused, "Unmute" while playing muted, else nothing. */
  #syncUnmuteButton(): void {
    const mode = this.#autoplayBlocked
      ? 'play'
      : this.#video.muted && this.#state === 'playing'
        ? 'unmute'
        : undefined;
    this.#unmute.hidden = mode === undefined;
    if (mode === undefined) return;
    this.#unmute.dataset.mode = mode;
    this.#unmuteLabel.textContent = mode === 'play' ? 'Play' : 'Unmute';
  }

  #setState(state: PlayerState, message: string): void {
    this.#state = state;
    this.#message = message;
    document.body.dataset.state = state;
    this.#video.dataset.state = state;
    this.#status.textContent = message;
    this.#stageMessage.textContent = message;
    this.#syncUnmuteButton();
  }
}

function main(): void {
  const root = requireElement('wisp', HTMLElement);
  const controller = new WatchController({
    whepUrl: requireData(root, 'whepUrl'),
    video: requireElement('video', HTMLVideoElement),
    status: requireElement('status', HTMLElement),
    stageMessage: requireElement('stage-message', HTMLElement),
    unmute: requireElement('unmute', HTMLButtonElement),
    unmuteLabel: requireElement('unmute-label', HTMLElement),
  });
  const api: WispPlayerApi = {
    get state() {
      return controller.state;
    },
    get message() {
      return controller.message;
    },
    stats: () => controller.stats(),
    stop: () => controller.stop(),
  };
  window.wispPlayer = api;
  // The DELETE must outlive the page, hence keepalive. A page restored from the back/forward
  // cache starts over.
  window.addEventListener('pagehide', () => void controller.stop({ keepalive: true }));
  window.addEventListener('pageshow', (event) => {
    if (event.persisted) controller.start();
  });
  controller.start();
}

main();
