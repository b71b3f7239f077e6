/**
 * The stream-key API in-process (`app.request()`), against both real state stores: the
 * embedded file store in a temporary directory and Redis on a throwaway redis-server.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Hono } from 'hono';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  EmbeddedStateStore,
  RedisStateStore,
  ViewerTokens,
  configureLogging,
  type LiveStatusProvider,
  type StateStore,
  type StreamView,
} from '@wisp/core';
import {
  startRedisServer,
  type RunningRedisServer,
} from '../../../core/test/support/redisServer.ts';
import { StreamService, createControlRoutes } from '../../src/index.ts';

configureLogging('warn');

const ADMIN_TOKEN = 'admin-token-for-tests';
const PUBLIC_URL = 'https://live.example.test';
const MAX_JSON_BYTES = 1024;

/** A real LiveStatusProvider whose answers the test controls. */
class LiveSet implements LiveStatusProvider {
  readonly ids = new Set<string>();
  isLive(streamId: string): boolean {
    return this.ids.has(streamId);
  }
}

/** The view as GET shows it: everything but the key. */
function withoutKey(view: StreamView): StreamView {
  const copy = { ...view };
  delete copy.streamKey;
  return copy;
}

/** One way to get a store: fresh data, the same data again, and everything it holds as text. */
interface Backend {
  name: string;
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** A store on new, empty data. */
  create(): Promise<StateStore>;
  /** A store on the same data as the last `create()`, as after a restart. */
  reopen(): Promise<StateStore>;
  /** Every byte the last `create()`'s data holds, to look for leaked secrets. */
  dump(): Promise<string>;
}

function embeddedBackend(): Backend {
  const dirs: string[] = [];
  let dir = '';
  return {
    name: 'EmbeddedStateStore',
    setup: () => Promise.resolve(),
    async teardown() {
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    },
    async create() {
      dir = await mkdtemp(path.join(os.tmpdir(), 'wisp-control-'));
      dirs.push(dir);
      return EmbeddedStateStore.create({ dataDir: dir });
    },
    reopen: () => EmbeddedStateStore.create({ dataDir: dir }),
    dump: () => readFile(path.join(dir, 'state.json'), 'utf8'),
  };
}

function redisBackend(): Backend {
  let server: RunningRedisServer | undefined;
  let prefix = '';
  return {
    name: 'RedisStateStore',
    async setup() {
      server = await startRedisServer();
    },
    async teardown() {
      await server?.stop();
    },
    create() {
      prefix = `control-test:${randomUUID()}:`;
      return RedisStateStore.create({ url: server!.url, prefix });
    },
    reopen: () => RedisStateStore.create({ url: server!.url, prefix }),
    async dump() {
      const redis = new Redis(server!.url);
      try {
        const parts: string[] = [];
        for (const key of await redis.keys(`${prefix}*`)) {
          const type = await redis.type(key);
          parts.push(key);
          if (type === 'string') parts.push((await redis.get(key)) ?? '');
          if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
          if (type === 'zset') parts.push(...(await redis.zrange(key, 0, '-1')));
        }
        return parts.join('\n');
      } finally {
        redis.disconnect();
      }
    },
  };
}

const tokens = new ViewerTokens({ secret: 'cluster secret for the tests' });

