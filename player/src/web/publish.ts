/**
 * The browser publishing page: camera and microphone to WHIP with the stream key as bearer
 * token. Like OBS, it starts a new session when the connection drops, until the user stops.
 */
import { errorName, requireData, requireElement, warn } from './dom.ts';
import { backoffDelayMs, DEFAULT_RETRY_POLICY, retryAfterDelayMs } from './retry.ts';
import type { RetryPolicy } from './retry.ts';
import { SignalingError } from './signaling.ts';
import type { PublisherState, WispPublisherApi } from './types.ts';
import { WhipClient } from './whipClient.ts';

/** States in which a session is wanted: Go Live is disabled, Stop is enabled. */
const ACTIVE_STATES: ReadonlySet<PublisherState> = new Set([
  'starting',
  'connecting',
  'live',
  'reconnecting',
]);

interface PublishControllerOptions {
  whipUrl: string;
  keyInput: HTMLInputElement;
  goLive: HTMLButtonElement;
  stopButton: HTMLButtonElement;
  preview: HTMLVideoElement;
  status: HTMLElement;
  policy?: RetryPolicy;
}

class PublishController implements WispPublisherApi {
  readonly #options: PublishControllerOptions;
  readonly #policy: RetryPolicy;
  #state: PublisherState = 'idle';
  #message = '';
  #media: MediaStream | undefined;
  #client: WhipClient | undefined;
  #streamKey = '';
  #abort: AbortController | undefined;
  #generation = 0;
  #failures = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #disconnectTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: PublishControllerOptions) {
    this.#options = options;
    this.#policy = options.policy ?? DEFAULT_RETRY_POLICY;
    options.goLive.addEventListener('click', () => void this.start());
    options.stopButton.addEventListener('click', () => void this.stop());
    options.keyInput.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') void this.start();
    });
    this.#setState('idle', 'Enter your stream key and press Go Live.');
  }

  get state(): PublisherState {
    return this.#state;
  }

  get message(): string {
    return this.#message;
  }

  async start(): Promise<void> {
    if (ACTIVE_STATES.has(this.#state)) return;
    const key = this.#options.keyInput.value.trim();
    if (!key) {
      this.#setState('error', 'Enter your stream key first.');
      return;
    }
    this.#streamKey = key;
    this.#failures = 0;
    this.#setState('starting', 'Opening camera and microphone…');
    const generation = this.#generation;
    let media: MediaStream;
    try {
      media = this.#media ?? (await openCamera());
    } catch (error) {
      if (generation === this.#generation) {
        this.#setState('error', `Cannot open camera or microphone (${errorName(error)}).`);
      }
      return;
    }
    if (generation !== this.#generation) {
      // Stop was pressed while the permission prompt was open.
      if (media !== this.#media) for (const track of media.getTracks()) track.stop();
      return;
    }
    this.#media = media;
    this.#options.preview.srcObject = media;
    this.#options.preview.play().catch(() => undefined);
    await this.#connect();
  }

  async stop(options: { keepalive?: boolean } = {}): Promise<void> {
    const closing = this.#teardown(options.keepalive ?? false);
    for (const track of this.#media?.getTracks() ?? []) track.stop();
    this.#media = undefined;
    this.#options.preview.srcObject = null;
    this.#setState('stopped', 'Stopped.');
    await closing;
  }

  async #connect(): Promise<void> {
    const generation = ++this.#generation;
    const abort = new AbortController();
    this.#abort = abort;
    if (this.#state !== 'reconnecting') this.#setState('connecting', 'Connecting…');
    let client: WhipClient;
    try {
      client = await WhipClient.publish({
        endpoint: this.#options.whipUrl,
        streamKey: this.#streamKey,
        stream: this.#media!,
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
    client.pc.addEventListener('connectionstatechange', () => {
      if (this.#client === client) this.#onConnectionState(client.pc.connectionState);
    });
  }

  #onConnectError(error: unknown): void {
    if (error instanceof SignalingError && (error.status === 401 || error.status === 403)) {
      void this.#failTerminally('The stream key was refused.');
      return;
    }
    if (
      error instanceof SignalingError &&
      error.status >= 400 &&
      error.status < 500 &&
      error.status !== 409 &&
      error.status !== 429
    ) {
      void this.#failTerminally(`The server refused to publish: ${error.message}`);
      return;
    }
    if (!(error instanceof SignalingError)) warn('WHIP negotiation failed', error);
    const delay =
      error instanceof SignalingError && error.retryAfterSeconds !== undefined
        ? retryAfterDelayMs(error.retryAfterSeconds, this.#policy)
        : backoffDelayMs(this.#failures++, this.#policy);
    this.#setState('reconnecting', 'Cannot reach the server, retrying…');
    this.#scheduleRetry(delay);
  }

  #onConnectionState(state: RTCPeerConnectionState): void {
    if (state === 'connected') {
      clearTimeout(this.#disconnectTimer);
      this.#disconnectTimer = undefined;
      this.#failures = 0;
      this.#setState('live', 'Live');
    } else if (state === 'disconnected') {
      this.#disconnectTimer ??= setTimeout(
        () => this.#reconnect(),
        this.#policy.disconnectedGraceMs,
      );
    } else if (state === 'failed') {
      this.#reconnect();
    }
  }

  #reconnect(): void {
    void this.#teardown(false);
    this.#setState('reconnecting', 'Connection lost, reconnecting…');
    this.#scheduleRetry(backoffDelayMs(this.#failures++, this.#policy));
  }

  #scheduleRetry(delayMs: number): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#state === 'reconnecting') {
        this.#connect().catch((error: unknown) => this.#onConnectError(error));
      }
    }, delayMs);
  }

  async #failTerminally(message: string): Promise<void> {
    await this.stop();
    this.#setState('error', message);
  }

  async #teardown(keepalive: boolean): Promise<void> {
    this.#generation++;
    this.#abort?.abort();
    this.#abort = undefined;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#disconnectTimer);
    this.#retryTimer = this.#disconnectTimer = undefined;
    const client = this.#client;
    this.#client = undefined;
    await client?.close({ keepalive });
  }

  #setState(state: PublisherState, message: string): void {
    this.#state = state;
    this.#message = message;
    document.body.dataset.state = state;
    this.#options.status.textContent = message;
    const active = ACTIVE_STATES.has(state);
    this.#options.goLive.disabled = active;
    this.#options.stopButton.disabled = !active;
    this.#options.keyInput.disabled = active;
  }
}

