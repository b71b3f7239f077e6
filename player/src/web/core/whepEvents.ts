/**
 * The WHEP server-sent events extension (wish-wg webrtc-http-egress-events) for the player:
 * POST the wanted event names to the URL the 201 linked, then read the event stream it
 * creates with fetch (not EventSource: it is aborted with the session and never retried
 * against a URL that died with it). The parser is the `text/event-stream` format of the HTML
 * standard, small enough for the live bundle's budget.
 */
import { SignalingError } from './signaling.ts';

export const EVENTS_REL = 'urn:ietf:params:whep:ext:core:server-sent-events';

export interface SseMessage {
  event: string;
  data: string;
}

/**
 * A `text/event-stream` parser: feed it text as it arrives (any split, CRLF, LF or CR line
 * ends); it calls `onMessage` for each dispatched message. Comments, `id` and `retry` are
 * ignored; a message without data is not dispatched (as EventSource does).
 */
export function sseParser(onMessage: (message: SseMessage) => void): (chunk: string) => void {
  let buffer = '';
  let event = '';
  let data: string[] = [];
  return (chunk) => {
    buffer += chunk;
    // A trailing CR may be the first half of a CRLF: keep it for the next chunk.
    const lines = buffer.split(/\r\n|\r(?!$)|\n/);
    buffer = lines.pop() ?? '';
    for (const line of lines) {
      if (line === '') {
        if (data.length > 0) onMessage({ event: event || 'message', data: data.join('\n') });
        event = '';
        data = [];
        continue;
      }
      const colon = line.indexOf(':');
      if (colon === 0) continue;
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1));
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
  };
}

/**
 * Subscribes to `events` at the extension URL and reads the stream until `signal` aborts or
 * the server ends it (the session closed). Each message's data is JSON; others are skipped.
 * Rejects (SignalingError) only when the subscription itself is refused.
 */
export async function subscribeEvents(
  url: string,
  events: string[],
  onEvent: (event: string, data: Record<string, unknown>) => void,
  signal: AbortSignal,
): Promise<void> {
  const created = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(events),
    signal,
  });
  const location = created.headers.get('location');
  if (created.status !== 201 || !location) {
    throw new SignalingError(`event subscription refused: HTTP ${created.status}`, created.status);
  }
  void read(new URL(location, url).href, onEvent, signal);
}

async function read(
  url: string,
  onEvent: (event: string, data: Record<string, unknown>) => void,
  signal: AbortSignal,
): Promise<void> {
  const feed = sseParser(({ event, data }) => {
    try {
      onEvent(event, JSON.parse(data) as Record<string, unknown>);
    } catch {
      // Not JSON, or the listener threw: nothing for the player to do.
    }
  });
  try {
    const response = await fetch(url, { headers: { Accept: 'text/event-stream' }, signal });
    const reader = response.ok ? response.body?.getReader() : undefined;
    const decoder = new TextDecoder();
    for (;;) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) return;
      feed(decoder.decode(chunk.value, { stream: true }));
    }
  } catch {
    // Aborted with the session, or the connection broke: the events are over.
  }
}
