/**
 * A real HTTP webhook receiver for the tests: a node:http server on loopback that checks
 * every request's signature with the reference `standardwebhooks` package (not the
 * platform's code), records what arrived, and answers as the test says: a status, after a
 * delay (a slow receiver), or not at all (`down()`: the port refuses connections until `up()`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedRequest {
  /** Arrival time (ms since the epoch). */
  at: number;
  headers: Record<string, string>;
  body: string;
  /** The parsed body when the signature verified, else undefined. */
  verified: Record<string, unknown> | undefined;
  verifyError?: string;
  /** The answer given. */
  status: number;
}

export interface ReceivedEvent {
  id: string;
  type: string;
  timestamp: string;
  data: Record<string, unknown> & { streamId: string };
}

/** How to answer a request: a status, optionally after `delayMs`. */
export type Responder = (
  request: ReceivedRequest,
  attempt: number,
) => number | { status: number; delayMs?: number; headers?: Record<string, string> };

export class WebhookReceiver {
  readonly requests: ReceivedRequest[] = [];
  respond: Responder = () => 200;
  readonly #webhook: Webhook;
  readonly #server: Server;
  #port = 0;
  #listening = false;

  private constructor(secret: string) {
    this.#webhook = new Webhook(secret);
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  static async start(secret: string): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver(secret);
    await receiver.up();
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}/hooks`;
  }

  /** Verified events, first arrival of each id, in arrival order. */
  events(filter: (event: ReceivedEvent) => boolean = () => true): ReceivedEvent[] {
    const seen = new Set<string>();
    const events: ReceivedEvent[] = [];
    for (const request of this.requests) {
      if (!request.verified || request.status < 200 || request.status >= 300) continue;
      const event = request.verified as unknown as ReceivedEvent;
      if (seen.has(event.id)) continue;
      seen.add(event.id);
      if (filter(event)) events.push(event);
    }
    return events;
  }

  /** Requests for one event id (every attempt). */
  attempts(eventId: string): ReceivedRequest[] {
    return this.requests.filter((r) => r.headers['webhook-id'] === eventId);
  }

  /** Verified events of one stream, in arrival order. */
  streamEvents(streamId: string): ReceivedEvent[] {
    return this.events((e) => e.data.streamId === streamId);
  }

  async waitFor<T>(
    what: string,
    check: () => T | undefined | false,
    timeoutMs = 10_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value !== undefined && value !== false) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Stops listening and drops every connection: the port refuses connections. */
  async down(): Promise<void> {
    if (!this.#listening) return;
    this.#listening = false;
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  /** Listens again, on the same port as before. */
  async up(): Promise<void> {
    if (this.#listening) return;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#port, '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#port = (this.#server.address() as AddressInfo).port;
    this.#listening = true;
  }

  stop(): Promise<void> {
    return this.down();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string') headers[name] = value;
    }
    const request: ReceivedRequest = {
      at: Date.now(),
      headers,
      body,
      verified: undefined,
      status: 0,
    };
    try {
      request.verified = this.#webhook.verify(body, headers) as Record<string, unknown>;
    } catch (error) {
      request.verifyError = (error as Error).message;
    }
    const attempt = this.requests.filter(
      (r) => r.headers['webhook-id'] === headers['webhook-id'],
    ).length;
    this.requests.push(request);
    const answer = request.verified ? this.respond(request, attempt + 1) : 401;
    const {
      status,
      delayMs = 0,
      headers: extra = {},
    } = typeof answer === 'number' ? { status: answer } : answer;
    request.status = status;
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    if (res.destroyed) return;
    res.writeHead(status, { 'Content-Type': 'text/plain', ...extra });
    res.end('ok');
  }
}
