import { Hono } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import type { IceServerConfig } from '../../src/config.ts';
import {
  ConflictError,
  NotFoundError,
  ServiceUnavailableError,
  UnauthorizedError,
  ValidationError,
} from '../../src/errors.ts';
import { cors, onError, readJsonBody, readTextBody, requireContentType } from '../../src/http.ts';
import { configureLogging } from '../../src/logger.ts';
import type { PatchResult, PeerTransport } from '../../src/media/PeerTransport.ts';
import type { TrickleFragment } from '../../src/sdp/fragment.ts';
import {
  SDPFRAG_TYPE,
  SDP_TYPE,
  handleSessionPatch,
  iceServerLinks,
  methodNotAllowed,
  optionsResponse,
} from '../../src/whipwhep.ts';

const LIMIT = 1024;

const ICE_SERVERS: IceServerConfig[] = [
  { url: 'stun:stun.example.net:3478' },
  { url: 'turn:turn.example.net:3478?transport=udp', username: 'user', credential: 'secret' },
];

beforeAll(() => {
  // The 500 path logs the error with its stack on purpose; keep the test output clean.
  configureLogging('silent');
});

/** A small app wired like the component routes: cors + onError + the helpers under test. */
function app(corsOrigin = '*'): Hono {
  const hono = new Hono();
  hono.onError(onError);
  hono.use('*', cors(corsOrigin));
  hono.post('/echo', async (c) => {
    requireContentType(c, SDP_TYPE, { post: SDP_TYPE });
    return c.text(await readTextBody(c, LIMIT));
  });
  hono.post('/json', async (c) => c.json(await readJsonBody(c, LIMIT)));
  hono.get('/throw/:kind', (c) => {
    c.header('Location', '/somewhere');
    c.header('ETag', '"abc"');
    switch (c.req.param('kind')) {
      case 'validation':
        throw new ValidationError('bad input', { details: { field: 'sdp' } });
      case 'unauthorized':
        throw new UnauthorizedError('no token', true);
      case 'notfound':
        throw new NotFoundError('no such session');
      case 'conflict':
        throw new ConflictError('already live');
      case 'unavailable':
        throw new ServiceUnavailableError('busy', 7);
      default:
        throw new Error('database password is hunter2');
    }
  });
  hono.options('/whip', (c) => optionsResponse(c, 'endpoint', ICE_SERVERS));
  // As if the caller had proved the right to publish stream "stream-1".
  hono.options('/granted', (c) => optionsResponse(c, 'endpoint', ICE_SERVERS, 'stream-1'));
  hono.options('/whip/:id', (c) => optionsResponse(c, 'session', ICE_SERVERS));
  hono.all('/whip', (c) => methodNotAllowed(c, 'endpoint'));
  hono.all('/whip/:id', (c) => methodNotAllowed(c, 'session'));
  return hono;
}

/** Splits a combined Link header (Headers joins repeated fields with ", ") into its links. */
function links(response: Response): string[] {
  const value = response.headers.get('link');
  return value ? value.split(/,\s*(?=<)/) : [];
}

/** A request body stream of `size` bytes in 256-byte chunks, sent without Content-Length. */
function streamOf(size: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= size) {
        controller.close();
        return;
      }
      const chunk = new Uint8Array(Math.min(256, size - sent)).fill(0x61);
      sent += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
}

describe('onError: one mapping point to application/problem+json', () => {
  it.each([
    ['validation', 400, 'Bad Request', 'bad input'],
    ['unauthorized', 401, 'Unauthorized', 'no token'],
    ['notfound', 404, 'Not Found', 'no such session'],
    ['conflict', 409, 'Conflict', 'already live'],
    ['unavailable', 503, 'Service Unavailable', 'busy'],
  ])('maps %s to %i', async (kind, status, title, detail) => {
    const res = await app().request(`/throw/${kind}`);
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ title, status, detail, instance: `/throw/${kind}` });
    expect(body.type).toMatch(/^https:\/\/wisp\.dev\/problems\//);
  });

  it('adds the error extras: details to the body, headers to the response', async () => {
    const validation = await app().request('/throw/validation');
    expect(await validation.json()).toMatchObject({ field: 'sdp' });
    const unauthorized = await app().request('/throw/unauthorized');
    expect(unauthorized.headers.get('www-authenticate')).toBe(
      'Bearer realm="wisp", error="invalid_token"',
    );
    const unavailable = await app().request('/throw/unavailable');
    expect(unavailable.headers.get('retry-after')).toBe('7');
  });

  // Regression (fixed): http.ts onError (lines 33-37) deletes Location and ETag from a copy of c.res.headers,
  // but Hono's `set res` (hono/dist/context.js:111-121) copies every header of the previous
  // c.res (which onError's own `c.res` read materializes from the headers set with c.header())
  // back onto the error Response whenever a middleware chain is involved (cors on the main app,
  // sub-apps mounted with route()). So a route that sets Location/ETag and then throws sends
  // them with the 4xx/5xx. Fix: delete them from c.res.headers itself.
  it('drops Location and ETag set before the error', async () => {
    const res = await app().request('/throw/conflict');
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('etag')).toBeNull();
  });

  it('answers anything else with a generic 500 that leaks nothing', async () => {
    const res = await app().request('/throw/bug');
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const text = await res.text();
    expect(text).not.toMatch(/hunter2/);
    expect(JSON.parse(text)).toMatchObject({ status: 500, title: 'Internal Server Error' });
  });

  it('keeps the CORS headers on error responses', async () => {
    const res = await app().request('/throw/notfound', {
      headers: { Origin: 'https://tester.example' },
    });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-expose-headers')).toMatch(/WWW-Authenticate/);
  });
});

