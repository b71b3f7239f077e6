import { afterEach, describe, expect, it, vi } from 'vitest';
import { escapeHtml } from '../../src/html.ts';
import {
  fetchIceServers,
  parseIceServerLinks,
  parseRetryAfter,
  postOffer,
  resetRedirectMode,
  SignalingError,
} from '../../src/web/core/signaling.ts';

afterEach(() => {
  vi.unstubAllGlobals();
  resetRedirectMode();
});

/** Stubs fetch with one canned response whose `url` is `finalUrl` (after redirects). */
function stubFetch(response: Response, finalUrl: string) {
  const fetch = vi.fn((_input: string | URL | Request, _init?: RequestInit) => {
    Object.defineProperty(response, 'url', { value: finalUrl });
    return Promise.resolve(response);
  });
  vi.stubGlobal('fetch', fetch);
  return fetch;
}

describe('postOffer', () => {
  it('sends the offer as application/sdp with the bearer and resolves Location against the endpoint', async () => {
    const fetch = stubFetch(
      new Response('v=0\r\n', {
        status: 201,
        headers: { Location: 'sessions/42', ETag: '"e1"' },
      }),
      'https://live.example.com/whep/s1',
    );
    const result = await postOffer('https://live.example.com/whep/s1', 'v=0 offer', { token: 'k' });
    // Resolved against the endpoint, not against the page (redirects: whepClient.test.ts).
    expect(result.resourceUrl).toBe('https://live.example.com/whep/sessions/42');
    expect(result.etag).toBe('"e1"');
    expect(result.answer).toBe('v=0\r\n');
    expect(result.iceServers).toEqual([]);
    const [url, init] = fetch.mock.calls[0];
    expect(url).toBe('https://live.example.com/whep/s1');
    expect(init?.method).toBe('POST');
    expect(init?.headers).toMatchObject({
      'Content-Type': 'application/sdp',
      Authorization: 'Bearer k',
    });
  });

  it('turns 409 + Retry-After into a SignalingError carrying the delay', async () => {
    stubFetch(
      new Response(JSON.stringify({ title: 'Conflict', detail: 'stream is not live' }), {
        status: 409,
        headers: { 'Retry-After': '3', 'Content-Type': 'application/problem+json' },
      }),
      'https://live.example.com/whep/s1',
    );
    const error = await postOffer('https://live.example.com/whep/s1', 'v=0').catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SignalingError);
    expect(error).toMatchObject({
      status: 409,
      retryAfterSeconds: 3,
      message: 'stream is not live',
    });
  });

  it("returns the 201's ice-server Links: the session's own TURN credentials", async () => {
    stubFetch(
      new Response('v=0\r\n', {
        status: 201,
        headers: {
          Location: '/whep/s1/42',
          Link: '<turn:t.example.net>; rel="ice-server"; username="9:42"; credential="c"',
        },
      }),
      'https://live.example.com/whep/s1',
    );
    const result = await postOffer('https://live.example.com/whep/s1', 'v=0 offer');
    expect(result.iceServers).toEqual([
      { urls: 'turn:t.example.net', username: '9:42', credential: 'c' },
    ]);
  });

  it('refuses a 201 without Location', async () => {
    stubFetch(new Response('v=0', { status: 201 }), 'https://live.example.com/whip');
    await expect(postOffer('https://live.example.com/whip', 'v=0')).rejects.toThrow(/Location/);
  });

  it('reports network failures as status 0', async () => {
    vi.stubGlobal('fetch', () => Promise.reject(new TypeError('Failed to fetch')));
    await expect(postOffer('https://live.example.com/whip', 'v=0')).rejects.toMatchObject({
      status: 0,
    });
  });
});

describe('parseIceServerLinks', () => {
  it('reads the servers of the Link header wisp sends (joined with "," and no space)', () => {
    const header =
      '<stun:stun.example.net:3478>; rel="ice-server",' +
      '<turn:turn.example.net:3478?transport=udp>; rel="ice-server"; ' +
      'username="1800000000:2f1c"; credential="bG9uZys/YmFzZTY0PQ=="; credential-type="password"';
    expect(parseIceServerLinks(header)).toEqual([
      { urls: 'stun:stun.example.net:3478' },
      {
        urls: 'turn:turn.example.net:3478?transport=udp',
        username: '1800000000:2f1c',
        credential: 'bG9uZys/YmFzZTY0PQ==',
      },
    ]);
  });

  it('takes Links as other servers write them: ", " separators, token values, escapes, case', () => {
    const header =
      '<https://example.net/events>; rel="urn:ietf:params:whep:ext:core:server-sent-events", ' +
      '<turns:turn.example.net:5349?transport=tcp>;REL=ice-server;Username="a\\"b";credential=tok , ' +
      '<stuns:stun.example.net>; rel="preload ice-server"';
    expect(parseIceServerLinks(header)).toEqual([
      { urls: 'turns:turn.example.net:5349?transport=tcp', username: 'a"b', credential: 'tok' },
      { urls: 'stuns:stun.example.net' },
    ]);
  });

  it('skips Links that are not ICE servers and reads nothing from nothing', () => {
    expect(parseIceServerLinks('<https://turn.example.net>; rel="ice-server"')).toEqual([]);
    expect(parseIceServerLinks('<stun:stun.example.net>; rel="next"')).toEqual([]);
    expect(parseIceServerLinks(null)).toEqual([]);
    expect(parseIceServerLinks('')).toEqual([]);
  });
});

describe('fetchIceServers', () => {
  it('sends a plain OPTIONS, with the bearer when given, and reads its Links', async () => {
    const fetch = stubFetch(
      new Response(null, {
        status: 200,
        headers: { Link: '<turn:t.example.net>; rel="ice-server"; username="u"; credential="c"' },
      }),
      'https://live.example.com/whip',
    );
    const servers = await fetchIceServers('https://live.example.com/whip', { token: 'key' });
    expect(servers).toEqual([{ urls: 'turn:t.example.net', username: 'u', credential: 'c' }]);
    const [url, init] = fetch.mock.calls[0];
    expect(url).toBe('https://live.example.com/whip');
    expect(init?.method).toBe('OPTIONS');
    expect(init?.headers).toEqual({ Authorization: 'Bearer key' });
  });

  it('gives no servers, without failing, on an error status or no answer', async () => {
    vi.stubGlobal('console', { ...console, warn: vi.fn() });
    stubFetch(new Response('nope', { status: 405 }), 'https://live.example.com/whep/s');
    expect(await fetchIceServers('https://live.example.com/whep/s')).toEqual([]);
    vi.stubGlobal(
      'fetch',
      vi.fn((_input: string, init?: RequestInit) => {
        // Never answers; only the timeout's abort ends it.
        return new Promise((_resolve, reject) => {
          init?.signal?.addEventListener('abort', () => reject(new Error('aborted')));
        });
      }),
    );
    expect(await fetchIceServers('https://live.example.com/whep/s', { timeoutMs: 50 })).toEqual([]);
  });

  it('rejects when the caller aborts, like the rest of the negotiation', async () => {
    const abort = new AbortController();
    abort.abort();
    await expect(
      fetchIceServers('https://live.example.com/whep/s', { signal: abort.signal }),
    ).rejects.toThrow();
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP-dates', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('5', now)).toBe(5);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:10 GMT', now)).toBe(10);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe('escapeHtml', () => {
  it('escapes the five HTML-significant characters', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    );
  });
});
