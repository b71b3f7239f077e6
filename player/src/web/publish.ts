/**
 * The browser publishing page (`/publish`): camera and microphone (pickers), resolution,
 * bitrate and optional simulcast, a preview, live status with its duration, and the OBS
 * settings to copy. WHIP with the stream key as bearer token; like OBS, it starts a new
 * session when the connection drops, until the user stops.
 */
import { errorName, warn } from './core/log.ts';
import { DEFAULT_PUBLISH_POLICY, DEFAULT_TIMINGS, retryAfterDelayMs } from './core/reconnect.ts';
import type { ReconnectPolicy } from './core/reconnect.ts';
import { SignalingError } from './core/signaling.ts';
import { WhipClient } from './core/WhipClient.ts';
import type { PublisherState, WispPublisherApi } from './types.ts';
import { copyText, formatDuration, h, requireData, requireElement } from './ui/dom.ts';

/** States in which a session is wanted: Go Live is disabled, Stop is enabled. */
const ACTIVE_STATES: ReadonlySet<PublisherState> = new Set([
  'starting',
  'connecting',
  'live',
  'reconnecting',
]);

interface Elements {
  form: HTMLFormElement;
  keyInput: HTMLInputElement;
  camera: HTMLSelectElement;
  microphone: HTMLSelectElement;
  resolution: HTMLSelectElement;
  bitrate: HTMLSelectElement;
  simulcast: HTMLInputElement;
  goLive: HTMLButtonElement;
  stopButton: HTMLButtonElement;
  preview: HTMLVideoElement;
  status: HTMLElement;
  badge: HTMLElement;
  duration: HTMLElement;
  obsToken: HTMLElement;
}

interface PublishControllerOptions extends Elements {
  whipUrl: string;
  policy?: ReconnectPolicy;
}

/** Resolution choice -> capture constraints (16:9). */
function videoConstraints(height: number, deviceId: string): MediaTrackConstraints {
  return {
    width: { ideal: Math.round((height * 16) / 9) },
    height: { ideal: height },
    frameRate: { ideal: 30 },
    ...(deviceId ? { deviceId: { exact: deviceId } } : {}),
  };
}

/**
 * Video encodings: one at `maxKbps`, or three simulcast layers low to high (the order the
 * ingest expects from browsers), the top one at `maxKbps`.
 */
function videoEncodings(maxKbps: number, simulcast: boolean): RTCRtpEncodingParameters[] {
  if (!simulcast) return [{ maxBitrate: maxKbps * 1000 }];
  return [
    { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: Math.round(maxKbps * 100) },
    { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: Math.round(maxKbps * 300) },
    { rid: 'f', maxBitrate: maxKbps * 1000 },
  ];
}

class PublishController implements WispPublisherApi {
  readonly #e: PublishControllerOptions;
  readonly #policy: ReconnectPolicy;
  #state: PublisherState = 'idle';
  #message = '';
  #media: MediaStream | undefined;
  #client: WhipClient | undefined;
  #streamKey = '';
  #abort: AbortController | undefined;
  #generation = 0;
  #failures = 0;
  #failingSince: number | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #disconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #liveSince: number | undefined;
  #clock: ReturnType<typeof setInterval> | undefined;