describe('readTextBody', () => {
  it('returns the body as UTF-8 text', async () => {
    const res = await app().request('/echo', {
      method: 'POST',
      headers: { 'Content-Type': SDP_TYPE },
      body: 'v=0\r\ns=héllo\r\n',
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('v=0\r\ns=héllo\r\n');
  });

  it('accepts a body of exactly the limit', async () => {
    const res = await app().request('/echo', {
      method: 'POST',
      headers: { 'Content-Type': SDP_TYPE },
      body: 'a'.repeat(LIMIT),
    });
    expect(res.status).toBe(200);
  });

  it('refuses a declared Content-Length over the limit with 413, before reading', async () => {
    const res = await app().request('/echo', {
      method: 'POST',
      headers: { 'Content-Type': SDP_TYPE, 'Content-Length': String(10 * LIMIT) },
      // The body itself is small: only the declared length can trigger the 413.
      body: 'v=0\r\n',
    });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toMatchObject({
      status: 413,
      detail: `request body exceeds ${LIMIT} bytes`,
    });
  });

  it('refuses an over-limit streamed body without Content-Length with 413', async () => {
    const request = new Request('http://localhost/echo', {
      method: 'POST',
      headers: { 'Content-Type': SDP_TYPE },
      body: streamOf(LIMIT * 4),
      duplex: 'half',
    } as RequestInit);
    expect(request.headers.get('content-length')).toBeNull();
    const res = await app().request(request);
    expect(res.status).toBe(413);
  });

  it('reads a streamed body under the limit without Content-Length', async () => {
    const request = new Request('http://localhost/echo', {
      method: 'POST',
      headers: { 'Content-Type': SDP_TYPE },
      body: streamOf(LIMIT),
      duplex: 'half',
    } as RequestInit);
    const res = await app().request(request);
    expect(res.status).toBe(200);
    expect((await res.text()).length).toBe(LIMIT);
  });
});

describe('requireContentType', () => {
  it('refuses another type with 415 and Accept-Post', async () => {
    const res = await app().request('/echo', {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body: 'v=0',
    });
    expect(res.status).toBe(415);
    expect(res.headers.get('accept-post')).toBe(SDP_TYPE);
    expect(await res.json()).toMatchObject({
      detail: 'Content-Type must be application/sdp, got text/plain',
    });
  });

  it('refuses a missing Content-Type with 415', async () => {
    const res = await app().request('/echo', { method: 'POST', body: new Uint8Array([0x76]) });
    expect(res.status).toBe(415);
  });

  it('ignores case and parameters', async () => {
    const res = await app().request('/echo', {
      method: 'POST',
      headers: { 'Content-Type': 'Application/SDP; charset=utf-8' },
      body: 'v=0',
    });
    expect(res.status).toBe(200);
  });
});

describe('readJsonBody', () => {
  it('parses JSON', async () => {
    const res = await app().request('/json', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"name":"x"}',
    });
    expect(await res.json()).toEqual({ name: 'x' });
  });

  it('refuses invalid JSON with 400 and another type with 415', async () => {
    const invalid = await app().request('/json', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{name',
    });
    expect(invalid.status).toBe(400);
    const wrongType = await app().request('/json', {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body: '{}',
    });
    expect(wrongType.status).toBe(415);
  });
});

