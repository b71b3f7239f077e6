/**
 * The internal API, node to node, under `/internal`; every request needs an internal token
 * signed with `CLUSTER_SECRET` (ClusterAuth), anything else is 401 before any work:
 *
 * - `POST /internal/streams/:id/pipes {node, srtp}` -> 201 PipeOffer (404 if not live here)
 * - `POST /internal/pipes/:pipeId/connect {ip, port, srtpParameters?}` -> 204; media flows
 * - `GET /internal/pipes/:pipeId/events`: an SSE channel held open by the puller for the
 *   pipe's life: a `ping` every 2 s, `closed` when the pipe ends, `draining` when this node
 *   drains (the puller pulls the stream from another parent and moves its viewers there). The
 *   pipe closes when the puller drops it (a killed edge leaks no pipe).
 * - `DELETE /internal/pipes/:pipeId` -> 204
 * - `GET /internal/streams/:id/media` -> StreamMediaView (404 if not live here)
 * - `GET /internal/dump` -> `{workers: [{pid, routerIds}]}`, mediasoup's own dump of this
 *   node's workers (what tests and operators check for leaks)
 * - `POST /internal/drain` -> 202 `{id, state: "draining"}`: the node drains (what
 *   `POST /api/nodes/:id/drain` on the control node asks for)
 */
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import {
  NotFoundError,
  ValidationError,
  onError,
  readJsonBody,
  type ClusterAuth,
  type StreamMediaView,
} from '@wisp/core';
import type { PipeServer } from '@wisp/core/rtc';

const PIPE_REQUEST = z.object({ node: z.string().min(1).max(64), srtp: z.boolean() });
const SRTP = z.object({
  cryptoSuite: z.enum([
    'AEAD_AES_256_GCM',
    'AEAD_AES_128_GCM',
    'AES_CM_128_HMAC_SHA1_80',
    'AES_CM_128_HMAC_SHA1_32',
  ]),
  keyBase64: z.string().min(1).max(256),
});
const PIPE_ENDPOINT = z.object({
  ip: z.string().min(1).max(64),
  port: z.number().int().min(1).max(65535),
  srtpParameters: SRTP.optional(),
});

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(z.prettifyError(result.error));
  return result.data;
}

export interface InternalRoutesOptions {
  auth: ClusterAuth;
  pipes: PipeServer;
  mediaStatus?: (streamId: string) => StreamMediaView | undefined;
  dump?: () => Promise<{ pid: number; routerIds: string[] }[]>;
  /** Starts this node's drain (Platform.drain). */
  drain?: () => { id: string; state: 'draining' };
  maxJsonBytes: number;
  /** Heartbeat period of the events channel. Default 2000 ms. */
  pingMs?: number;
  /** Aborted when this node drains: every pipe's events channel says `draining`. */
  draining?: AbortSignal;
}

export function createInternalRoutes(options: InternalRoutesOptions): Hono {
  const { auth, pipes } = options;
  const app = new Hono();
  app.onError(onError);
  app.use('/internal/*', async (c, next) => {
    await auth.verifyInternal(c.req.header('authorization'));
    await next();
  });

  app.post('/internal/streams/:streamId/pipes', async (c) => {
    const request = parse(PIPE_REQUEST, await readJsonBody(c, options.maxJsonBytes));
    const offer = await pipes.open(c.req.param('streamId'), request);
    return c.json(offer, 201);
  });
  app.post('/internal/pipes/:pipeId/connect', async (c) => {
    const endpoint = parse(PIPE_ENDPOINT, await readJsonBody(c, options.maxJsonBytes));
    await pipes.connect(c.req.param('pipeId'), endpoint);
    return c.body(null, 204);
  });
  app.get('/internal/pipes/:pipeId/events', (c) => {
    const pipe = pipes.get(c.req.param('pipeId'));
    return streamSSE(c, async (stream) => {
      await new Promise<void>((resolve) => {
        const ping = setInterval(() => {
          void stream.writeSSE({ event: 'ping', data: '' }).catch(() => undefined);
        }, options.pingMs ?? 2000);
        const announce = () => {
          void stream.writeSSE({ event: 'draining', data: '' }).catch(() => undefined);
        };
        const done = () => {
          clearInterval(ping);
          options.draining?.removeEventListener('abort', announce);
          resolve();
        };
        stream.onAbort(() => {
          pipe.close('puller gone');
          done();
        });
        if (pipe.closed) return done();
        pipe.once('closed', ({ reason }) => {
          void stream
            .writeSSE({ event: 'closed', data: JSON.stringify({ reason }) })
            .catch(() => undefined)
            .finally(done);
        });
        void stream.writeSSE({ event: 'ping', data: '' }).catch(() => undefined);
        if (options.draining?.aborted) announce();
        else options.draining?.addEventListener('abort', announce, { once: true });
      });
    });
  });
  app.delete('/internal/pipes/:pipeId', (c) => {
    try {
      pipes.closePipe(c.req.param('pipeId'));
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
    return c.body(null, 204);
  });
  app.get('/internal/streams/:streamId/media', (c) => {
    const status = options.mediaStatus?.(c.req.param('streamId'));
    if (!status) throw new NotFoundError('the stream is not live on this node');
    return c.json(status);
  });
  app.get('/internal/dump', async (c) => c.json({ workers: (await options.dump?.()) ?? [] }));
  app.post('/internal/drain', (c) => {
    if (!options.drain) throw new NotFoundError('this node cannot drain');
    return c.json(options.drain(), 202);
  });
  app.all('/internal/*', () => {
    throw new NotFoundError('no such internal endpoint');
  });
  return app;
}
