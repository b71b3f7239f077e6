/**
 * The WHEP server-sent events extension on a real platform (one process, real mediasoup,
 * libwebrtc viewers): the 201's Link, subscribing, the event-stream format, CORS, DELETE and
 * the stream's end with its session, `viewercount`, `inactive` when the publisher leaves, and
 * `reconnect` when the edge drains.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  EVENTS_REL,
  WhepEventStream,
  WrtcPublisher,
  WrtcViewer,
  findEventsLink,
  type WhepEvent,
} from '@wisp/loadtest';
import { startPlatform, type TestPlatform } from '../support/platform.ts';

let t: TestPlatform | undefined;
const closers: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  while (closers.length) await closers.pop()!().catch(() => undefined);
  await t?.stop();
  t = undefined;
});

async function live(env: Record<string, string> = {}) {
  t = await startPlatform(env);
  const stream = await t.createStream();
  const publisher = await WrtcPublisher.start({
    whipUrl: stream.whipUrl,
    streamKey: stream.streamKey,
  });
  closers.push(() => publisher.close());
  await publisher.waitConnected(10_000);
  return { stream, publisher };
}

async function viewer(whepUrl: string): Promise<WrtcViewer> {
  const v = await WrtcViewer.start({ whepUrl });
  closers.push(() => v.close());
  return v;
}

function eventsLinkOf(v: WrtcViewer): { url: string; events: string[] } {
  const link = findEventsLink(v.responseHeaders.link, v.location!);
  expect(link).toBeDefined();
  return link!;
}

async function subscribe(url: string, events: string[]) {
  const received: WhepEvent[] = [];
  const stream = await WhepEventStream.open(url, events, (e) => received.push(e));
  closers.push(() => stream.close());
  return { stream, received };
}

describe('WHEP server-sent events', () => {
  it('links the extension from the 201 and refuses events it does not offer', async () => {
    const { stream } = await live();
    const v = await viewer(stream.whepUrl);
    expect(v.responseHeaders.link).toContain(`rel="${EVENTS_REL}"`);
    const link = eventsLinkOf(v);
    expect(link.url).toBe(`${v.location}/events`);
    expect(link.events).toEqual(['active', 'inactive', 'reconnect', 'viewercount']);
    const post = (body: string, type = 'application/json') =>
      fetch(link.url, { method: 'POST', headers: { 'Content-Type': type }, body });
    for (const body of ['["not-an-event"]', '["active","layers"]', '[]', '{"events":[]}']) {
      const refused = await post(body);
      expect(refused.status, body).toBe(400);
      expect(refused.headers.get('content-type')).toContain('application/problem+json');
    }
    expect((await post('["active"]', 'text/plain')).status).toBe(415);
  });

  it('streams `event:` + one `data:` line, cross-origin, and DELETE ends it', async () => {
    const { stream } = await live();
    const v = await viewer(stream.whepUrl);
    const link = eventsLinkOf(v);
    const preflight = await fetch(link.url, {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://elsewhere.example',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type',
      },
    });
    expect(preflight.status).toBe(200);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    const created = await fetch(link.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: 'https://elsewhere.example' },
      body: '["active","viewercount"]',
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('access-control-allow-origin')).toBe('*');
    expect(created.headers.get('access-control-expose-headers')).toContain('Location');
    const location = created.headers.get('location')!;
    expect(location.startsWith(`${link.url}/`)).toBe(true);
    const abort = new AbortController();
    const response = await fetch(location, { signal: abort.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.getReader();
    let text = '';
    const decoder = new TextDecoder();
    while (!text.includes('event: viewercount')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    while (!/event: viewercount\ndata: [^\n]*\n\n/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    expect(text).toMatch(/^event: active\ndata: \{\}\n\n/);
    expect(text).toContain('event: viewercount\ndata: {"viewercount":1}\n\n');
    // DELETE ends the open GET, and the stream is gone.
    expect((await fetch(location, { method: 'DELETE' })).status).toBe(200);
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
    expect((await fetch(location)).status).toBe(404);
    expect((await fetch(location, { method: 'DELETE' })).status).toBe(404);
  });

  it('counts viewers (debounced), and dies with its session', async () => {
    const { stream } = await live();
    const first = await viewer(stream.whepUrl);
    const { stream: events, received } = await subscribe(eventsLinkOf(first).url, ['viewercount']);
    const counts = () =>
      received
        .filter((e) => e.event === 'viewercount')
        .map((e) => (e.data as { viewercount: number }).viewercount);
    await expect.poll(counts, { timeout: 5000 }).toEqual([1]);
    // Three joins in a row: one update, not three.
    const others = await Promise.all([1, 2, 3].map(() => viewer(stream.whepUrl)));
    await expect.poll(counts, { timeout: 5000 }).toEqual([1, 4]);
    await others[0].close();
    await expect.poll(counts, { timeout: 5000 }).toEqual([1, 4, 3]);
    // The session ends: its event stream ends, and is gone.
    await first.close();
    await events.ended;
    expect((await fetch(events.url)).status).toBe(404);
  });

  it('sends `inactive` when the publisher leaves', async () => {
    const { stream, publisher } = await live();
    const v = await viewer(stream.whepUrl);
    const { stream: events, received } = await subscribe(eventsLinkOf(v).url, [
      'active',
      'inactive',
    ]);
    await expect.poll(() => received.map((e) => e.event)).toEqual(['active']);
    await publisher.close();
    await events.ended;
    expect(received.map((e) => e.event)).toEqual(['active', 'inactive']);
  });

  it('sends `reconnect` with the front-door URL when the edge drains, then closes', async () => {
    const { stream } = await live();
    const withEvents = await viewer(stream.whepUrl);
    const without = await viewer(stream.whepUrl);
    await Promise.all([withEvents.waitForFrames(3), without.waitForFrames(3)]);
    const { stream: events, received } = await subscribe(eventsLinkOf(withEvents).url, [
      'reconnect',
    ]);
    const edge = t!.platform.edge;
    const drainedAt = Date.now();
    edge.drain({
      spreadMs: 200,
      graceMs: 1500,
      reconnectUrl: (id) => `${t!.baseUrl}/whep/${id}`,
    });
    // New viewers are refused at once.
    await expect(WrtcViewer.start({ whepUrl: stream.whepUrl })).rejects.toThrow(/503/);
    await expect.poll(() => received.map((e) => e.event), { timeout: 2000 }).toEqual(['reconnect']);
    expect(received[0].data).toEqual({ url: stream.whepUrl });
    // The viewer without events is closed at once; the other after the grace.
    await expect.poll(() => edge.viewerCount(), { timeout: 1000 }).toBe(1);
    await events.ended;
    expect(Date.now() - drainedAt).toBeGreaterThanOrEqual(1400);
    expect(edge.viewerCount()).toBe(0);
    // A client that moved DELETEs its old session afterwards: that is not an error.
    expect((await fetch(withEvents.location!, { method: 'DELETE' })).status).toBe(200);
  });
});