describe('cors', () => {
  it('allows any origin and exposes the WHIP/WHEP headers (C5)', async () => {
    const res = await app().request('/throw/notfound');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const exposed = res.headers.get('access-control-expose-headers')!.split(/,\s*/);
    for (const name of [
      'Location',
      'ETag',
      'Link',
      'Accept-Patch',
      'Accept-Post',
      'Retry-After',
      'WWW-Authenticate',
    ]) {
      expect(exposed).toContain(name);
    }
    expect(res.headers.get('vary')).toBeNull();
  });

  it('sends a configured origin with Vary: Origin', async () => {
    const res = await app('https://app.example').request('/throw/notfound');
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(res.headers.get('vary')).toMatch(/Origin/);
  });
});

describe('optionsResponse (C1-C8)', () => {
  const preflight = (method: string) => ({
    method: 'OPTIONS',
    headers: {
      Origin: 'https://tester.example',
      'Access-Control-Request-Method': method,
      'Access-Control-Request-Headers': 'authorization, content-type, if-match',
    },
  });

  it('answers an anonymous plain OPTIONS on the endpoint with Allow, Accept-Post and the STUN servers only', async () => {
    const res = await app().request('/whip', { method: 'OPTIONS' });
    expect(res.status).toBe(200);
    expect(res.headers.get('allow')).toBe('OPTIONS, GET, HEAD, POST');
    expect(res.headers.get('accept-post')).toBe(SDP_TYPE);
    expect(links(res)).toEqual(iceServerLinks([ICE_SERVERS[0]]));
    expect(res.headers.get('link')).not.toContain('turn:');
    expect(res.headers.get('cache-control')).toBeNull();
    expect(res.headers.get('access-control-allow-methods')).toBeNull();
  });

  it('gives a granted plain OPTIONS one Link per ICE server, TURN with credentials, not to be stored (C8)', async () => {
    const res = await app().request('/granted', { method: 'OPTIONS' });
    expect(res.status).toBe(200);
    expect(links(res)).toEqual(iceServerLinks(ICE_SERVERS));
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('gives a granted preflight no ICE servers either (C7)', async () => {
    const res = await app().request('/granted', preflight('POST'));
    expect(res.status).toBe(200);
    expect(res.headers.get('link')).toBeNull();
  });

  it('answers a preflight with methods, headers and max-age, and no ICE servers (C3, C7)', async () => {
    const res = await app().request('/whip', preflight('POST'));
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toMatch(/\bPOST\b/);
    const allowed = res.headers.get('access-control-allow-headers')!.toLowerCase().split(/,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type', 'if-match']));
    expect(res.headers.get('access-control-max-age')).toBe('86400');
    expect(res.headers.get('link')).toBeNull();
  });

  it('answers a session preflight for PATCH and DELETE (C6)', async () => {
    for (const method of ['PATCH', 'DELETE']) {
      const res = await app().request('/whip/abc', preflight(method));
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-methods')).toMatch(
        new RegExp(`\\b${method}\\b`),
      );
      expect(res.headers.get('link')).toBeNull();
    }
  });

  it('answers a plain OPTIONS on a session with Accept-Patch and no Links (G7)', async () => {
    const res = await app().request('/whip/abc', { method: 'OPTIONS' });
    expect(res.status).toBe(200);
    expect(res.headers.get('allow')).toBe('OPTIONS, GET, HEAD, PATCH, DELETE');
    expect(res.headers.get('accept-patch')).toBe(SDPFRAG_TYPE);
    expect(res.headers.get('accept-post')).toBeNull();
    expect(res.headers.get('link')).toBeNull();
  });
});

describe('methodNotAllowed', () => {
  it('answers 405 with Allow (RFC 9110 §15.5.6)', async () => {
    const endpoint = await app().request('/whip', { method: 'PUT' });
    expect(endpoint.status).toBe(405);
    expect(endpoint.headers.get('allow')).toBe('OPTIONS, GET, HEAD, POST');
    expect(endpoint.headers.get('content-type')).toBe('application/problem+json');
    const session = await app().request('/whip/abc', { method: 'POST' });
    expect(session.status).toBe(405);
    expect(session.headers.get('allow')).toBe('OPTIONS, GET, HEAD, PATCH, DELETE');
  });
});

describe('iceServerLinks (D1-D3)', () => {
  it('writes one Link per server, with credentials only for servers that have both', () => {
    expect(
      iceServerLinks([
        { url: 'stun:stun.example.net' },
        { url: 'turn:turn.example.net:3478?transport=udp', username: 'u', credential: 'p' },
        { url: 'turns:turn.example.net:5349', username: 'u' },
      ]),
    ).toEqual([
      '<stun:stun.example.net>; rel="ice-server"',
      '<turn:turn.example.net:3478?transport=udp>; rel="ice-server"; username="u"; credential="p"; credential-type="password"',
      '<turns:turn.example.net:5349>; rel="ice-server"',
    ]);
  });

  it('writes nothing without servers', () => {
    expect(iceServerLinks([])).toEqual([]);
  });

  // Regression (fixed): whipwhep.ts iceServerLinks (line 40) puts username/credential into quoted-strings
  // without escaping, so a TURN_CREDENTIAL containing `"` yields a malformed Link header
  // (RFC 8288 / RFC 9110 §5.6.4 quoted-string). Either escape `"` and `\`, or have loadConfig
  // refuse such credentials (D3 also asks for no `,` `;` `"` in credentials).
  it('never writes a malformed quoted-string for a credential with a quote', () => {
    const [link] = iceServerLinks([
      { url: 'turn:turn.example.net', username: 'u', credential: 'pa"ss' },
    ]);
    const match = /; credential="((?:[^"\\]|\\.)*)"(?:;|$)/.exec(link);
    expect(match?.[1]?.replace(/\\(.)/g, '$1')).toBe('pa"ss');
  });
});

