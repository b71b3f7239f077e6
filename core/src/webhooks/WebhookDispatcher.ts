/**
 * Delivers the webhook outbox (WebhookOutbox.ts): claims due deliveries from the state store
 * with a lease, POSTs each signed event to its receiver with a timeout, and records the
 * outcome: delivered (2xx), retried later with exponential backoff and jitter (no answer,
 * timeout, 3xx, 408, 429, 5xx), or given up (any other 4xx, or the event is older than
 * `maxAgeMs`). Every node with webhooks configured runs one; the leases make each delivery
 * go out from one node at a time, and the per-stream queues keep a stream's events in order.
 *
 * Nothing here runs on the media path: the emitters only write to the outbox, and this
 * polls it (and is kicked when this process queued something, so an event usually leaves at
 * once). A store that is down makes it wait for the next poll.
 */
import { createLogger, type Logger } from '../logger.ts';
import type { WebhookDelivery, WebhookOutbox, WebhookOutcome } from '../store/WebhookOutbox.ts';
import type { WebhookSigner } from './signing.ts';

export interface WebhookDispatcherOptions {
  outbox: WebhookOutbox;
  signer: WebhookSigner;
  /** A receiver not answering within this is a failed attempt (`WEBHOOK_TIMEOUT_MS`). */
  timeoutMs: number;
  /** Events older than this are given up (`WEBHOOK_MAX_AGE_SECONDS`). */
  maxAgeMs: number;
  /** First retry delay and the cap of the doubling (`WEBHOOK_RETRY_BASE_MS`/`_MAX_MS`). */
  retryBaseMs: number;
  retryMaxMs: number;
  /** How often the outbox is polled. Default 1000 ms. */
  pollMs?: number;
  /** Deliveries in flight at once from this node. Default 16. */
  concurrency?: number;
  /** Sent as `User-Agent`. */
  userAgent?: string;
}

/** The delay before retry number `attempt` (1 = the first retry): base * 2^(attempt-1), capped, 50-100 %. */
export function retryDelayMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential * (0.5 + random() * 0.5));
}

/** What an HTTP status means for a delivery. */
export function classifyStatus(status: number): 'delivered' | 'retry' | 'dead' {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 408 || status === 429) return 'retry';
  if (status >= 400 && status < 500) return 'dead';
  return 'retry';
}

export class WebhookDispatcher {
  readonly #options: WebhookDispatcherOptions;
  readonly #log: Logger;
  readonly #abort = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #claiming: Promise<void> | undefined;
  #again = false;
  #storeFailing = false;
  #closed = false;

  constructor(options: WebhookDispatcherOptions) {
    this.#options = options;
    this.#log = createLogger('WebhookDispatcher');
  }

  /** Starts polling (and delivers what is due now). */
  start(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setInterval(() => this.kick(), this.#options.pollMs ?? 1000);
    this.#timer.unref();
    this.kick();
  }

  /** Looks at the outbox now (something was just queued, or a delivery finished). */
  kick(): void {
    if (this.#closed) return;
    if (this.#claiming) {
      this.#again = true;
      return;
    }
    this.#claiming = this.#claim().finally(() => {
      this.#claiming = undefined;
      if (this.#again) {
        this.#again = false;
        this.kick();
      }
    });
  }

