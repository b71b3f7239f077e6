/**
 * The webhook outbox of the embedded store (WebhookOutbox.ts): plain data the store copies,
 * changes and persists with the rest of its state, and the functions that change it. Leases
 * are kept in memory only: one process uses the file, and after a restart no delivery is in
 * flight, so every lease is void anyway.
 *
 * Changes never modify an entry in place: they replace it, so a copy of the maps (what the
 * store's `#mutate` works on) never shares a changed object with the committed state.
 */
import { randomUUID } from 'node:crypto';
import {
  MAX_DEAD_WEBHOOKS,
  toWebhookEvent,
  webhookQueueId,
  type DeadWebhook,
  type WebhookDelivery,
  type WebhookEvent,
  type WebhookOutboxStats,
  type WebhookOutcome,
} from './WebhookOutbox.ts';

export interface OutboxQueue {
  id: string;
  target: string;
  streamId: string;
  /** Oldest first; the head is the one being delivered. */
  eventIds: string[];
  /** When the head is due (ms since the epoch). */
  dueAt: number;
  attempts: number;
  lastError?: string;
}

export interface OutboxEntry {
  event: WebhookEvent;
  /** Queues still holding it. */
  pending: number;
}

export interface OutboxState {
  events: Map<string, OutboxEntry>;
  queues: Map<string, OutboxQueue>;
  /** Newest first. */
  dead: DeadWebhook[];
}

/** What the state file holds under `webhooks`. */
export interface OutboxFile {
  events: OutboxEntry[];
  queues: OutboxQueue[];
  dead: DeadWebhook[];
}

export type Leases = Map<string, { token: string; until: number }>;

export function emptyOutbox(): OutboxState {
  return { events: new Map(), queues: new Map(), dead: [] };
}

/** New maps over the same (never modified) entries. */
export function copyOutbox(state: OutboxState): OutboxState {
  return { events: new Map(state.events), queues: new Map(state.queues), dead: state.dead };
}

export function enqueue(
  state: OutboxState,
  event: WebhookEvent,
  targets: readonly string[],
  now: number,
): boolean {
  if (state.events.has(event.id)) return false;
  const unique = [...new Set(targets)];
  if (unique.length === 0) return true;
  state.events.set(event.id, { event: structuredClone(event), pending: unique.length });
  for (const target of unique) {
    const id = webhookQueueId(target, event.data.streamId);
    const queue = state.queues.get(id);
    state.queues.set(
      id,
      queue
        ? { ...queue, eventIds: [...queue.eventIds, event.id] }
        : {
            id,
            target,
            streamId: event.data.streamId,
            eventIds: [event.id],
            dueAt: now,
            attempts: 0,
          },
    );
  }
  return true;
}

export function claim(
  state: OutboxState,
  leases: Leases,
  options: { now: number; limit: number; leaseMs: number },
): WebhookDelivery[] {
  const { now, limit, leaseMs } = options;
  const due = [...state.queues.values()]
    .filter((q) => q.dueAt <= now && (leases.get(q.id)?.until ?? 0) <= now)
    .sort((a, b) => a.dueAt - b.dueAt || (a.id < b.id ? -1 : 1))
    .slice(0, Math.max(0, limit));
  const claimed: WebhookDelivery[] = [];
  for (const queue of due) {
    const entry = state.events.get(queue.eventIds[0]);
    if (!entry) continue;
    const token = randomUUID();
    leases.set(queue.id, { token, until: now + leaseMs });
    claimed.push({
      queue: queue.id,
      target: queue.target,
      event: structuredClone(entry.event),
      attempts: queue.attempts,
      ...(queue.lastError !== undefined ? { lastError: queue.lastError } : {}),
      lease: token,
    });
  }
  return claimed;
}

export function complete(
  state: OutboxState,
  leases: Leases,
  delivery: WebhookDelivery,
  outcome: WebhookOutcome,
  now: number,
): boolean {
  const queue = state.queues.get(delivery.queue);
  if (leases.get(delivery.queue)?.token !== delivery.lease || !queue) return false;
  if (queue.eventIds[0] !== delivery.event.id) return false;
  // The lease stays until the change is committed (see releaseLease): until then a claim
  // still reads the old state, where this head is due.
  if (outcome.kind === 'retry') {
    state.queues.set(queue.id, {
      ...queue,
      dueAt: outcome.retryAt,
      attempts: queue.attempts + 1,
      lastError: outcome.error,
    });
    return true;
  }
  if (outcome.kind === 'dead') {
    const dead: DeadWebhook = {
      target: queue.target,
      event: structuredClone(delivery.event),
      attempts: queue.attempts + 1,
      error: outcome.error,
      deadAt: new Date(now).toISOString(),
    };
    state.dead = [dead, ...state.dead].slice(0, MAX_DEAD_WEBHOOKS);
  }
  const [eventId, ...rest] = queue.eventIds;
  const entry = state.events.get(eventId);
  if (entry && entry.pending > 1)
    state.events.set(eventId, { ...entry, pending: entry.pending - 1 });
  else state.events.delete(eventId);
  if (rest.length === 0) state.queues.delete(queue.id);
  else {
    const next: OutboxQueue = { ...queue, eventIds: rest, dueAt: now, attempts: 0 };
    delete next.lastError;
    state.queues.set(queue.id, next);
  }
  return true;
}

/** Ends a lease once its completion is committed. */
export function releaseLease(leases: Leases, delivery: WebhookDelivery): void {
  if (leases.get(delivery.queue)?.token === delivery.lease) leases.delete(delivery.queue);
}

export function stats(state: OutboxState): WebhookOutboxStats {
  let pending = 0;
  for (const queue of state.queues.values()) pending += queue.eventIds.length;
  return { pending, dead: state.dead.length };
}

export function toOutboxFile(state: OutboxState): OutboxFile {
  return {
    events: [...state.events.values()],
    queues: [...state.queues.values()],
    dead: state.dead,
  };
}

/** Reads the `webhooks` member of a state file; a string says what is wrong with it. */
export function fromOutboxFile(value: unknown): OutboxState | string {
  if (value === undefined) return emptyOutbox();
  if (typeof value !== 'object' || value === null) return '"webhooks" is not an object';
  const { events, queues, dead } = value as Partial<OutboxFile>;
  if (!Array.isArray(events) || !Array.isArray(queues) || !Array.isArray(dead)) {
    return '"webhooks" lacks its events, queues or dead lists';
  }
  const state = emptyOutbox();
  for (const [index, entry] of events.entries()) {
    const event = toWebhookEvent((entry as Partial<OutboxEntry> | null)?.event);
    const pending = (entry as Partial<OutboxEntry> | null)?.pending;
    if (!event || typeof pending !== 'number') return `webhook event #${index} is malformed`;
    state.events.set(event.id, { event, pending });
  }
  for (const [index, queue] of queues.entries()) {
    const q = queue as Partial<OutboxQueue> | null;
    if (
      !q ||
      typeof q.id !== 'string' ||
      typeof q.target !== 'string' ||
      typeof q.streamId !== 'string' ||
      !Array.isArray(q.eventIds) ||
      typeof q.dueAt !== 'number' ||
      typeof q.attempts !== 'number'
    ) {
      return `webhook queue #${index} is malformed`;
    }
    state.queues.set(q.id, q as OutboxQueue);
  }
  state.dead = dead;
  return state;
}