describe('handleSessionPatch (G1-G3, H2-H4, I2)', () => {
  const RESTARTED: PatchResult = {
    kind: 'restart',
    etag: '"new-etag"',
    transport: {
      iceUfrag: 'newufrag5678efgh',
      icePwd: 'newpassword9876543210zyxwvutsrq',
      candidates: [
        { foundation: 'u', priority: 1, ip: '203.0.113.5', protocol: 'udp', port: 40000 },
      ],
      fingerprint: { algorithm: 'sha-256', value: 'AA:BB' },
      setup: 'passive',
    },
  };

  function patchApp(result: PatchResult) {
    const calls: { fragment: TrickleFragment; ifMatch: string | undefined }[] = [];
    const peer = {
      applyPatch: (fragment: TrickleFragment, ifMatch: string | undefined) => {
        calls.push({ fragment, ifMatch });
        return Promise.resolve(result);
      },
    } as unknown as PeerTransport;
    const hono = new Hono();
    hono.onError(onError);
    hono.use('*', cors('*'));
    hono.patch('/whip/:id', (c) =>
      handleSessionPatch(
        c,
        peer,
        [{ mid: '0', kind: 'audio', protocol: 'UDP/TLS/RTP/SAVPF' }],
        LIMIT,
      ),
    );
    return { hono, calls };
  }

  const TRICKLE =
    'a=ice-ufrag:EsAw\r\na=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y\r\na=candidate:1 1 udp 2122260223 192.0.2.10 61764 typ host\r\n';

  it('refuses another Content-Type with 415 and Accept-Patch', async () => {
    const { hono, calls } = patchApp({ kind: 'trickle' });
    const res = await hono.request('/whip/s', {
      method: 'PATCH',
      headers: { 'Content-Type': SDP_TYPE, 'If-Match': '"e"' },
      body: TRICKLE,
    });
    expect(res.status).toBe(415);
    expect(res.headers.get('accept-patch')).toBe(SDPFRAG_TYPE);
    expect(calls).toHaveLength(0);
  });

  it('refuses a malformed fragment with 400', async () => {
    const { hono, calls } = patchApp({ kind: 'trickle' });
    const res = await hono.request('/whip/s', {
      method: 'PATCH',
      headers: { 'Content-Type': SDPFRAG_TYPE, 'If-Match': '"e"' },
      body: 'garbage\r\n',
    });
    expect(res.status).toBe(400);
    expect(calls).toHaveLength(0);
  });

  it('answers a trickle with 204, no body and no ETag, passing If-Match through', async () => {
    const { hono, calls } = patchApp({ kind: 'trickle' });
    const res = await hono.request('/whip/s', {
      method: 'PATCH',
      headers: { 'Content-Type': SDPFRAG_TYPE, 'If-Match': '"e"' },
      body: TRICKLE,
    });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    expect(res.headers.get('etag')).toBeNull();
    expect(calls[0].ifMatch).toBe('"e"');
    expect(calls[0].fragment.candidates).toHaveLength(1);
  });

  it('answers a restart with 200, the sdpfrag type, the new ETag and credentials', async () => {
    const { hono } = patchApp(RESTARTED);
    const res = await hono.request('/whip/s', {
      method: 'PATCH',
      headers: { 'Content-Type': SDPFRAG_TYPE, 'If-Match': '*' },
      body: TRICKLE,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(SDPFRAG_TYPE);
    expect(res.headers.get('etag')).toBe('"new-etag"');
    const body = await res.text();
    expect(body).toMatch(/^a=ice-lite\r\n/);
    expect(body).toContain('a=ice-ufrag:newufrag5678efgh\r\n');
    expect(body).toContain('a=ice-pwd:newpassword9876543210zyxwvutsrq\r\n');
    expect(body).toContain('a=end-of-candidates\r\n');
  });
});
