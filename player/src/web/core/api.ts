/**
 * The one typed client of the platform's HTTP API for the pages: the admin API (stream keys,
 * recordings; Bearer `ADMIN_TOKEN`) and the public stream status the player polls. Errors are
 * `ApiError`s carrying the status and the problem+json detail (RFC 9457).
 */

export type RecordingStatus = 'recording' | 'finalizing' | 'ready' | 'failed';

/** A recording as `GET /api/streams/:id/recordings` lists it (architecture.md). */
export interface Recording {
  id: string;
  streamId: string;
  status: RecordingStatus;
  startedAt: string;
  endedAt: string | null;
  durationSeconds: number | null;
  /** `{PUBLIC_URL}/vod/:recordingId/index.m3u8`: EVENT playlist while recording, VOD after. */
  hlsUrl: string;
  posterUrl: string;
  error?: string;
}

/**
 * `GET /watch/:id/status`: what anyone may know about a stream, for the watch page and the
 * embeds (no token). `recordings` lists only `ready` and `recording` ones, newest first.
 */
export interface PublicStreamStatus {
  id: string;
  name: string;
  live: boolean;
  /** Viewers right now; approximate in a cluster. */
  viewers: number;
  recordings: Recording[];
}

/** A stream as the admin API returns it (`streamKey` only from create and rotate). */
export interface StreamInfo {
  id: string;
  name: string;
  whipUrl: string;
  whepUrl: string;
  playerUrl: string;
  live: boolean;
  createdAt: string;
  updatedAt: string;
  streamKey?: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly title: string;

  constructor(status: number, title: string, detail: string) {
    super(detail || title);
    this.name = 'ApiError';
    this.status = status;
    this.title = title;
  }
}

/** The public status URL of a stream whose player is at `{base}/watch/:id`. */
export function statusUrlOf(publicBase: string, streamId: string): string {
  return `${publicBase.replace(/\/+$/, '')}/watch/${encodeURIComponent(streamId)}/status`;
}

async function send<T>(url: string, init: RequestInit): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, { cache: 'no-store', ...init });
  } catch (error) {
    throw new ApiError(0, 'Network error', `cannot reach ${url}: ${String(error)}`);
  }
  if (!response.ok) {
    const text = await response.text().catch(() => '');
    let title = response.statusText || `HTTP ${response.status}`;
    let detail = '';
    try {
      const problem = JSON.parse(text) as { title?: unknown; detail?: unknown };
      if (typeof problem.title === 'string') title = problem.title;
      if (typeof problem.detail === 'string') detail = problem.detail;
    } catch {
      detail = text.slice(0, 200);
    }
    throw new ApiError(response.status, title, detail);
  }
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** The public stream status; `signal` aborts it. */
export function fetchStreamStatus(
  statusUrl: string,
  signal?: AbortSignal,
): Promise<PublicStreamStatus> {
  return send<PublicStreamStatus>(statusUrl, signal ? { signal } : {});
}

export interface ApiClientOptions {
  /** Base URL of the API, e.g. `https://live.example.com/api`. */
  apiBase: string;
  /** The admin token (Bearer). */
  token: string;
}

export class ApiClient {
  readonly #base: string;
  readonly #token: string;

  constructor(options: ApiClientOptions) {
    this.#base = options.apiBase.replace(/\/+$/, '');
    this.#token = options.token;
  }

  #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.#token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    return send<T>(`${this.#base}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  }

  async listStreams(): Promise<StreamInfo[]> {
    return (await this.#call<{ streams: StreamInfo[] }>('GET', '/streams')).streams;
  }

  getStream(id: string): Promise<StreamInfo> {
    return this.#call('GET', `/streams/${encodeURIComponent(id)}`);
  }

  /** The only answer, with `rotateKey`, that carries the stream key. */
  createStream(name: string): Promise<StreamInfo & { streamKey: string }> {
    return this.#call('POST', '/streams', { name });
  }

  rotateKey(id: string): Promise<StreamInfo & { streamKey: string }> {
    return this.#call('POST', `/streams/${encodeURIComponent(id)}/key`);
  }

  deleteStream(id: string): Promise<void> {
    return this.#call('DELETE', `/streams/${encodeURIComponent(id)}`);
  }

  async listRecordings(streamId: string): Promise<Recording[]> {
    const path = `/streams/${encodeURIComponent(streamId)}/recordings`;
    return (await this.#call<{ recordings: Recording[] }>('GET', path)).recordings;
  }

  deleteRecording(id: string): Promise<void> {
    return this.#call('DELETE', `/recordings/${encodeURIComponent(id)}`);
  }
}