  /** Deliveries in flight from this node. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /**
   * Stops claiming and aborts the deliveries in flight; their leases expire and another
   * node (or this one after a restart) sends them again. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#abort.abort();
    await this.#claiming;
    await Promise.allSettled([...this.#inFlight]);
  }

  async #claim(): Promise<void> {
    const concurrency = this.#options.concurrency ?? 16;
    const room = concurrency - this.#inFlight.size;
    if (room <= 0) return;
    let claimed: WebhookDelivery[];
    try {
      claimed = await this.#options.outbox.claimWebhookDeliveries({
        now: Date.now(),
        limit: room,
        // Long enough for the request and recording its outcome.
        leaseMs: this.#options.timeoutMs * 2 + 5000,
      });
      if (this.#storeFailing) this.#log.info('webhook outbox reachable again');
      this.#storeFailing = false;
    } catch (error) {
      if (!this.#closed && !this.#storeFailing) {
        this.#log.warn({ err: error }, 'cannot read the webhook outbox; retrying');
      }
      this.#storeFailing = true;
      return;
    }
    if (this.#closed) return;
    for (const delivery of claimed) {
      const running: Promise<void> = this.#deliver(delivery).finally(() => {
        this.#inFlight.delete(running);
        this.kick();
      });
      this.#inFlight.add(running);
    }
    if (claimed.length === room) this.#again = true;
  }

  async #deliver(delivery: WebhookDelivery): Promise<void> {
    const { event, target } = delivery;
    const log = this.#log.child({ eventId: event.id, type: event.type, target });
    const age = Date.now() - Date.parse(event.timestamp);
    let outcome: WebhookOutcome;
    if (age > this.#options.maxAgeMs) {
      outcome = { kind: 'dead', error: `expired: ${describeAge(age)} old` };
    } else {
      const result = await this.#post(delivery);
      if (this.#closed && result.aborted) return;
      outcome = this.#outcome(delivery, result, age);
    }
    if (outcome.kind === 'dead') {
      log.warn({ attempts: delivery.attempts + 1, error: outcome.error }, 'webhook given up');
    } else if (outcome.kind === 'retry') {
      log.info(
        { attempts: delivery.attempts + 1, error: outcome.error, retryAt: outcome.retryAt },
        'webhook delivery failed; will retry',
      );
    } else {
      log.debug({ attempts: delivery.attempts + 1 }, 'webhook delivered');
    }
    try {
      const kept = await this.#options.outbox.completeWebhookDelivery(delivery, outcome);
      if (!kept) log.warn('webhook lease expired before the delivery finished');
    } catch (error) {
      // The lease expires and the delivery is attempted again (at least once).
      log.warn({ err: error }, 'could not record the webhook outcome');
    }
  }

  #outcome(
    delivery: WebhookDelivery,
    result: { status?: number; retryAfterMs?: number; error: string },
    age: number,
  ): WebhookOutcome {
    const verdict = result.status === undefined ? 'retry' : classifyStatus(result.status);
    if (verdict === 'delivered') return { kind: 'delivered' };
    if (verdict === 'dead') return { kind: 'dead', error: result.error };
    const { retryBaseMs, retryMaxMs, maxAgeMs } = this.#options;
    const delay = Math.min(
      retryMaxMs,
      Math.max(
        retryDelayMs(delivery.attempts + 1, retryBaseMs, retryMaxMs),
        result.retryAfterMs ?? 0,
      ),
    );
    if (age + delay > maxAgeMs) {
      return {
        kind: 'dead',
        error: `gave up after ${delivery.attempts + 1} attempts over ${describeAge(age)}: ${result.error}`,
      };
    }
    return { kind: 'retry', retryAt: Date.now() + delay, error: result.error };
  }

  async #post(
    delivery: WebhookDelivery,
  ): Promise<{ status?: number; retryAfterMs?: number; error: string; aborted?: boolean }> {
    const body = JSON.stringify(delivery.event);
    const signal = AbortSignal.any([
      this.#abort.signal,
      AbortSignal.timeout(this.#options.timeoutMs),
    ]);
    try {
      const response = await fetch(delivery.target, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': this.#options.userAgent ?? 'wisp-webhooks',
          ...this.#options.signer.headers(delivery.event.id, body),
        },
        body,
        redirect: 'manual',
        signal,
      });
      // Only the status matters; don't keep the connection busy reading a body.
      await response.body?.cancel().catch(() => undefined);
      const retryAfter = Number(response.headers.get('retry-after'));
      return {
        status: response.status,
        error: `HTTP ${response.status}`,
        ...(Number.isFinite(retryAfter) && retryAfter > 0
          ? { retryAfterMs: retryAfter * 1000 }
          : {}),
      };
    } catch (error) {
      if (this.#abort.signal.aborted) return { error: 'aborted', aborted: true };
      const err = error as Error & { cause?: { code?: string; message?: string } };
      if (err.name === 'TimeoutError') {
        return { error: `no answer within ${this.#options.timeoutMs} ms` };
      }
      return { error: err.cause?.code ?? err.cause?.message ?? err.message };
    }
  }
}

function describeAge(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds < 120 ? `${seconds} s` : `${Math.round(seconds / 60)} min`;
}
