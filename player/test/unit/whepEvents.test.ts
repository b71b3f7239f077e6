/**
 * The player's WHEP events client: the `text/event-stream` parser on its own (line ends,
 * chunks split anywhere, comments, multi-line data), and the subscription against a real HTTP
 * server streaming with Hono's streamSSE (POST of the names, relative Location, JSON data,
 * abort ends the read).
 */
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sseParser, subscribeEvents } from '../../src/web/core/whepEvents.ts';
import type { SseMessage } from '../../src/web/core/whepEvents.ts';

function parse(chunks: string[]): SseMessage[] {
  const messages: SseMessage[] = [];
  const feed = sseParser((m) => messages.push(m));
  for (const chunk of chunks) feed(chunk);
  return messages;
}

describe('sseParser', () => {
  it('dispatches event and data on a blank line', () => {
    expect(parse(['event: reconnect\ndata: {"url":"u"}\n\nevent: active\ndata: {}\n\n'])).toEqual([
      { event: 'reconnect', data: '{"url":"u"}' },
      { event: 'active', data: '{}' },
    ]);
  });

  it('takes chunks split anywhere, and CRLF, CR or LF line ends', () => {
    // (A CR that ends the input so far may be half a CRLF: what follows it decides.)
    const text =
      'event: viewercount\r\ndata: {"viewercount":3}\r\n\r\nevent: a\rdata: 1\r\r: more\n';
    const whole = parse([text]);
    expect(whole).toEqual([
      { event: 'viewercount', data: '{"viewercount":3}' },
      { event: 'a', data: '1' },
    ]);
    for (let i = 1; i < text.length; i++) {
      expect(parse([text.slice(0, i), text.slice(i)]), `split at ${i}`).toEqual(whole);
    }
    expect(parse([...text])).toEqual(whole);
  });

  it('skips comments and messages without data; joins data lines; defaults to message', () => {
    expect(
      parse([
        ': keepalive\n\n',
        'event: nothing\n\n',
        'data: one\ndata:two\nid: 7\nretry: 100\n\n',
        'event: x\ndata\n\n',
      ]),
    ).toEqual([
      { event: 'message', data: 'one\ntwo' },
      { event: 'x', data: '' },
    ]);
  });

  it('waits for the blank line before dispatching', () => {
    expect(parse(['event: reconnect\ndata: {}\n'])).toEqual([]);
  });
});

describe('subscribeEvents', () => {
  let server: Server;
  let base: string;
  const posted: unknown[] = [];
  let aborted = false;

  beforeAll(async () => {
    const app = new Hono();
    app.post('/whep/s1/sess/events', async (c) => {
      posted.push(await c.req.json());
      return c.body(null, 201, { Location: 'events/e1' });
    });
    app.post('/whep/s1/refused/events', (c) => c.json({ title: 'Bad Request' }, 400));
    app.get('/whep/s1/sess/events/e1', (c) =>
      streamSSE(c, async (stream) => {
        stream.onAbort(() => {
          aborted = true;
        });
        await stream.writeSSE({ event: 'active', data: '{}' });
        await stream.write(': keepalive\n\n');
        await stream.writeSSE({ event: 'viewercount', data: '{"viewercount":5}' });
        await stream.writeSSE({ event: 'broken', data: 'not json' });
        await stream.writeSSE({ event: 'reconnect', data: '{"url":"https://x/whep/s1"}' });
        // Held open until the client goes away.
        while (!aborted) await stream.sleep(20);
      }),
    );
    await new Promise<void>((resolve) => {
      server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
        base = `http://127.0.0.1:${info.port}`;
        resolve();
      }) as Server;
    });
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('POSTs the names, follows the relative Location and hands over JSON events', async () => {
    const events: [string, unknown][] = [];
    const abort = new AbortController();
    await subscribeEvents(
      `${base}/whep/s1/sess/events`,
      ['reconnect', 'viewercount'],
      (event, data) => events.push([event, data]),
      abort.signal,
    );
    expect(posted).toEqual([['reconnect', 'viewercount']]);
    await vi.waitFor(() => expect(events).toHaveLength(3));
    expect(events).toEqual([
      ['active', {}],
      ['viewercount', { viewercount: 5 }],
      ['reconnect', { url: 'https://x/whep/s1' }],
    ]);
    abort.abort();
    await vi.waitFor(() => expect(aborted).toBe(true));
  });

  it('rejects a refused subscription', async () => {
    await expect(
      subscribeEvents(
        `${base}/whep/s1/refused/events`,
        ['reconnect'],
        () => undefined,
        new AbortController().signal,
      ),
    ).rejects.toMatchObject({ name: 'SignalingError', status: 400 });
  });
});
