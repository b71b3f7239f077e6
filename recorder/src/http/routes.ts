/**
 * HTTP routes of recordings (docs/api.md): the admin API under `/api` and the public VOD
 * files under `/vod/:recordingId/` (the unguessable id is the capability, as for
 * `playerUrl`). Mounted at `/` by the server.
 */
import { Hono, type Context } from 'hono';
import { NotFoundError, adminAuth, noStore, onError, readJsonBody } from '@wisp/core';
import { parseCompositionRequest, type RecordingService } from '../RecordingService.ts';
import { cacheControlFor, vodResponse, type RecordingStorage } from '../storage/index.ts';

export interface RecordingRoutesOptions {
  service: RecordingService;
  storage: RecordingStorage;
  adminToken: string;
  maxJsonBytes: number;
}

const FILE = /^[A-Za-z0-9_-]{1,64}\.(m3u8|m4s|mp4|jpg)$/;

export function createRecordingRoutes(options: RecordingRoutesOptions): Hono {
  const { service, storage } = options;
  const app = new Hono();
  const guard = [noStore, adminAuth(options.adminToken)] as const;

  app.get('/api/streams/:id/recordings', ...guard, async (c) =>
    c.json({ recordings: await service.listForStream(c.req.param('id')) }),
  );
  app.get('/api/recordings/:id', ...guard, async (c) =>
    c.json(await service.get(c.req.param('id'))),
  );
  app.delete('/api/recordings/:id', ...guard, async (c) => {
    await service.delete(c.req.param('id'));
    return c.body(null, 204);
  });
  app.post('/api/compositions', ...guard, async (c) => {
    const request = parseCompositionRequest(await readJsonBody(c, options.maxJsonBytes));
    const view = await service.compose(request);
    c.header('Location', `${service.publicUrl}/api/recordings/${encodeURIComponent(view.id)}`);
    return c.json(view, 201);
  });
  app.get('/api/compositions/:id', ...guard, async (c) => {
    const view = await service.get(c.req.param('id'));
    if (view.kind !== 'composition') throw new NotFoundError('composition does not exist');
    return c.json(view);
  });
  app.delete('/api/compositions/:id', ...guard, async (c) =>
    c.json(await service.stopComposition(c.req.param('id')), 202),
  );

  const vod = async (c: Context) => {
    const id = c.req.param('id') ?? '';
    const file = c.req.param('file') ?? '';
    const record = FILE.test(file) ? await service.find(id) : undefined;
    if (!record) throw new NotFoundError('no such recording file');
    const live = record.status === 'recording' || record.status === 'finalizing';
    const key = `${record.id}/${file}`;
    const response = await vodResponse(storage, key, c.req.raw, {
      cacheControl: cacheControlFor(key, { live }),
    });
    if (!response) throw new NotFoundError('no such recording file');
    return response;
  };
  app.get('/vod/:id/:file', vod);
  app.on('HEAD', '/vod/:id/:file', vod);

  app.onError(onError);
  return app;
}
