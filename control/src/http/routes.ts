/**
 * The stream-key API (architecture.md, "Public contract"). Routes live at `/streams...`; the
 * server mounts them with `app.route('/api', createControlRoutes(...))`. Every route needs
 * the admin bearer token. Errors are thrown as AppErrors and rendered by `onError` as
 * `application/problem+json`.
 */
import { Hono } from 'hono';
import {
  NotFoundError,
  adminAuth,
  noStore,
  onError,
  readJsonBody,
  type NodeView,
} from '@wisp/core';
import type { StreamService } from '../StreamService.ts';
import {
  parseCreateStreamRequest,
  parseUpdateStreamRequest,
  parseViewerTokenTtl,
} from '../validation.ts';

export interface ControlRoutesOptions {
  service: StreamService;
  /** The `ADMIN_TOKEN` every route requires as `Authorization: Bearer <token>`. */
  adminToken: string;
  /** Largest accepted JSON body in bytes (`MAX_JSON_BYTES`). */
  maxJsonBytes: number;
  /** The cluster's nodes for `GET /api/nodes` (the node registry). */
  nodes?: () => Promise<NodeView[]>;
  /** `POST /api/nodes/:id/drain`: starts that node's drain; undefined for an unknown node. */
  drainNode?: (id: string) => Promise<{ id: string; state: 'draining' } | undefined>;
}

export function createControlRoutes(options: ControlRoutesOptions): Hono {
  const { service, maxJsonBytes } = options;
  const app = new Hono();
  // Middleware is attached per route rather than with `app.use('/streams/*')`: once mounted,
  // a path-wide `use` would also guard other components' routes under /api/streams/.
  const guard = [noStore, adminAuth(options.adminToken)] as const;

  app.post('/streams', ...guard, async (c) => {
    const { name, ...options } = parseCreateStreamRequest(await readJsonBody(c, maxJsonBytes));
    const view = await service.create(name, options);
    c.header('Location', `${service.publicUrl}/api/streams/${encodeURIComponent(view.id)}`);
    return c.json(view, 201);
  });

  app.get('/nodes', ...guard, async (c) => c.json({ nodes: (await options.nodes?.()) ?? [] }));

  app.post('/nodes/:id/drain', ...guard, async (c) => {
    const drained = await options.drainNode?.(c.req.param('id'));
    if (!drained) throw new NotFoundError('no such node');
    return c.json(drained, 202);
  });

  app.get('/streams', ...guard, async (c) => c.json({ streams: await service.list() }));

  app.get('/streams/:id', ...guard, async (c) => c.json(await service.get(c.req.param('id'))));

  app.patch('/streams/:id', ...guard, async (c) => {
    const changes = parseUpdateStreamRequest(await readJsonBody(c, maxJsonBytes));
    return c.json(await service.update(c.req.param('id'), changes));
  });

  app.post('/streams/:id/key', ...guard, async (c) =>
    c.json(await service.rotateKey(c.req.param('id'))),
  );

  app.post('/streams/:id/viewer-tokens', ...guard, async (c) => {
    // The body is optional: none (or an empty one) asks for the default lifetime.
    const hasBody =
      c.req.header('content-type') !== undefined ||
      c.req.header('transfer-encoding') !== undefined ||
      (c.req.header('content-length') ?? '0') !== '0';
    const ttlSeconds = parseViewerTokenTtl(
      hasBody ? await readJsonBody(c, maxJsonBytes) : undefined,
    );
    return c.json(await service.issueViewerToken(c.req.param('id'), ttlSeconds), 201);
  });

  app.delete('/streams/:id', ...guard, async (c) => {
    await service.delete(c.req.param('id'));
    return c.body(null, 204);
  });

  // Standalone (in tests), unknown paths answer problem+json too; once mounted, the server's
  // own notFound applies.
  app.notFound((c) => onError(new NotFoundError(`no route for ${c.req.method} ${c.req.path}`), c));
  app.onError(onError);
  return app;
}
