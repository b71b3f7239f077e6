/**
 * The webhook outbox: events waiting to be delivered to the webhook receivers, kept in the
 * state store (the embedded file or Redis) so that a restart loses none and every node of a
 * cluster sees the same queue. Both adapters implement it and the shared store suite
 * (core/test/support/storeSuite.ts) covers it.
 *
 * Model: every event is queued once per target (receiver URL) behind the earlier events of
 * the same stream for that target, so a (target, stream) pair is a FIFO queue. Only the head
 * of a queue can be claimed, and a claimed head is leased to one dispatcher until it is
 * completed or the lease expires: a stream's events reach a receiver in order, each from one
 * node at a time, and the next one only after the previous was delivered or given up.
 * Delivery is at least once: a dispatcher that dies mid-delivery loses its lease, and the
 * event is sent again after the lease expires.
 */
import { createHash } from 'node:crypto';

/** An event as receivers get it (the JSON body of the webhook), `data.streamId` always set. */
export interface WebhookEvent {
  /** `msg_...`: the `webhook-id` header, the same on every retry. */
  id: string;
  /** `stream.started`, `stream.ended`, `stream.key_rotated`, ... */
  type: string;
  /** ISO-8601: when the event happened. */
  timestamp: string;
  data: { streamId: string } & Record<string, unknown>;
}

/** One claimed delivery: the head of a (target, stream) queue, leased to the claimer. */
export interface WebhookDelivery {
  /** The queue: identifies the (target, stream) pair. */
  queue: string;
  /** The receiver URL. */
  target: string;
  event: WebhookEvent;
  /** Attempts made before this one (0 on the first). */
  attempts: number;
  /** The last failure, when there was one. */
  lastError?: string;
  /** The lease token: completing with another one (the lease expired and moved) is refused. */
  lease: string;
}

/** What became of a claimed delivery. */
export type WebhookOutcome =
  /** The receiver answered 2xx: the next event of the queue becomes due. */
  | { kind: 'delivered' }
  /** Try again at `retryAt` (ms since the epoch). */
  | { kind: 'retry'; retryAt: number; error: string }
  /** Given up (a 4xx, or the event is too old): dead-lettered, the next event becomes due. */
  | { kind: 'dead'; error: string };

/** A delivery that was given up, kept for operators (newest first, the last 1000). */
export interface DeadWebhook {
  target: string;
  event: WebhookEvent;
  attempts: number;
  error: string;
  /** ISO-8601: when it was given up. */
  deadAt: string;
}

export interface WebhookOutboxStats {
  /** Deliveries not yet delivered or given up (one per event and target). */
  pending: number;
  /** Dead-lettered deliveries kept. */
  dead: number;
}

/** At most this many dead letters are kept. */
export const MAX_DEAD_WEBHOOKS = 1000;

export interface WebhookOutbox {
  /**
   * Queues `event` for each of `targets`, behind the stream's earlier events for that target;
   * a queue that was empty is due at once. Idempotent on the event id: returns false (and
   * changes nothing) when an event with that id is still in the outbox.
   */
  enqueueWebhook(event: WebhookEvent, targets: readonly string[]): Promise<boolean>;
  /**
   * Claims up to `limit` due deliveries (the heads of queues due at `now`, oldest due first,
   * not leased by anyone) and leases each until `now + leaseMs`.
   */
  claimWebhookDeliveries(options: {
    now: number;
    limit: number;
    leaseMs: number;
  }): Promise<WebhookDelivery[]>;
  /**
   * Records what became of a claimed delivery. Returns false, changing nothing, when the
   * lease is no longer this one's (it expired and another claimer has the delivery now).
   */
  completeWebhookDelivery(delivery: WebhookDelivery, outcome: WebhookOutcome): Promise<boolean>;
  /** The dead letters, newest first. */
  listDeadWebhooks(limit?: number): Promise<DeadWebhook[]>;
  webhookOutboxStats(): Promise<WebhookOutboxStats>;
}

/** The queue id of a (target, stream) pair: a short hash of the URL, then the stream id. */
export function webhookQueueId(target: string, streamId: string): string {
  return `${createHash('sha256').update(target).digest('hex').slice(0, 16)}:${streamId}`;
}

/** Checks the shape of an event handed to a store (a caller bug: TypeError). */
export function assertWebhookEvent(event: WebhookEvent): void {
  if (!toWebhookEvent(event)) throw new TypeError('malformed webhook event');
}

/** The event when `value` has the shape of one, else undefined (read back from storage). */
export function toWebhookEvent(value: unknown): WebhookEvent | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.id !== 'string' || v.id === '') return undefined;
  if (typeof v.type !== 'string' || v.type === '') return undefined;
  if (typeof v.timestamp !== 'string' || Number.isNaN(Date.parse(v.timestamp))) return undefined;
  const data = v.data as Record<string, unknown> | undefined;
  if (typeof data !== 'object' || data === null || typeof data.streamId !== 'string') {
    return undefined;
  }
  if (data.streamId === '') return undefined;
  return { id: v.id, type: v.type, timestamp: v.timestamp, data: data as WebhookEvent['data'] };
}
