import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignalingError, deleteSession, postSdp } from '../../src/peers/index.ts';

const ANSWER = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';

interface Seen {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A real HTTP server on 127.0.0.1 with a few WHIP-like routes. */
async function listen(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void) {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { server, url, seen };
}

let origin: Awaited<ReturnType<typeof listen>>;
let target: Awaited<ReturnType<typeof listen>>;

beforeAll(async () => {
  target = await listen((_req, res) => {
    res.writeHead(201, { Location: '/whip/moved/1', 'Content-Type': 'application/sdp' });
    res.end(ANSWER);
  });
  origin = await listen((req, res) => {
    if (req.method === 'DELETE') {
      res.writeHead(req.url === '/whip/resource/abc' ? 200 : 404).end();
    } else if (req.url === '/whip/ok?x=1') {
      res.writeHead(201, {
        Location: 'resource/abc',
        ETag: '"e1"',
        Link: '<stun:127.0.0.1:3478>; rel="ice-server"',
        'Content-Type': 'application/sdp',
      });
      res.end(`\r\n${ANSWER}`);
    } else if (req.url === '/whip/redirect') {
      res.writeHead(307, { Location: `${target.url}/whip/elsewhere` }).end();
    } else if (req.url === '/whip/nolocation') {
      res.writeHead(201, { 'Content-Type': 'application/sdp' }).end(ANSWER);
    } else if (req.url === '/whip/hang') {
      // Never answers: the client's timeout must end the request.
    } else {
      res.writeHead(403, { 'Content-Type': 'text/plain' }).end('stream key rejected');
    }
  });
});

afterAll(async () => {
  for (const { server } of [origin, target] as { server: Server }[]) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

describe('postSdp', () => {
  it('sends the offer with a bearer and returns the answer and absolute location', async () => {
    const result = await postSdp(`${origin.url}/whip/ok?x=1`, 'v=0\r\n', {
      token: 'sk_test',
      headers: { 'User-Agent': 'test-agent' },
    });
    expect(result.status).toBe(201);
    expect(result.location).toBe(`${origin.url}/whip/resource/abc`);
    expect(result.etag).toBe('"e1"');
    expect(result.answer).toBe(ANSWER);
    expect(result.headers.link).toContain('stun:127.0.0.1:3478');
    const request = origin.seen.at(-1)!;
    expect(request.headers['content-type']).toBe('application/sdp');
    expect(request.headers.authorization).toBe('Bearer sk_test');
    expect(request.headers['user-agent']).toBe('test-agent');
    expect(request.body).toBe('v=0\r\n');
  });

  it('follows a 307 to another origin and keeps the bearer, like OBS', async () => {
    const result = await postSdp(`${origin.url}/whip/redirect`, 'v=0\r\n', { token: 'sk_lb' });
    expect(result.effectiveUrl).toBe(`${target.url}/whip/elsewhere`);
    expect(result.location).toBe(`${target.url}/whip/moved/1`);
    const request = target.seen.at(-1)!;
    expect(request.method).toBe('POST');
    expect(request.headers.authorization).toBe('Bearer sk_lb');
    expect(request.body).toBe('v=0\r\n');
  });

  it('throws with status and body unless 201', async () => {
    const error = await postSdp(`${origin.url}/whip/denied`, 'v=0\r\n').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SignalingError);
    expect(error).toMatchObject({ status: 403, body: 'stream key rejected' });
    expect((error as Error).message).toContain('403');
  });

  it('throws when the Location header is missing', async () => {
    await expect(postSdp(`${origin.url}/whip/nolocation`, 'v=0\r\n')).rejects.toThrow(/Location/);
  });

  it('times out', async () => {
    const error = await postSdp(`${origin.url}/whip/hang`, 'v=0\r\n', { timeoutMs: 200 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SignalingError);
    expect(error).toMatchObject({ status: 0 });
    expect((error as Error).message).toMatch(/timed out after 200 ms/);
  });

  it('reports a refused connection as status 0', async () => {
    const error = await postSdp('http://127.0.0.1:9/whip', 'v=0\r\n').catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'SignalingError', status: 0 });
  });
});

describe('deleteSession', () => {
  it('sends DELETE with the bearer and returns the status', async () => {
    expect(await deleteSession(`${origin.url}/whip/resource/abc`, 'sk_test')).toBe(200);
    expect(origin.seen.at(-1)).toMatchObject({ method: 'DELETE' });
    expect(origin.seen.at(-1)!.headers.authorization).toBe('Bearer sk_test');
    expect(await deleteSession(`${origin.url}/whip/resource/other`)).toBe(404);
    expect(origin.seen.at(-1)!.headers.authorization).toBeUndefined();
  });
});
