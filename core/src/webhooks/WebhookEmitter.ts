/**
 * Where events enter the webhook outbox. `emit` never throws and never waits: it hands the
 * event to a per-stream chain that writes it to the state store (so a stream's events are
 * queued in the order they were emitted) and retries a failed write for up to a minute (a
 * Redis restart), then tells the dispatcher. The media path only ever calls `emit`.
 */
import { createLogger, type Logger } from '../logger.ts';
import type { WebhookEvent, WebhookOutbox } from '../store/WebhookOutbox.ts';
import { webhookEvent, type WebhookEventData, type WebhookEventType } from './events.ts';

export interface WebhookEmitterOptions {
  outbox: WebhookOutbox;
  /** The receivers (`WEBHOOK_URLS`). */
  targets: readonly string[];
  /** Called after an event was queued (kicks the local dispatcher). */
  onQueued?: (event: WebhookEvent) => void;
  /** How long a failing write is retried. Default 60000 ms. */
  retryForMs?: number;
}

export class WebhookEmitter {
  readonly #options: WebhookEmitterOptions;
  readonly #log: Logger;
  /** The tail of each stream's chain of writes. */
  readonly #chains = new Map<string, Promise<void>>();
  #closed = false;

  constructor(options: WebhookEmitterOptions) {
    this.#options = options;
    this.#log = createLogger('WebhookEmitter');
  }

  /** Queues an event of `type` (id: fresh, or `options.id` to make a repeat a no-op). */
  emit<T extends WebhookEventType>(
    type: T,
    data: WebhookEventData[T],
    options: { id?: string; at?: Date } = {},
  ): WebhookEvent | undefined {
    if (this.#closed || this.#options.targets.length === 0) return undefined;
    const event = webhookEvent(type, data, options);
    const { streamId } = event.data;
    const previous = this.#chains.get(streamId) ?? Promise.resolve();
    const next = previous.then(() => this.#write(event));
    this.#chains.set(streamId, next);
    void next.finally(() => {
      if (this.#chains.get(streamId) === next) this.#chains.delete(streamId);
    });
    return event;
  }

  /** Events emitted but not yet in the outbox. */
  get pendingWrites(): number {
    return this.#chains.size;
  }

  /** Waits (at most `timeoutMs`) for the writes in progress, then takes no more events. */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.#chains.values()]),
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
    if (this.#chains.size > 0) {
      this.#log.error({ streams: this.#chains.size }, 'webhook events not queued at shutdown');
    }
  }

  async #write(event: WebhookEvent): Promise<void> {
    const deadline = Date.now() + (this.#options.retryForMs ?? 60_000);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#options.outbox.enqueueWebhook(event, this.#options.targets);
        this.#options.onQueued?.(event);
        return;
      } catch (error) {
        const closedStore = error instanceof Error && /closed/.test(error.message);
        if (closedStore || Date.now() >= deadline) {
          this.#log.error(
            { err: error, eventId: event.id, type: event.type, streamId: event.data.streamId },
            'webhook event lost: the outbox could not be written',
          );
          return;
        }
        if (attempt === 1) {
          this.#log.warn(
            { err: error, eventId: event.id },
            'cannot queue a webhook event; retrying',
          );
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 250 * 2 ** attempt)));
      }
    }
  }
}