  constructor(options: PublishControllerOptions) {
    this.#e = options;
    this.#policy = options.policy ?? DEFAULT_PUBLISH_POLICY;
    options.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.start();
    });
    options.stopButton.addEventListener('click', () => void this.stop());
    options.keyInput.addEventListener('input', () => this.#syncObsToken());
    options.camera.addEventListener('change', () => void this.#changeDevice('video'));
    options.microphone.addEventListener('change', () => void this.#changeDevice('audio'));
    options.resolution.addEventListener('change', () => void this.#applyResolution());
    options.bitrate.addEventListener('change', () => void this.#applyBitrate());
    this.#syncObsToken();
    this.#setState('idle', 'Enter your stream key and press Go Live.');
    void this.#listDevices();
  }

  get state(): PublisherState {
    return this.#state;
  }

  get message(): string {
    return this.#message;
  }

  get liveSeconds(): number {
    return this.#liveSince === undefined ? 0 : (performance.now() - this.#liveSince) / 1000;
  }

  async start(): Promise<void> {
    if (ACTIVE_STATES.has(this.#state)) return;
    const key = this.#e.keyInput.value.trim();
    if (!key) {
      this.#setState('error', 'Enter your stream key first.');
      this.#e.keyInput.focus();
      return;
    }
    this.#streamKey = key;
    this.#failures = 0;
    this.#failingSince = undefined;
    this.#setState('starting', 'Opening camera and microphone…');
    const generation = this.#generation;
    let media: MediaStream;
    try {
      media = this.#media ?? (await this.#openMedia());
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
    this.#usePreview(media);
    void this.#listDevices();
    await this.#connect();
  }

  async stop(options: { keepalive?: boolean } = {}): Promise<void> {
    const closing = this.#teardown(options.keepalive ?? false);
    for (const track of this.#media?.getTracks() ?? []) track.stop();
    this.#media = undefined;
    this.#e.preview.srcObject = null;
    this.#setState('stopped', 'Stopped.');
    await closing;
  }

  #usePreview(media: MediaStream): void {
    this.#media = media;
    this.#e.preview.srcObject = media;
    this.#e.preview.play().catch(() => undefined);
  }

  /** Camera and microphone as picked; camera only when there is no microphone. */
  async #openMedia(): Promise<MediaStream> {
    const video = videoConstraints(Number(this.#e.resolution.value), this.#e.camera.value);
    const mic = this.#e.microphone.value;
    if (mic === 'none') return navigator.mediaDevices.getUserMedia({ video, audio: false });
    const audio: MediaTrackConstraints | boolean = mic ? { deviceId: { exact: mic } } : true;
    try {
      return await navigator.mediaDevices.getUserMedia({ video, audio });
    } catch (error) {
      if (errorName(error) !== 'NotFoundError') throw error;
      return navigator.mediaDevices.getUserMedia({ video, audio: false });
    }
  }

  /** Fills the pickers; labels appear only once the page may use the devices. */
  async #listDevices(): Promise<void> {
    let devices: MediaDeviceInfo[];
    try {
      devices = await navigator.mediaDevices.enumerateDevices();
    } catch (error) {
      warn('cannot list the devices', error);
      return;
    }
    const fill = (select: HTMLSelectElement, kind: MediaDeviceKind, fallback: string) => {
      const chosen = select.value;
      const extra = [...select.options].filter((o) => o.value === '' || o.value === 'none');
      const found = devices.filter((d) => d.kind === kind && d.deviceId);
      select.replaceChildren(
        ...extra,
        ...found.map((d, i) =>
          h('option', { value: d.deviceId }, d.label || `${fallback} ${i + 1}`),
        ),
      );
      select.value = [...select.options].some((o) => o.value === chosen) ? chosen : '';
    };
    fill(this.#e.camera, 'videoinput', 'Camera');
    fill(this.#e.microphone, 'audioinput', 'Microphone');
  }

  /** A new camera or microphone: the preview and, while live, the sender switch to it. */
  async #changeDevice(kind: 'audio' | 'video'): Promise<void> {
    if (!this.#media) return;
    const old = kind === 'video' ? this.#media.getVideoTracks() : this.#media.getAudioTracks();
    let fresh: MediaStream;
    try {
      if (kind === 'video') {
        const height = Number(this.#e.resolution.value);
        fresh = await navigator.mediaDevices.getUserMedia({
          video: videoConstraints(height, this.#e.camera.value),
        });
      } else {
        if (this.#e.microphone.value === 'none') {
          for (const track of old) track.enabled = false;
          return;
        }
        const id = this.#e.microphone.value;
        fresh = await navigator.mediaDevices.getUserMedia({
          audio: id ? { deviceId: { exact: id } } : true,
        });
      }
    } catch (error) {
      this.#setState(this.#state, `Cannot switch the ${kind} device (${errorName(error)}).`);
      return;
    }
    const track = fresh.getTracks()[0];
    if (!track || !this.#media) return;
    await this.#client?.sender(kind)?.replaceTrack(track);
    for (const stale of old) {
      this.#media.removeTrack(stale);
      stale.stop();
    }
    this.#media.addTrack(track);
  }

  async #applyResolution(): Promise<void> {
    const track = this.#media?.getVideoTracks()[0];
    if (!track) return;
    const height = Number(this.#e.resolution.value);
    try {
      await track.applyConstraints(videoConstraints(height, ''));
    } catch (error) {
      warn('the camera refused the resolution', error);
    }
  }

  /** Bitrate changes apply to a live session at once (no renegotiation). */
  async #applyBitrate(): Promise<void> {
    const sender = this.#client?.sender('video');
    if (!sender) return;
    const parameters = sender.getParameters();
    const top = Number(this.#e.bitrate.value) * 1000;
    const encodings = parameters.encodings ?? [];
    encodings.forEach((encoding, index) => {
      const share = encodings.length === 3 ? [0.1, 0.3, 1][index] : 1;
      encoding.maxBitrate = Math.round(top * share);
    });
    try {
      await sender.setParameters(parameters);
    } catch (error) {
      warn('cannot change the bitrate', error);
    }
  }

  async #connect(): Promise<void> {
    const generation = ++this.#generation;
    const abort = new AbortController();
    this.#abort = abort;
    if (this.#state !== 'reconnecting') this.#setState('connecting', 'Connecting…');
    let client: WhipClient;
    try {
      client = await WhipClient.publish({
        endpoint: this.#e.whipUrl,
        streamKey: this.#streamKey,
        stream: this.#media!,
        signal: abort.signal,
        iceGatheringTimeoutMs: DEFAULT_TIMINGS.iceGatheringTimeoutMs,
        videoEncodings: videoEncodings(Number(this.#e.bitrate.value), this.#e.simulcast.checked),
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
    const asked =
      error instanceof SignalingError && error.retryAfterSeconds !== undefined
        ? retryAfterDelayMs(error.retryAfterSeconds, DEFAULT_TIMINGS)
        : undefined;
    this.#setState('reconnecting', 'Cannot reach the server, retrying…');
    this.#scheduleRetry(error, asked);
  }

  #onConnectionState(state: RTCPeerConnectionState): void {
    if (state === 'connected') {
      clearTimeout(this.#disconnectTimer);
      this.#disconnectTimer = undefined;
      this.#failures = 0;
      this.#failingSince = undefined;
      this.#setState('live', 'Live');
    } else if (state === 'disconnected') {
      this.#disconnectTimer ??= setTimeout(
        () => this.#reconnect(),
        DEFAULT_TIMINGS.disconnectedGraceMs,
      );
    } else if (state === 'failed') {
      this.#reconnect();
    }
  }

  #reconnect(): void {
    void this.#teardown(false);
    this.#setState('reconnecting', 'Connection lost, reconnecting…');
    this.#scheduleRetry(new Error('connection lost'));
  }

  #scheduleRetry(reason: unknown, askedMs?: number): void {
    this.#failingSince ??= performance.now();
    const delay = this.#policy.nextRetryDelayInMs({
      retryCount: this.#failures++,
      elapsedMs: performance.now() - this.#failingSince,
      retryReason: reason instanceof Error ? reason : new Error(String(reason)),
      serverUrl: this.#e.whipUrl,
    });
    if (delay === null) {
      void this.#failTerminally('Cannot reach the server.');
      return;
    }
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(
      () => {
        this.#retryTimer = undefined;
        if (this.#state === 'reconnecting') {
          this.#connect().catch((error: unknown) => this.#onConnectError(error));
        }
      },
      Math.max(delay, askedMs ?? 0),
    );
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

  #syncObsToken(): void {
    // Masked on screen (screenshots, screen sharing); the Copy button copies the key itself.
    const key = this.#e.keyInput.value.trim();
    this.#e.obsToken.textContent = key ? '•'.repeat(16) : 'your stream key';
    this.#e.obsToken.dataset.value = key;
  }

  #setState(state: PublisherState, message: string): void {
    const wasLive = this.#state === 'live';
    this.#state = state;
    this.#message = message;
    document.body.dataset.state = state;
    this.#e.status.textContent = message;
    const active = ACTIVE_STATES.has(state);
    this.#e.goLive.disabled = active;
    this.#e.stopButton.disabled = !active;
    this.#e.keyInput.disabled = active;
    this.#e.simulcast.disabled = active;
    if (state === 'live' && !wasLive) {
      this.#liveSince = performance.now();
      clearInterval(this.#clock);
      this.#clock = setInterval(() => this.#tick(), 1000);
      this.#tick();
    } else if (state !== 'live') {
      this.#liveSince = undefined;
      clearInterval(this.#clock);
      this.#clock = undefined;
    }
    this.#e.badge.hidden = state !== 'live';
  }

  #tick(): void {
    this.#e.duration.textContent = formatDuration(this.liveSeconds);
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

/** `data-copy="<id>"` buttons copy that element's `data-value` (or its text). */
function wireCopyButtons(): void {
  for (const button of document.querySelectorAll<HTMLButtonElement>('button[data-copy]')) {
    button.addEventListener('click', () => {
      const source = document.getElementById(button.dataset.copy ?? '');
      const text = source?.dataset.value ?? source?.textContent ?? '';
      if (!text) return;
      void copyText(text).then((ok) => {
        button.textContent = ok ? 'Copied' : 'Copy failed';
        setTimeout(() => (button.textContent = 'Copy'), 1500);
      });
    });
  }
}

function main(): void {
  const root = requireElement('wisp', HTMLElement);
  const keyInput = requireElement('key', HTMLInputElement);
  keyInput.value = takeKeyFromUrl() || keyInput.value;
  const controller = new PublishController({
    whipUrl: requireData(root, 'whipUrl'),
    form: requireElement('publish-form', HTMLFormElement),
    keyInput,
    camera: requireElement('camera', HTMLSelectElement),
    microphone: requireElement('microphone', HTMLSelectElement),
    resolution: requireElement('resolution', HTMLSelectElement),
    bitrate: requireElement('bitrate', HTMLSelectElement),
    simulcast: requireElement('simulcast', HTMLInputElement),
    goLive: requireElement('go-live', HTMLButtonElement),
    stopButton: requireElement('stop', HTMLButtonElement),
    preview: requireElement('preview', HTMLVideoElement),
    status: requireElement('status', HTMLElement),
    badge: requireElement('live-badge', HTMLElement),
    duration: requireElement('duration', HTMLElement),
    obsToken: requireElement('obs-token', HTMLElement),
  });
  wireCopyButtons();
  const api: WispPublisherApi = {
    get state() {
      return controller.state;
    },
    get message() {
      return controller.message;
    },
    get liveSeconds() {
      return controller.liveSeconds;
    },
    start: () => controller.start(),
    stop: () => controller.stop(),
  };
  window.wispPublisher = api;
  window.addEventListener('pagehide', () => void controller.stop({ keepalive: true }));
}

main();
