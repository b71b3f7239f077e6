/**
 * The WHEP server-sent events extension (wish-wg webrtc-http-egress-events, "Server Sent
 * Events"): the 201 of a WHEP session links `{session}/events` with
 * `rel="urn:ietf:params:whep:ext:core:server-sent-events"` and the events it offers; the client
 * POSTs a JSON array of event names there and gets the `Location` of an event stream, which it
 * GETs as `text/event-stream` (each message an `event:` line and one `data:` JSON line).
 *
 * A session holds its event streams (`SessionEvents`); each stream queues what it was sent
 * while no reader is attached (between the POST and the GET, or while the client reconnects
 * its GET) and hands it over when one is. Everything ends with the session: the open GETs
 * finish after their last message (an `inactive` when the publisher left, say), and later
 * requests get 404 because the session is gone.
 */
import { randomBytes } from 'node:crypto';

export const EVENTS_REL = 'urn:ietf:params:whep:ext:core:server-sent-events';

/**
 * What wisp sends: `active` (on subscribing: a WHEP session exists only while its stream is
 * live), `inactive` (the publisher left; the session closes right after), `reconnect` with
 * `{url}` (this edge is draining: make a new session there), `viewercount`.
 */
export const WHEP_EVENTS = ['active', 'inactive', 'reconnect', 'viewercount'] as const;
export type WhepEventName = (typeof WHEP_EVENTS)[number];

/** Event streams one session may hold at once. */
export const MAX_EVENT_STREAMS = 4;
/** Messages kept for a stream nobody reads; older ones are dropped first. */
const MAX_QUEUED = 32;

export interface EventMessage {
  event: WhepEventName;
  /** One line of JSON. */
  data: string;
}

/** The open GET of an event stream. */
export interface EventReader {
  write(message: EventMessage): void;
  /** The stream ended (deleted, replaced by another GET, or the session closed). */
  end(): void;
}

export function isWhepEvent(name: unknown): name is WhepEventName {
  return typeof name === 'string' && (WHEP_EVENTS as readonly string[]).includes(name);
}

export class EventStream {
  readonly id = randomBytes(12).toString('base64url');
  readonly events: ReadonlySet<WhepEventName>;
  /** The last `viewercount` sent, so an unchanged count is not sent again. */
  lastViewercount: number | undefined;
  #queue: EventMessage[] = [];
  #reader: EventReader | undefined;
  #closed = false;

  constructor(events: Iterable<WhepEventName>) {
    this.events = new Set(events);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends (or queues) an event the client subscribed to; false when it did not. */
  send(event: WhepEventName, data: object): boolean {
    if (this.#closed || !this.events.has(event)) return false;
    const message = { event, data: JSON.stringify(data) };
    if (this.#reader) this.#reader.write(message);
    else {
      this.#queue.push(message);
      if (this.#queue.length > MAX_QUEUED) this.#queue.shift();
    }
    return true;
  }

  /** A GET took the stream: it gets what was queued, and any earlier GET ends. */
  attach(reader: EventReader): void {
    if (this.#closed) {
      reader.end();
      return;
    }
    const previous = this.#reader;
    this.#reader = reader;
    previous?.end();
    for (const message of this.#queue.splice(0)) reader.write(message);
  }

  /** The GET went away (the client closed it); later messages queue again. */
  detach(reader: EventReader): void {
    if (this.#reader === reader) this.#reader = undefined;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    const reader = this.#reader;
    this.#reader = undefined;
    reader?.end();
  }
}

/** The event streams of one WHEP session. */
export class SessionEvents {
  readonly #streams = new Map<string, EventStream>();
  #closed = false;

  get closed(): boolean {
    return this.#closed;
  }

  /** A new event stream, or undefined when the session already holds `MAX_EVENT_STREAMS`. */
  subscribe(events: Iterable<WhepEventName>): EventStream | undefined {
    if (this.#closed || this.#streams.size >= MAX_EVENT_STREAMS) return undefined;
    const stream = new EventStream(events);
    this.#streams.set(stream.id, stream);
    return stream;
  }

  get(id: string): EventStream | undefined {
    return this.#streams.get(id);
  }

  /** DELETE of an event stream: true when it existed. */
  remove(id: string): boolean {
    const stream = this.#streams.get(id);
    if (!stream) return false;
    this.#streams.delete(id);
    stream.close();
    return true;
  }

  /** Sends to every stream subscribed to `event`; how many took it. */
  send(event: WhepEventName, data: object): number {
    let sent = 0;
    for (const stream of this.#streams.values()) if (stream.send(event, data)) sent++;
    return sent;
  }

  /** `viewercount` to the streams that want it and have not been told this count yet. */
  sendViewercount(count: number): void {
    for (const stream of this.#streams.values()) {
      if (stream.lastViewercount === count || !stream.events.has('viewercount')) continue;
      stream.lastViewercount = count;
      stream.send('viewercount', { viewercount: count });
    }
  }

  wants(event: WhepEventName): boolean {
    for (const stream of this.#streams.values()) if (stream.events.has(event)) return true;
    return false;
  }

  /** The session ended: every stream ends after what it was already sent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const stream of this.#streams.values()) stream.close();
    this.#streams.clear();
  }
}
