/**
 * Calls to another node's internal API (`/internal/...`), authenticated with the cluster
 * secret (ClusterAuth). Every call has a timeout: a dead node must not hang a viewer's join.
 */
import type { ClusterAuth } from './tickets.ts';

export class InternalCallError extends Error {
  /** The HTTP status, or undefined when the node could not be reached. */
  readonly status: number | undefined;

  constructor(message: string, status?: number, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InternalCallError';
    this.status = status;
  }
}

export class InternalClient {
  readonly #auth: ClusterAuth;
  readonly #self: string;
  readonly #timeoutMs: number;

  constructor(options: { auth: ClusterAuth; self: string; timeoutMs?: number }) {
    this.#auth = options.auth;
    this.#self = options.self;
    this.#timeoutMs = options.timeoutMs ?? 5000;
  }

  /** The headers of an internal call (also for long-lived requests made elsewhere). */
  async headers(): Promise<Record<string, string>> {
    return { Authorization: `Bearer ${await this.#auth.internalToken(this.#self)}` };
  }

  /** A JSON call; resolves the parsed body (undefined for 204), throws InternalCallError. */
  async call<T>(baseUrl: string, method: string, path: string, body?: unknown): Promise<T> {
    const url = `${baseUrl}${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          ...(await this.headers()),
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      throw new InternalCallError(
        `${method} ${url} failed: ${(error as Error).message}`,
        undefined,
        {
          cause: error,
        },
      );
    }
    if (!response.ok) {
      const text = await response.text().catch(() => '');
      throw new InternalCallError(
        `${method} ${url}: ${response.status} ${text.slice(0, 300)}`,
        response.status,
      );
    }
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }
}