/** Camera and microphone; falls back to camera only when there is no microphone. */
async function openCamera(): Promise<MediaStream> {
  const video: MediaTrackConstraints = {
    width: { ideal: 1280 },
    height: { ideal: 720 },
    frameRate: { ideal: 30 },
  };
  try {
    return await navigator.mediaDevices.getUserMedia({ video, audio: true });
  } catch (error) {
    if (errorName(error) !== 'NotFoundError') throw error;
    return navigator.mediaDevices.getUserMedia({ video, audio: false });
  }
}

/**
 * Takes the stream key from `?key=` (for tests and bookmarks) and removes it from the address
 * bar, so it does not linger in history or show up in screenshots.
 */
function takeKeyFromUrl(): string {
  const url = new URL(window.location.href);
  const key = url.searchParams.get('key') ?? '';
  if (key) {
    url.searchParams.delete('key');
    window.history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  return key;
}

function main(): void {
  const root = requireElement('wisp', HTMLElement);
  const keyInput = requireElement('key', HTMLInputElement);
  keyInput.value = takeKeyFromUrl() || keyInput.value;
  const controller = new PublishController({
    whipUrl: requireData(root, 'whipUrl'),
    keyInput,
    goLive: requireElement('go-live', HTMLButtonElement),
    stopButton: requireElement('stop', HTMLButtonElement),
    preview: requireElement('preview', HTMLVideoElement),
    status: requireElement('status', HTMLElement),
  });
  const api: WispPublisherApi = {
    get state() {
      return controller.state;
    },
    get message() {
      return controller.message;
    },
    start: () => controller.start(),
    stop: () => controller.stop(),
  };
  window.wispPublisher = api;
  window.addEventListener('pagehide', () => void controller.stop({ keepalive: true }));
}

main();
