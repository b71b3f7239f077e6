import type { CloseReason } from './PeerTransport.ts';

/**
 * The reasons for which a session ended because its client's connection did (close_notify,
 * DTLS failure, ICE or traffic lost): the cases where a DELETE may still be on its way. A
 * session the server ended (DELETE, takeover, key revoked, shutdown) answers 404 as before
 * (conformance F5).
 */
const CLIENT_ENDED: ReadonlySet<CloseReason> = new Set<CloseReason>([
  'dtls-closed',
  'dtls-failed',
  'ice-disconnected',
  'inactive',
  // A draining edge closed it: a viewer that moved to another edge DELETEs it a moment later.
  'drained',
]);

/**
 * Sessions that ended a moment ago, so that a client's DELETE after its connection already
 * closed answers 200 instead of 404. Some clients close first and DELETE afterwards (the
 * `whip-whep` package by the author of the WHIP and WHEP specs does), and a 404 there reads
 * as "that session never existed". Entries expire after `graceMs`; the map is bounded so a
 * flood of short sessions cannot grow it without limit.
 */
export class EndedSessions {
  readonly #graceMs: number;
  readonly #max: number;
  /** Insertion-ordered: the oldest entries come first. */
  readonly #ended = new Map<string, { streamId: string; endedAt: number }>();

  constructor(options: { graceMs: number; max?: number }) {
    this.#graceMs = options.graceMs;
    this.#max = options.max ?? 10_000;
  }

  /** Remembers a session that ended for `reason`, if its client may still DELETE it. */
  add(sessionId: string, streamId: string, reason: CloseReason, now = Date.now()): void {
    if (this.#graceMs <= 0 || !CLIENT_ENDED.has(reason)) return;
    this.#purge(now);
    this.#ended.delete(sessionId);
    this.#ended.set(sessionId, { streamId, endedAt: now });
    while (this.#ended.size > this.#max) {
      this.#ended.delete(this.#ended.keys().next().value!);
    }
  }

  /** The stream of a session that ended within the grace period, if any. */
  streamOf(sessionId: string, now = Date.now()): string | undefined {
    this.#purge(now);
    return this.#ended.get(sessionId)?.streamId;
  }

  get size(): number {
    return this.#ended.size;
  }

  #purge(now: number): void {
    for (const [id, entry] of this.#ended) {
      if (now - entry.endedAt < this.#graceMs) break;
      this.#ended.delete(id);
    }
  }
}