describe.each([embeddedBackend(), redisBackend()])('stream-key API on $name', (backend) => {
  const stores: StateStore[] = [];
  let store: StateStore;
  let service: StreamService;
  let app: Hono;
  let live: LiveSet;

  function open(s: StateStore) {
    stores.push(s);
    const l = new LiveSet();
    const svc = new StreamService({
      store: s,
      publicUrl: `${PUBLIC_URL}/`,
      live: l,
      viewerTokens: tokens,
    });
    const routes = createControlRoutes({
      service: svc,
      adminToken: ADMIN_TOKEN,
      maxJsonBytes: MAX_JSON_BYTES,
    });
    return { store: s, service: svc, app: routes, live: l };
  }

  beforeAll(() => backend.setup());
  afterAll(() => backend.teardown());

  beforeEach(async () => {
    ({ store, service, app, live } = open(await backend.create()));
  });

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };
  const json = { ...auth, 'Content-Type': 'application/json' };

  function request(method: string, url: string, init: RequestInit = {}) {
    return app.request(url, { method, headers: auth, ...init });
  }

  async function createStream(name = 'Main stage'): Promise<StreamView> {
    const res = await request('POST', '/streams', {
      headers: json,
      body: JSON.stringify({ name }),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as StreamView;
  }

  async function expectProblem(res: Response, status: number, title: string) {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status, title });
    expect(body.type).toMatch(/^https:\/\/wisp\.dev\/problems\//);
    expect(typeof body.detail).toBe('string');
    return body;
  }

  describe('POST /streams', () => {
    it('creates a stream: 201, the full view with its key, and a Location', async () => {
      const res = await request('POST', '/streams', {
        headers: json,
        body: JSON.stringify({ name: '  Main stage  ', extra: 'ignored' }),
      });
      expect(res.status).toBe(201);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const view = (await res.json()) as StreamView;
      expect(res.headers.get('location')).toBe(`${PUBLIC_URL}/api/streams/${view.id}`);
      expect(view).toEqual({
        id: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/),
        name: 'Main stage',
        streamKey: expect.stringMatching(/^sk_[A-Za-z0-9_-]{43}$/),
        whipUrl: `${PUBLIC_URL}/whip`,
        whepUrl: `${PUBLIC_URL}/whep/${view.id}`,
        playerUrl: `${PUBLIC_URL}/watch/${view.id}`,
        live: false,
        record: true,
        visibility: 'public',
        createdAt: expect.any(String),
        updatedAt: view.createdAt,
      });
      expect(new Date(view.createdAt).toISOString()).toBe(view.createdAt);
      expect(await service.resolveStreamKey(view.streamKey!)).toBe(view.id);
    });

    it('gives every stream its own id and key, and the same WHIP URL', async () => {
      const [a, b] = [await createStream('a'), await createStream('b')];
      expect(a.id).not.toBe(b.id);
      expect(a.streamKey).not.toBe(b.streamKey);
      expect(a.whipUrl).toBe(b.whipUrl);
    });

    it('accepts 100 characters, counting emoji as one each', async () => {
      expect((await createStream('x'.repeat(100))).name).toHaveLength(100);
      expect((await createStream('🎥'.repeat(100))).name).toBe('🎥'.repeat(100));
    });

    it('refuses a wrong content type with 415', async () => {
      const res = await request('POST', '/streams', {
        headers: { ...auth, 'Content-Type': 'text/plain' },
        body: JSON.stringify({ name: 'x' }),
      });
      await expectProblem(res, 415, 'Unsupported Media Type');
    });

    it('refuses a missing content type with 415', async () => {
      const res = await request('POST', '/streams', { body: JSON.stringify({ name: 'x' }) });
      await expectProblem(res, 415, 'Unsupported Media Type');
    });

    it('refuses an oversized body with 413', async () => {
      const res = await request('POST', '/streams', {
        headers: json,
        body: JSON.stringify({ name: 'x', padding: 'p'.repeat(MAX_JSON_BYTES) }),
      });
      await expectProblem(res, 413, 'Payload Too Large');
      expect(await store.listStreams()).toEqual([]);
    });

    it('refuses invalid JSON with 400', async () => {
      const res = await request('POST', '/streams', { headers: json, body: '{"name": ' });
      const body = await expectProblem(res, 400, 'Bad Request');
      expect(body.detail).toMatch(/JSON/);
    });

    it.each([
      ['a JSON array', []],
      ['a JSON string', 'name'],
      ['null', null],
      ['no name', {}],
      ['a numeric name', { name: 42 }],
      ['an empty name', { name: '' }],
      ['a blank name', { name: '   \t ' }],
      ['a 101-character name', { name: 'x'.repeat(101) }],
      ['a name with a newline', { name: 'line\nbreak' }],
      ['a name with a NUL', { name: 'nul\u0000' }],
      ['a name with a C1 control', { name: 'c1\u0085' }],
      ['a name with a lone surrogate', { name: 'half \ud83c' }],
    ])('refuses %s with 400', async (_label, payload) => {
      const res = await request('POST', '/streams', {
        headers: json,
        body: JSON.stringify(payload),
      });
      const body = await expectProblem(res, 400, 'Bad Request');
      expect(body.instance).toBe('/streams');
      expect(await store.listStreams()).toEqual([]);
    });
  });

  describe('GET /streams', () => {
    it('lists streams oldest first, with live status and without keys', async () => {
      const first = await createStream('first');
      const second = await createStream('second');
      live.ids.add(second.id);
      const res = await request('GET', '/streams');
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const { streams } = (await res.json()) as { streams: StreamView[] };
      const ordered = [first, second].sort(
        (a, b) => a.createdAt.localeCompare(b.createdAt) || (a.id < b.id ? -1 : 1),
      );
      expect(streams.map((s) => s.id)).toEqual(ordered.map((s) => s.id));
      expect(streams).toContainEqual(withoutKey(first));
      expect(streams).toContainEqual({ ...withoutKey(second), live: true });
      for (const stream of streams) expect(stream).not.toHaveProperty('streamKey');
      expect(JSON.stringify(streams)).not.toContain(first.streamKey);
    });

    it('answers an empty list when there are no streams', async () => {
      const res = await request('GET', '/streams');
      expect(await res.json()).toEqual({ streams: [] });
    });
  });

  describe('GET /streams/:id', () => {
    it('shows one stream with live status and without its key', async () => {
      const created = await createStream();
      const res = await request('GET', `/streams/${created.id}`);
      expect(res.status).toBe(200);
      const view = (await res.json()) as StreamView;
      expect(view).toEqual(withoutKey(created));
      expect(view).not.toHaveProperty('streamKey');

      live.ids.add(created.id);
      const liveView = (await (
        await request('GET', `/streams/${created.id}`)
      ).json()) as StreamView;
      expect(liveView.live).toBe(true);
    });

    it.each(['unknownid12345678', 'not%20an%20id', 'x'.repeat(200)])(
      'answers 404 for an unknown id (%s)',
      async (id) => {
        await createStream();
        const res = await request('GET', `/streams/${id}`);
        await expectProblem(res, 404, 'Not Found');
      },
    );
  });

  describe('POST /streams/:id/key', () => {
    it('rotates the key: the old one is refused, the new one resolves', async () => {
      const created = await createStream();
      const rotatedEvents: unknown[] = [];
      service.on('keyRotated', (event) => rotatedEvents.push(event));
      const res = await request('POST', `/streams/${created.id}/key`);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const view = (await res.json()) as StreamView;
      expect(view).toMatchObject({ id: created.id, name: created.name, live: false });
      expect(view.streamKey).toMatch(/^sk_/);
      expect(view.streamKey).not.toBe(created.streamKey);
      expect(view.createdAt).toBe(created.createdAt);
      expect(Date.parse(view.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.updatedAt));
      expect(await service.resolveStreamKey(created.streamKey!)).toBeUndefined();
      expect(await service.resolveStreamKey(view.streamKey!)).toBe(created.id);
      expect(rotatedEvents).toEqual([{ streamId: created.id }]);
    });

    it('answers 404 for an unknown id', async () => {
      const res = await request('POST', '/streams/unknownid12345678/key');
      await expectProblem(res, 404, 'Not Found');
    });
  });

  describe('PATCH /streams/:id', () => {
    it('renames and sets or clears the record setting; the key stays', async () => {
      const created = await createStream('before');
      const patch = (body: unknown) =>
        request('PATCH', `/streams/${created.id}`, { headers: json, body: JSON.stringify(body) });
      const renamed = await patch({ name: '  after ', record: false });
      expect(renamed.status).toBe(200);
      expect(await renamed.json()).toMatchObject({ id: created.id, name: 'after', record: false });
      expect(await service.resolveStreamKey(created.streamKey!)).toBe(created.id);
      expect(await (await patch({ record: null })).json()).toMatchObject({ record: true });
      await expectProblem(await patch({ record: 'no' }), 400, 'Bad Request');
      await expectProblem(await patch({ name: '' }), 400, 'Bad Request');
      await expectProblem(await patch({}), 400, 'Bad Request');
      await expectProblem(
        await request('PATCH', '/streams/unknownid12345678', {
          headers: json,
          body: JSON.stringify({ name: 'x' }),
        }),
        404,
        'Not Found',
      );
    });

    it('takes record on create', async () => {
      const res = await request('POST', '/streams', {
        headers: json,
        body: JSON.stringify({ name: 'quiet', record: false }),
      });
      expect(await res.json()).toMatchObject({ record: false });
      const bad = await request('POST', '/streams', {
        headers: json,
        body: JSON.stringify({ name: 'quiet', record: 1 }),
      });
      await expectProblem(bad, 400, 'Bad Request');
    });
  });

  describe('visibility and viewer tokens', () => {
    it('takes visibility on create and by PATCH, kept across a restart', async () => {
      const res = await request('POST', '/streams', {
        headers: json,
        body: JSON.stringify({ name: 'members only', visibility: 'private', record: false }),
      });
      const created = (await res.json()) as StreamView;
      expect(created).toMatchObject({ visibility: 'private', record: false });
      expect(await service.streamVisibility(created.id)).toBe('private');
      const patch = (body: unknown) =>
        request('PATCH', `/streams/${created.id}`, { headers: json, body: JSON.stringify(body) });
      expect(await (await patch({ visibility: 'public' })).json()).toMatchObject({
        visibility: 'public',
        record: false,
      });
      await expectProblem(await patch({ visibility: 'hidden' }), 400, 'Bad Request');
      await patch({ visibility: 'private' });
      const again = open(await backend.reopen());
      expect(await again.service.get(created.id)).toMatchObject({ visibility: 'private' });
      expect(await service.streamVisibility('unknownid12345678')).toBeUndefined();
      const bad = await request('POST', '/streams', {
        headers: json,
        body: JSON.stringify({ name: 'x', visibility: 'PRIVATE' }),
      });
      await expectProblem(bad, 400, 'Bad Request');
    });

    it('issues a viewer token that verifies for that stream only, with the links that carry it', async () => {
      const [mine, other] = [await createStream('mine'), await createStream('other')];
      const res = await request('POST', `/streams/${mine.id}/viewer-tokens`, {
        headers: json,
        body: JSON.stringify({ ttlSeconds: 120 }),
      });
      expect(res.status).toBe(201);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const view = (await res.json()) as Record<string, string>;
      const query = `?token=${encodeURIComponent(view.token)}`;
      expect(view).toEqual({
        streamId: mine.id,
        token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
        expiresAt: expect.any(String),
        playerUrl: `${PUBLIC_URL}/watch/${mine.id}${query}`,
        embedUrl: `${PUBLIC_URL}/embed/${mine.id}${query}`,
      });
      const ttl = Date.parse(view.expiresAt) - Date.now();
      expect(ttl).toBeGreaterThan(110_000);
      expect(ttl).toBeLessThanOrEqual(121_000);
      await expect(tokens.verify(view.token, mine.id)).resolves.toBeUndefined();
      await expect(tokens.verify(view.token, other.id)).rejects.toMatchObject({ status: 403 });

      // No body at all: the default hour.
      const plain = await request('POST', `/streams/${mine.id}/viewer-tokens`);
      expect(plain.status).toBe(201);
      const hour = Date.parse(((await plain.json()) as { expiresAt: string }).expiresAt);
      expect(hour - Date.now()).toBeGreaterThan(3590_000);
    });

    it('refuses bad token requests with a problem, and unknown streams with 404', async () => {
      const created = await createStream();
      const ask = (body: string, headers: Record<string, string> = json) =>
        request('POST', `/streams/${created.id}/viewer-tokens`, { headers, body });
      for (const ttl of [0, -5, 1.5, '60', 30 * 24 * 3600 + 1, null]) {
        await expectProblem(await ask(JSON.stringify({ ttlSeconds: ttl })), 400, 'Bad Request');
      }
      await expectProblem(await ask('[1]'), 400, 'Bad Request');
      await expectProblem(await ask('{"ttlSeconds": 60}', auth), 415, 'Unsupported Media Type');
      await expectProblem(
        await request('POST', '/streams/unknownid12345678/viewer-tokens'),
        404,
        'Not Found',
      );
      const anonymous = await app.request(`/streams/${created.id}/viewer-tokens`, {
        method: 'POST',
      });
      expect(anonymous.status).toBe(401);
    });
  });

  describe('DELETE /streams/:id', () => {
    it('deletes the stream: 204, then 404, and its key is refused', async () => {
      const created = await createStream();
      const kept = await createStream('kept');
      const deletedEvents: unknown[] = [];
      service.on('streamDeleted', (event) => deletedEvents.push(event));
      const res = await request('DELETE', `/streams/${created.id}`);
      expect(res.status).toBe(204);
      expect(await res.text()).toBe('');
      expect(deletedEvents).toEqual([{ streamId: created.id }]);
      expect(await service.resolveStreamKey(created.streamKey!)).toBeUndefined();
      expect(await service.streamExists(created.id)).toBe(false);
      await expectProblem(await request('GET', `/streams/${created.id}`), 404, 'Not Found');
      await expectProblem(await request('DELETE', `/streams/${created.id}`), 404, 'Not Found');
      await expectProblem(await request('POST', `/streams/${created.id}/key`), 404, 'Not Found');
      expect(deletedEvents).toHaveLength(1);
      expect(await service.resolveStreamKey(kept.streamKey!)).toBe(kept.id);
    });
  });

  describe('admin authentication', () => {
    const routes: [string, string][] = [
      ['POST', '/streams'],
      ['GET', '/streams'],
      ['GET', '/streams/someid'],
      ['POST', '/streams/someid/key'],
      ['DELETE', '/streams/someid'],
    ];

    it.each(routes)('%s %s without a token answers 401 with a challenge', async (method, url) => {
      const res = await app.request(url, { method });
      const body = await expectProblem(res, 401, 'Unauthorized');
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="wisp"');
      expect(body.detail).toMatch(/token/);
    });

    it.each(routes)('%s %s with a wrong token answers 401 invalid_token', async (method, url) => {
      const res = await app.request(url, {
        method,
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}x` },
      });
      await expectProblem(res, 401, 'Unauthorized');
      expect(res.headers.get('www-authenticate')).toBe(
        'Bearer realm="wisp", error="invalid_token"',
      );
    });

    it('treats a non-bearer credential as missing', async () => {
      const res = await app.request('/streams', {
        headers: {
          Authorization: `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}`,
        },
      });
      await expectProblem(res, 401, 'Unauthorized');
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="wisp"');
    });

    it('accepts the scheme in any case', async () => {
      const res = await app.request('/streams', {
        headers: { Authorization: `bearer ${ADMIN_TOKEN}` },
      });
      expect(res.status).toBe(200);
    });

    it('checks the token before reading the body', async () => {
      const res = await app.request('/streams', {
        method: 'POST',
        headers: { 'Content-Type': 'text/plain' },
        body: 'x'.repeat(MAX_JSON_BYTES * 2),
      });
      expect(res.status).toBe(401);
      expect(await store.listStreams()).toEqual([]);
    });
  });

  describe('stream keys', () => {
    it('are never stored in plain text', async () => {
      const created = await createStream();
      const rotated = (await (
        await request('POST', `/streams/${created.id}/key`)
      ).json()) as StreamView;
      const other = await createStream('other');
      const dump = await backend.dump();
      expect(dump).toContain(created.id);
      for (const key of [created.streamKey!, rotated.streamKey!, other.streamKey!]) {
        expect(dump).not.toContain(key);
        expect(dump).not.toContain(key.slice(3));
      }
    });

    it('survive a restart', async () => {
      const created = await createStream();
      const gone = await createStream('gone');
      await request('DELETE', `/streams/${gone.id}`);
      await store.close();

      const restarted = open(await backend.reopen());
      expect(await restarted.service.resolveStreamKey(created.streamKey!)).toBe(created.id);
      expect(await restarted.service.resolveStreamKey(gone.streamKey!)).toBeUndefined();
      const res = await restarted.app.request(`/streams/${created.id}`, { headers: auth });
      expect(res.status).toBe(200);
    });

    it('resolve only exact keys', async () => {
      const created = await createStream();
      const key = created.streamKey!;
      expect(await service.resolveStreamKey(key)).toBe(created.id);
      expect(await service.resolveStreamKey(`${key} `)).toBeUndefined();
      expect(await service.resolveStreamKey(key.slice(0, -1))).toBeUndefined();
      expect(await service.resolveStreamKey(key.toUpperCase())).toBeUndefined();
      expect(await service.resolveStreamKey('sk_unknown')).toBeUndefined();
    });

    it('refuse empty and oversized keys without asking the store', async () => {
      await store.close(); // A closed store throws on any access, so reaching it would show.
      expect(await service.resolveStreamKey('')).toBeUndefined();
      expect(await service.resolveStreamKey('k'.repeat(513))).toBeUndefined();
      await expect(service.resolveStreamKey('k'.repeat(512))).rejects.toThrow(/closed/);
    });
  });

  describe('StreamDirectory', () => {
    it('tells existing streams from unknown ones', async () => {
      const created = await createStream();
      expect(await service.streamExists(created.id)).toBe(true);
      expect(await service.streamExists('unknownid12345678')).toBe(false);
      expect(await service.streamExists('../etc/passwd')).toBe(false);
    });
  });

  describe('mounted under /api', () => {
    it('serves the same routes with the /api prefix', async () => {
      const server = new Hono();
      server.route('/api', app);
      const res = await server.request('/api/streams', {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ name: 'mounted' }),
      });
      expect(res.status).toBe(201);
      const view = (await res.json()) as StreamView;
      expect(res.headers.get('location')).toBe(`${PUBLIC_URL}/api/streams/${view.id}`);
      const missing = await server.request('/api/streams/unknownid12345678', { headers: auth });
      const body = await expectProblem(missing, 404, 'Not Found');
      expect(body.instance).toBe('/api/streams/unknownid12345678');
      const unauthorized = await server.request('/api/streams');
      await expectProblem(unauthorized, 401, 'Unauthorized');
    });
  });

  it('answers unknown routes with a problem+json 404', async () => {
    await expectProblem(await request('PUT', '/streams'), 404, 'Not Found');
  });
});

describe('POST /api/nodes/:id/drain', () => {
  const backend = embeddedBackend();
  afterAll(() => backend.teardown());

  it('asks the node to drain (202), 404 for an unknown one, admin only', async () => {
    const store = await backend.create();
    const asked: string[] = [];
    const app = createControlRoutes({
      service: new StreamService({ store, publicUrl: PUBLIC_URL, live: new LiveSet() }),
      adminToken: ADMIN_TOKEN,
      maxJsonBytes: MAX_JSON_BYTES,
      drainNode: (id) => {
        asked.push(id);
        return Promise.resolve(id === 'edge-1' ? { id, state: 'draining' as const } : undefined);
      },
    });
    const post = (id: string, headers: Record<string, string> = {}) =>
      app.request(`/nodes/${id}/drain`, { method: 'POST', headers });
    const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };
    const drained = await post('edge-1', auth);
    expect(drained.status).toBe(202);
    expect(await drained.json()).toEqual({ id: 'edge-1', state: 'draining' });
    expect(drained.headers.get('cache-control')).toBe('no-store');
    const unknown = await post('nope', auth);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toBe('application/problem+json');
    expect((await post('edge-1')).status).toBe(401);
    expect((await post('edge-1', { Authorization: 'Bearer wrong' })).status).toBe(401);
    expect(asked).toEqual(['edge-1', 'nope']);
    await store.close();
  });
});
