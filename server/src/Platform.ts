/**
 * Composes the roles of one process. `npm start` runs every role here on embedded defaults:
 * control (stream keys), ingest (WHIP), edge (WHEP, fed in-process from the ingest) and the
 * player pages. Components never import each other; this file wires them through the
 * contracts in @wisp/core.
 */
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import {
  ConfigError,
  configureLogging,
  cors,
  createLogger,
  createStateStore,
  describeConfig,
  onError,
  type Config,
  type StateStore,
} from '@wisp/core';
import { WorkerPool } from '@wisp/core/rtc';
import { StreamService, createControlRoutes } from '@wisp/control';
import { Ingest, createWhipRoutes } from '@wisp/ingest';
import { Edge, createWhepRoutes } from '@wisp/edge';
import { createPlayerRoutes } from '@wisp/player';

const log = createLogger('Platform');

export class Platform {
  readonly config: Config;
  readonly store: StateStore;
  readonly pool: WorkerPool;
  readonly streams: StreamService;
  readonly ingest: Ingest;
  readonly edge: Edge;
  readonly app: Hono;
  #server: ServerType | undefined;
  #closed = false;

  private constructor(config: Config, store: StateStore, pool: WorkerPool) {
    this.config = config;
    this.store = store;
    this.pool = pool;
    // The service asks the ingest whether a stream is live (and how its media is doing); the
    // ingest asks the service to resolve stream keys. The closures break the construction cycle.
    this.streams = new StreamService({
      store,
      publicUrl: config.http.publicUrl,
      live: {
        isLive: (id) => this.ingest.isLive(id),
        mediaStatus: (id) => this.ingest.mediaStatus(id),
      },
    });
    this.ingest = new Ingest({
      pool,
      keys: this.streams,
      media: config.media,
      session: config.session,
    });
    this.edge = new Edge({
      pool,
      source: this.ingest,
      directory: this.streams,
      media: config.media,
      session: config.session,
      edge: config.edge,
    });
    // A rotated key or a deleted stream ends its live publisher at once.
    this.streams.on('keyRotated', ({ streamId }) => this.ingest.kick(streamId, 'key-revoked'));
    this.streams.on('streamDeleted', ({ streamId }) => this.ingest.kick(streamId, 'key-revoked'));
    this.app = this.#createApp();
  }

  static async create(config: Config): Promise<Platform> {
    configureLogging(config.logLevel);
    if (config.cluster.split) {
      // Until the node-to-node API exists a split role would serve nothing.
      throw new ConfigError('ROLES: running a subset of the roles is not available yet');
    }
    log.info({ config: describeConfig(config) }, 'starting');
    const store = await createStateStore(config);
    let pool: WorkerPool;
    try {
      pool = await WorkerPool.create(config.media);
    } catch (error) {
      await store.close();
      throw error;
    }
    return new Platform(config, store, pool);
  }

  #createApp(): Hono {
    const { config } = this;
    const app = new Hono();
    app.onError(onError);
    app.use('*', cors(config.http.corsOrigin));
    app.get('/healthz', (c) =>
      c.json({
        status: 'ok',
        liveStreams: this.ingest.liveStreamCount,
        viewers: this.edge.viewerCount(),
        workers: this.pool.stats(),
        media: { ports: this.pool.ports(), ...this.pool.libraries },
      }),
    );
    app.route(
      '/api',
      createControlRoutes({
        service: this.streams,
        adminToken: config.adminToken,
        maxJsonBytes: config.http.maxJsonBytes,
      }),
    );
    const rtc = {
      publicUrl: config.http.publicUrl,
      iceServers: config.iceServers,
      maxSdpBytes: config.http.maxSdpBytes,
    };
    app.route('/', createWhipRoutes({ ingest: this.ingest, ...rtc }));
    app.route('/', createWhepRoutes({ edge: this.edge, ...rtc }));
    app.route('/', createPlayerRoutes({ publicUrl: config.http.publicUrl }));
    app.get('/', (c) => c.redirect('/publish'));
    app.notFound((c) =>
      c.json(
        { title: 'Not Found', status: 404, detail: `no route for ${c.req.method} ${c.req.path}` },
        404,
        {
          'Content-Type': 'application/problem+json',
        },
      ),
    );
    return app;
  }

  /** Starts the HTTP server; resolves once it listens. */
  async listen(): Promise<{ port: number }> {
    const { host, port } = this.config.http;
    return new Promise((resolve, reject) => {
      const server = serve({ fetch: this.app.fetch, hostname: host, port }, (info) => {
        resolve({ port: info.port });
      });
      server.once('error', reject);
      this.#server = server;
    });
  }

  /** Stops accepting requests, closes every session, the workers and the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const server = this.#server;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
    }
    this.edge.close();
    this.ingest.close();
    this.pool.close();
    await this.store.close();
    log.info('stopped');
  }
}
