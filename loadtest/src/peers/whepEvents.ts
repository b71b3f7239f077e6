/**
 * The client side of the WHEP server-sent events extension (wish-wg
 * webrtc-http-egress-events) for the Node peers: find the extension's `Link` in a 201, POST the
 * events wanted, read the event stream (`eventsource-parser` over fetch; Node 20 has no
 * EventSource), DELETE it at the end.
 */
import { createParser } from 'eventsource-parser';
import { SignalingError } from './errors.ts';

export const EVENTS_REL = 'urn:ietf:params:whep:ext:core:server-sent-events';

export interface HeaderLink {
  url: string;
  rel: string[];
  params: Record<string, string>;
}

/** The Links of a header (several joined with ", " by fetch), URIs resolved against `base`. */
export function parseLinkHeader(header: string | undefined, base: string): HeaderLink[] {
  const links: HeaderLink[] = [];
  for (const part of (header ?? '').split(/,\s*(?=<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/s.exec(part);
    if (!match) continue;
    const params: Record<string, string> = {};
    for (const [, name, quoted, token] of match[2].matchAll(
      /;\s*([\w*-]+)\s*(?:=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*)))?/g,
    )) {
      params[name.toLowerCase()] = (quoted ?? token ?? '').trim();
    }
    let url = match[1];
    try {
      url = new URL(url, base).href;
    } catch {
      // Not a URL we can resolve (an ICE URI): kept as written.
    }
    links.push({ url, rel: (params.rel ?? '').toLowerCase().split(/\s+/), params });
  }
  return links;
}

/** The events extension's URL and the events it offers, if the 201 linked it. */
export function findEventsLink(
  header: string | undefined,
  base: string,
): { url: string; events: string[] } | undefined {
  const link = parseLinkHeader(header, base).find((l) => l.rel.includes(EVENTS_REL));
  if (!link) return undefined;
  const events = (link.params.events ?? '').split(',').map((e) => e.trim());
  return { url: link.url, events: events.filter(Boolean) };
}

export interface WhepEvent {
  event: string;
  data: unknown;
}

/** One subscription: POSTed, then read until closed or the server ends it. */
export class WhepEventStream {
  readonly url: string;
  readonly #abort = new AbortController();
  readonly #listener: (event: WhepEvent) => void;
  #closed = false;
  /** Resolves when the stream ended (server closed it, network error, or `close()`). */
  readonly ended: Promise<void>;

  private constructor(url: string, listener: (event: WhepEvent) => void) {
    this.url = url;
    this.#listener = listener;
    this.ended = this.#read();
  }

  /** POSTs `events` to the extension's URL and starts reading the stream it creates. */
  static async open(
    extensionUrl: string,
    events: string[],
    listener: (event: WhepEvent) => void,
    options: { timeoutMs?: number } = {},
  ): Promise<WhepEventStream> {
    const response = await fetch(extensionUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(events),
      signal: AbortSignal.timeout(options.timeoutMs ?? 8000),
    });
    const location = response.headers.get('location');
    await response.text().catch(() => '');
    if (response.status !== 201 || !location) {
      throw new SignalingError(`POST ${extensionUrl} returned ${response.status}`, response.status);
    }
    return new WhepEventStream(new URL(location, extensionUrl).href, listener);
  }

  async #read(): Promise<void> {
    try {
      const response = await fetch(this.url, {
        headers: { Accept: 'text/event-stream' },
        signal: this.#abort.signal,
      });
      if (!response.ok || !response.body) return;
      const parser = createParser({
        onEvent: ({ event, data }) => {
          let parsed: unknown;
          try {
            parsed = JSON.parse(data);
          } catch {
            parsed = data;
          }
          this.#listener({ event: event ?? 'message', data: parsed });
        },
      });
      const decoder = new TextDecoder();
      for await (const chunk of response.body) parser.feed(decoder.decode(chunk, { stream: true }));
    } catch {
      // Aborted by close(), or the connection broke: the stream is over either way.
    }
  }

  /** Stops reading and DELETEs the event stream (quietly: the session may be gone already). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    await fetch(this.url, { method: 'DELETE', signal: AbortSignal.timeout(3000) })
      .then((r) => r.text())
      .catch(() => undefined);
  }
}
