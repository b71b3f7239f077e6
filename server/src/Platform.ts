/**
 * Composes the roles this process runs (`ROLES`; default all of them, which is `npm start`):
 * control (stream-key API), ingest (WHIP), edge (WHEP), egress (the front door: redirects
 * to the ingest and edge nodes when this process is neither, and the player pages).
 * Components never import each other; this file wires them through the contracts in
 * @wisp/core and the cluster services (node and stream registries, control bus), which are
 * in memory for one process and on Redis for a cluster. Media roles are loaded only when
 * configured, so a front door never loads mediasoup.
 */
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import {
  ClusterAuth,
  ViewerTokens,
  InternalCallError,
  InternalClient,
  Metrics,
  RateLimiter,
  configureLogging,
  cors,
  createCluster,
  createLogger,
  createStateStore,
  describeConfig,
  onError,
  requestLogging,
  type Cluster,
  type Config,
  type NodeLoad,
  type PublishRequest,
  type StateStore,
  type StreamMediaView,
} from '@wisp/core';
import type { PipeServer, StreamSource, WorkerPool } from '@wisp/core/rtc';
import { StreamService, createControlRoutes } from '@wisp/control';
import type { Ingest } from '@wisp/ingest';
import type { DrainPlan, Edge, RemoteSource } from '@wisp/edge';
import { createPlayerRoutes, type PublicStreamStatus } from '@wisp/player';
import { FrontDoor, createFrontDoorRoutes } from '@wisp/egress';
import {
  RecordingService,
  createRecordingRoutes,
  createStorage,
  type RecordingStorage,
} from '@wisp/recorder';
import type { Recorder } from '@wisp/recorder/media';
import { ClusterNode } from './ClusterNode.ts';
import { createInternalRoutes } from './internalRoutes.ts';
import { metricsSources, readiness } from './observability.ts';
import { PlatformWebhooks } from './webhooks.ts';

const log = createLogger('Platform');

interface MediaParts {
  pool: WorkerPool;
  ingest?: Ingest;
  edge?: Edge;
  remote?: RemoteSource;
  recorder?: Recorder;
  pipes: PipeServer;
  /** WHIP and WHEP routes of the roles this node runs. */
  routes: Hono[];
}

export class Platform {
  readonly config: Config;
  readonly store: StateStore;
  readonly cluster: Cluster;
  readonly auth: ClusterAuth;
  readonly client: InternalClient;
  readonly node: ClusterNode;
  readonly streams: StreamService;
  readonly recordings: RecordingService;
  readonly storage: RecordingStorage;
  readonly app: Hono;
  /** Prometheus metrics of this platform (`METRICS=off`: none). */
  readonly metrics: Metrics | undefined;
  /** Webhooks and the publish hook, when configured (server/src/webhooks.ts). */
  readonly webhooks: PlatformWebhooks | undefined;
  readonly #media: MediaParts | undefined;
  #server: ServerType | undefined;
  #closed = false;
  #draining: Promise<void> | undefined;
  /** Aborted when the drain starts: tells the nodes this one feeds (pipe events `draining`). */
  readonly #drainSignal = new AbortController();
  readonly #drained: { promise: Promise<void>; resolve: () => void };

  private constructor(parts: {
    config: Config;
    store: StateStore;
    cluster: Cluster;
    media: MediaParts | undefined;
    auth: ClusterAuth;
    client: InternalClient;
    streams: StreamService;
    recordings: RecordingService;
    storage: RecordingStorage;
    metrics: Metrics | undefined;
    webhooks: PlatformWebhooks | undefined;
  }) {
    const { config, cluster, media } = parts;
    this.metrics = parts.metrics;
    this.recordings = parts.recordings;
    this.storage = parts.storage;
    this.config = config;
    this.store = parts.store;
    this.cluster = cluster;
    this.auth = parts.auth;
    this.client = parts.client;
    this.streams = parts.streams;
    this.webhooks = parts.webhooks;
    this.#media = media;
    let resolveDrained = () => {};
    const drained = new Promise<void>((resolve) => (resolveDrained = resolve));
    this.#drained = { promise: drained, resolve: resolveDrained };
    const { bus } = cluster;
    const ingest = media?.ingest;
    this.node = new ClusterNode({
      cluster,
      config: config.cluster,
      relay: config.edge.relay,
      limits: config.allocation.limits,
      load: () => this.#load(),
      copies: () =>
        media?.remote?.pulled().map((p) => ({
          streamId: p.streamId,
          parent: p.parent,
          hops: p.hops,
          viewers: media.edge?.viewerCount(p.streamId) ?? 0,
        })) ?? [],
      onSuperseded: (streamId) => ingest?.kick(streamId, 'replaced'),
    });
    if (ingest) {
      ingest.on('streamLive', ({ streamId }) => this.node.streamLive(streamId));
      ingest.on('streamOffline', ({ streamId, reason }) =>
        this.node.streamOffline(streamId, reason),
      );
      // A rotated key or a deleted stream ends its live publisher, on whichever node it is.
      bus.subscribe((event) => {
        if (event.type === 'keyRotated' || event.type === 'streamDeleted') {
          ingest.kick(event.streamId, 'key-revoked');
        }
      });
    }
    media?.remote?.on('pulled', ({ streamId, parent, hops }) =>
      this.node.copyChanged({ streamId, parent, hops, viewers: 0 }),
    );
    media?.remote?.on('dropped', ({ streamId }) =>
      this.node.copyChanged({ streamId, dropped: true }),
    );
    // The node a pulled stream comes from drains: its viewers here move to a new pull.
    media?.remote?.on('parentDraining', ({ streamId }) =>
      media.edge?.handOver(streamId, this.#drainPlan()),
    );
    this.webhooks?.attach({
      nodeId: config.cluster.nodeId,
      streams: this.streams,
      ingest,
      recorder: media?.recorder,
      recordingView: (record) => this.recordings.view(record),
    });
    for (const type of ['keyRotated', 'streamDeleted'] as const) {
      this.streams.on(type, ({ streamId }) => {
        void bus.publish({ type, streamId }).catch((error: unknown) => {
          log.error({ err: error, streamId, type }, 'could not announce the change');
        });
      });
    }
    this.metrics?.bind(metricsSources(this.#observed()));
    this.app = this.#createApp();
  }

  static async create(config: Config): Promise<Platform> {
    configureLogging(config.logLevel);
    log.info({ config: describeConfig(config) }, 'starting');
    const roles = new Set(config.cluster.roles);
    const store = await createStateStore(config);
    const closers: (() => unknown)[] = [() => store.close()];
    try {
      const webhooks = PlatformWebhooks.create(config.webhooks, store);
      closers.push(() => webhooks?.close());
      const cluster = await createCluster(
        config.store.kind === 'redis' && config.store.redisUrl
          ? { kind: 'redis', url: config.store.redisUrl, prefix: config.store.redisPrefix }
          : { kind: 'embedded' },
      );
      closers.push(() => cluster.close());
      const auth = new ClusterAuth({
        secret: config.cluster.secret,
        ticketTtlMs: config.cluster.ticketTtlMs,
      });
      const client = new InternalClient({ auth, self: config.cluster.nodeId });
      const metrics = config.metrics.enabled ? new Metrics() : undefined;
      let media: MediaParts | undefined;
      // Any node can resolve keys and tell streams apart: the records are in the shared store.
      const viewerTokens = new ViewerTokens({ secret: config.cluster.secret });
      const streams = new StreamService({
        store,
        publicUrl: config.http.publicUrl,
        recordByDefault: config.recording.defaultOn,
        viewerTokens,
        live: {
          isLive: (id) => isLive(id, media, cluster),
          mediaStatus: (id) => mediaStatusOf(id, { media, cluster, client, config }),
          placement: async (id) => {
            const owner = await cluster.streams.owner(id);
            if (!owner) return undefined;
            const copies = await cluster.streams.copies(id);
            return {
              ingestNode: owner.node,
              distribution: copies.map(({ node, parent, viewers }) => ({ node, parent, viewers })),
            };
          },
        },
      });
      const { storage: storageConfig } = config.recording;
      const storage = createStorage(
        storageConfig.kind === 'disk'
          ? { kind: 'disk', dir: storageConfig.dir }
          : {
              kind: 's3',
              bucket: storageConfig.bucket,
              prefix: storageConfig.prefix,
              region: storageConfig.region,
              ...(storageConfig.endpoint ? { endpoint: storageConfig.endpoint } : {}),
              forcePathStyle: storageConfig.forcePathStyle,
            },
      );
      closers.push(() => storage.close());
      const freshMs = freshnessMs(config);
      const recordings = new RecordingService({
        store,
        storage,
        bus: cluster.bus,
        nodes: cluster.nodes,
        publicUrl: config.http.publicUrl,
        freshMs,
        isLive: async (id) => (await streams.get(id).catch(() => undefined))?.live ?? false,
      });
      if (roles.has('ingest') || roles.has('edge') || roles.has('recorder')) {
        media = await createMedia({
          config,
          cluster,
          client,
          auth,
          streams,
          store,
          storage,
          metrics,
          admission: webhooks?.admission,
        });
        const parts = media;
        closers.push(() => parts.pool.close());
        closers.push(() => parts.recorder?.close());
      }
      const platform = new Platform({
        config,
        store,
        cluster,
        media,
        auth,
        client,
        streams,
        recordings,
        storage,
        metrics,
        webhooks,
      });
      await platform.node.start();
      webhooks?.start();
      await media?.recorder?.start();
      return platform;
    } catch (error) {
      for (const close of closers.reverse()) await Promise.resolve(close()).catch(() => undefined);
      throw error;
    }
  }

  get pool(): WorkerPool {
    return this.#require('pool', this.#media?.pool);
  }

  get ingest(): Ingest {
    return this.#require('ingest', this.#media?.ingest);
  }

  get edge(): Edge {
    return this.#require('edge', this.#media?.edge);
  }

  get pipes(): PipeServer {
    return this.#require('pipes', this.#media?.pipes);
  }

  get recorder(): Recorder {
    return this.#require('recorder', this.#media?.recorder);
  }

  #require<T>(what: string, value: T | undefined): T {
    if (value === undefined) throw new Error(`this node has no ${what} (ROLES)`);
    return value;
  }

  async #load(): Promise<NodeLoad> {
    const media = this.#media;
    return {
      viewers: media?.edge?.viewerCount() ?? 0,
      streams: (media?.ingest?.liveStreamCount ?? 0) + (media?.remote?.streamCount ?? 0),
      egressKbps: (await media?.edge?.egressKbps().catch(() => 0)) ?? 0,
      cpu: (await media?.pool.cpuRatio().catch(() => 0)) ?? 0,
    };
  }

  #createApp(): Hono {
    const { config } = this;
    const roles = new Set(config.cluster.roles);
    const media = this.#media;
    const app = new Hono();
    app.onError(onError);
    const { metrics } = this;
    if (metrics) app.use('*', metrics.httpMiddleware());
    app.use('*', requestLogging());
    app.use('*', cors(config.http.corsOrigin));
    // After CORS (a 429 carries its headers), before every route: a refused request does nothing.
    app.use(
      '*',
      new RateLimiter({
        config: config.rateLimits,
        adminToken: config.adminToken,
        onLimited: (bucket) => metrics?.rateLimited(bucket),
      }).middleware(),
    );
    if (metrics) app.get('/metrics', metrics.handler(config.metrics.token));
    app.get('/readyz', async (c) => {
      const result = await readiness(this.#observed());
      return c.json(result, result.ready ? 200 : 503, { 'Cache-Control': 'no-store' });
    });
    app.get('/healthz', (c) =>
      c.json({
        status: 'ok',
        node: { id: config.cluster.nodeId, roles: config.cluster.roles, state: this.node.state },
        liveStreams: media?.ingest?.liveStreamCount ?? 0,
        viewers: media?.edge?.viewerCount() ?? 0,
        ...(media
          ? {
              workers: media.pool.stats(),
              media: { ports: media.pool.ports(), ...media.pool.libraries },
            }
          : {}),
      }),
    );
    if (media) {
      app.route('/', this.#internalRoutes(media));
    }
    if (roles.has('control')) {
      app.route(
        '/api',
        createControlRoutes({
          service: this.streams,
          adminToken: config.adminToken,
          maxJsonBytes: config.http.maxJsonBytes,
          nodes: async () => {
            const now = Date.now();
            return (await this.cluster.nodes.list()).map((n) => ({
              id: n.id,
              roles: n.roles,
              url: n.url,
              region: n.region,
              state: n.state,
              relay: n.relay ?? false,
              pid: n.pid,
              load: n.load,
              lastSeenMs: Math.max(0, now - n.lastSeen),
            }));
          },
          drainNode: (id) => this.#drainNode(id),
        }),
      );
    }
    if (roles.has('control') || roles.has('egress')) {
      app.route(
        '/',
        createRecordingRoutes({
          service: this.recordings,
          storage: this.storage,
          adminToken: config.adminToken,
          maxJsonBytes: config.http.maxJsonBytes,
        }),
      );
    }
    for (const routes of media?.routes ?? []) app.route('/', routes);
    if (roles.has('egress') && (!media?.ingest || !media.edge)) {
      app.route('/', this.#frontDoorRoutes(!media?.ingest, !media?.edge));
    }
    if (roles.has('egress') || roles.has('control')) {
      app.route(
        '/',
        createPlayerRoutes({
          publicUrl: config.http.publicUrl,
          status: (id) => this.#publicStatus(id),
        }),
      );
      app.get('/', (c) => c.redirect('/publish'));
    }
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

  /**
   * `GET /watch/:id/status` for the player: public, so it reads the stream record and the
   * registries directly (no media status round trip to the ingest). Viewers: this node's
   * own, plus the other nodes' from the stream registry (as of their last heartbeat).
   */
  async #publicStatus(id: string): Promise<PublicStreamStatus | undefined> {
    const record = await this.store.getStream(id);
    if (!record) return undefined;
    const [live, copies] = await Promise.all([
      isLive(id, this.#media, this.cluster),
      this.cluster.streams.copies(id),
    ]);
    const self = this.config.cluster.nodeId;
    const elsewhere = copies
      .filter((copy) => copy.node !== self)
      .reduce((sum, copy) => sum + copy.viewers, 0);
    const viewers = live ? (this.#media?.edge?.viewerCount(id) ?? 0) + elsewhere : 0;
    // The stream's own broadcasts (not compositions it appears in) that can be played, in the
    // shape of the recordings API without its internals (parts).
    const recordings = (await this.recordings.listForStream(id))
      .filter((r) => r.kind === 'broadcast' && (r.status === 'ready' || r.status === 'recording'))
      .map((r) => ({
        id: r.id,
        streamId: r.streamId,
        status: r.status,
        startedAt: r.startedAt,
        endedAt: r.endedAt,
        durationSeconds: r.durationSeconds,
        hlsUrl: r.hlsUrl,
        posterUrl: r.posterUrl,
      }));
    return { id: record.id, name: record.name, live, viewers, recordings };
  }

  /** What /readyz and the metrics look at. */
  #observed() {
    return {
      config: this.config,
      store: this.store,
      cluster: this.cluster,
      node: this.node,
      media: this.#media,
    };
  }

  #internalRoutes(media: MediaParts): Hono {
    return createInternalRoutes({
      auth: this.auth,
      pipes: media.pipes,
      mediaStatus: (id) => media.ingest?.mediaStatus(id),
      dump: () => media.pool.dump(),
      drain: () => {
        void this.drain();
        return { id: this.config.cluster.nodeId, state: 'draining' };
      },
      draining: this.#drainSignal.signal,
      maxJsonBytes: this.config.http.maxJsonBytes,
    });
  }

  /**
   * `POST /api/nodes/:id/drain`: this node drains itself; another is told through its internal
   * API. Undefined for a node the registry does not know.
   */
  async #drainNode(id: string): Promise<{ id: string; state: 'draining' } | undefined> {
    if (id === this.config.cluster.nodeId) {
      void this.drain();
      return { id, state: 'draining' };
    }
    const node = await this.cluster.nodes.get(id);
    if (!node) return undefined;
    try {
      return await this.client.call(node.internalUrl, 'POST', '/internal/drain');
    } catch (error) {
      // Gone between the lookup and the call.
      if (error instanceof InternalCallError && error.status === 404) return undefined;
      throw error;
    }
  }

  #frontDoorRoutes(whip: boolean, whep: boolean): Hono {
    const frontDoor = new FrontDoor({
      nodes: this.cluster.nodes,
      streams: this.cluster.streams,
      keys: this.streams,
      directory: this.streams,
      auth: this.auth,
      notLiveRetryAfterSeconds: this.config.edge.notLiveRetryAfterSeconds,
      freshMs: freshnessMs(this.config),
      policy: this.config.allocation.policy,
      region: this.config.cluster.region,
      metrics: this.metrics,
    });
    return createFrontDoorRoutes({
      frontDoor,
      iceServers: this.config.iceServers,
      whip,
      whep,
      regionHeader: this.config.allocation.regionHeader,
    });
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

  /** Viewers, publishers and pipes this node still serves (drain waits for zero). */
  get activeSessions(): number {
    const media = this.#media;
    return (
      (media?.edge?.viewerCount() ?? 0) +
      (media?.ingest?.liveStreamCount ?? 0) +
      (media?.pipes.pipeCount ?? 0)
    );
  }

  /**
   * SIGTERM in a cluster, or `POST /api/nodes/:id/drain`: take nothing new (the registry says
   * `draining` at once, so the front door sends nobody here), move the edge's viewers to other
   * edges over `DRAIN_SPREAD_MS` (Edge.drain: the WHEP `reconnect` event, else a close), then
   * close once every session has ended or after `timeoutMs`. Publishers can't be moved: an
   * ingest waits for them. Pipes this node feeds to other nodes stay until the end (they
   * count as sessions); see docs/operations.md, Drain. Idempotent: one drain per process.
   */
  drain(timeoutMs = this.config.cluster.drainTimeoutMs): Promise<void> {
    this.#draining ??= this.#drain(timeoutMs).finally(() => this.#drained.resolve());
    return this.#draining;
  }

  /** How an edge moves viewers away (its own drain, or a parent's: Edge.handOver). */
  #drainPlan(): DrainPlan {
    const { publicUrl } = this.config.http;
    return {
      spreadMs: this.config.cluster.drainSpreadMs,
      graceMs: this.config.cluster.drainGraceMs,
      reconnectUrl: (streamId) => `${publicUrl}/whep/${encodeURIComponent(streamId)}`,
    };
  }

  /** Resolves once a drain has closed the platform (main.ts exits then). */
  whenDrained(): Promise<void> {
    return this.#drained.promise;
  }

  async #drain(timeoutMs: number): Promise<void> {
    const started = Date.now();
    log.info({ sessions: this.activeSessions }, 'draining');
    await this.node.drain().catch(() => undefined);
    this.#media?.edge?.drain(this.#drainPlan());
    this.#media?.ingest?.drain();
    // The registry says draining by now, so the nodes this one feeds find another parent.
    this.#drainSignal.abort();
    const deadline = started + timeoutMs;
    // At least one pause, so the answer to the request that asked for the drain goes out.
    do {
      await new Promise((resolve) => setTimeout(resolve, 250));
    } while (this.activeSessions > 0 && Date.now() < deadline);
    log.info({ remaining: this.activeSessions, ms: Date.now() - started }, 'drained');
    await this.close();
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
    const media = this.#media;
    // First, while the streams still flow: finalize (one process) or leave for the next
    // recorder (a cluster).
    await media?.recorder?.close();
    media?.remote?.close();
    media?.pipes.close();
    media?.edge?.close();
    media?.ingest?.close();
    // The stream.ended events of the sessions just closed go into the outbox first.
    await this.webhooks?.close();
    await this.node.stop().catch(() => undefined);
    media?.pool.close();
    await this.cluster.close();
    await this.storage.close();
    await this.store.close();
    log.info('stopped');
  }
}

/**
 * How recently a node must have been seen to be sent anything (one and a half heartbeats and
 * some slack): the front door's and the recorders' view of "alive".
 */
function freshnessMs(config: Config): number {
  return Math.round(config.cluster.heartbeatMs * 1.5) + 250;
}

/** Whether a stream is published: on this node's ingest, or on a registered owner node. */
async function isLive(
  id: string,
  media: MediaParts | undefined,
  cluster: Cluster,
): Promise<boolean> {
  if (media?.ingest?.isLive(id)) return true;
  const owner = await cluster.streams.owner(id);
  return owner !== undefined && (await cluster.nodes.get(owner.node)) !== undefined;
}

/** How a live stream's media is doing: from the local ingest, else from its owner node. */
async function mediaStatusOf(
  id: string,
  parts: {
    media: MediaParts | undefined;
    cluster: Cluster;
    client: InternalClient;
    config: Config;
  },
): Promise<StreamMediaView | undefined> {
  const local = parts.media?.ingest?.mediaStatus(id);
  if (local) return local;
  const owner = await parts.cluster.streams.owner(id);
  if (!owner || owner.node === parts.config.cluster.nodeId) return undefined;
  const node = await parts.cluster.nodes.get(owner.node);
  if (!node) return undefined;
  try {
    return await parts.client.call<StreamMediaView>(
      node.internalUrl,
      'GET',
      `/internal/streams/${encodeURIComponent(id)}/media`,
    );
  } catch (error) {
    if (error instanceof InternalCallError) return undefined;
    throw error;
  }
}

/** The media roles: loaded (with mediasoup) only when this node runs one of them. */
async function createMedia(parts: {
  config: Config;
  cluster: Cluster;
  client: InternalClient;
  auth: ClusterAuth;
  streams: StreamService;
  store: StateStore;
  storage: RecordingStorage;
  metrics: Metrics | undefined;
  admission?: (request: PublishRequest) => Promise<void>;
}): Promise<MediaParts> {
  const { config, cluster, client, streams } = parts;
  const roles = new Set(config.cluster.roles);
  const { WorkerPool, PipeServer } = await import('@wisp/core/rtc');
  const pool = await WorkerPool.create(config.media);
  try {
    const rtc = {
      publicUrl: config.cluster.nodeUrl,
      iceServers: config.iceServers,
      maxSdpBytes: config.http.maxSdpBytes,
      tickets: { auth: parts.auth, node: config.cluster.nodeId },
    };
    const routes: Hono[] = [];
    let ingest: Ingest | undefined;
    if (roles.has('ingest')) {
      const ingestModule = await import('@wisp/ingest');
      ingest = new ingestModule.Ingest({
        pool,
        keys: streams,
        media: config.media,
        session: config.session,
        admission: parts.admission,
      });
      routes.push(ingestModule.createWhipRoutes({ ingest, ...rtc, metrics: parts.metrics }));
    }
    // What this node carries, for its viewers and for the nodes it feeds: its own published
    // streams first, then (on an edge in a cluster) streams pulled from other nodes.
    const carried: StreamSource = {
      acquire: async (streamId) =>
        (await ingest?.acquire(streamId)) ?? (await remote?.acquire(streamId)),
    };
    const pipe = {
      listenIp: config.cluster.pipeListenIp,
      ...(config.cluster.pipeAnnouncedIp ? { announcedIp: config.cluster.pipeAnnouncedIp } : {}),
      portRange: { min: config.media.rtcMinPort, max: config.media.rtcMaxPort },
    };
    let edge: Edge | undefined;
    let remote: RemoteSource | undefined;
    if (roles.has('edge') || roles.has('recorder')) {
      const edgeModule = await import('@wisp/edge');
      if (config.cluster.split) {
        remote = new edgeModule.RemoteSource({
          self: config.cluster.nodeId,
          pool,
          client,
          locator: {
            locate: async (streamId) => {
              const [owner, nodes, copies] = await Promise.all([
                cluster.streams.owner(streamId),
                cluster.nodes.list(),
                cluster.streams.copies(streamId),
              ]);
              const parent = edgeModule.chooseParent({
                self: config.cluster.nodeId,
                owner,
                nodes,
                copies,
                fanout: config.cluster.pipeFanout,
                maxDepth: config.cluster.maxDepth,
              });
              return parent && { node: parent.id, internalUrl: parent.internalUrl };
            },
          },
          pipe: { ...pipe, srtp: config.cluster.pipeSrtp },
          lingerMs: config.edge.lingerMs,
        });
      }
    }
    if (roles.has('edge')) {
      const edgeModule = await import('@wisp/edge');
      edge = new edgeModule.Edge({
        pool,
        source: carried,
        directory: streams,
        media: config.media,
        session: config.session,
        edge: config.edge,
        maxViewers: config.allocation.limits.viewers.hard,
        // The viewercount event: this edge's viewers, plus the other nodes' (last heartbeat).
        audience: async (streamId, local) =>
          local +
          (await cluster.streams.copies(streamId))
            .filter((copy) => copy.node !== config.cluster.nodeId)
            .reduce((sum, copy) => sum + copy.viewers, 0),
      });
      routes.push(edgeModule.createWhepRoutes({ edge, ...rtc, metrics: parts.metrics }));
    }
    const pipes = new PipeServer({
      source: carried,
      ...pipe,
    });
    let recorder: Recorder | undefined;
    if (roles.has('recorder')) {
      const recorderModule = await import('@wisp/recorder/media');
      const { checkFfmpeg, resolveFfmpeg } = await import('@wisp/recorder');
      const ffmpeg = resolveFfmpeg(config.recording.ffmpegPath);
      try {
        const version = checkFfmpeg(ffmpeg);
        log.info({ ffmpeg: ffmpeg.ffmpeg, from: ffmpeg.source, version }, 'recorder ffmpeg');
      } catch (error) {
        // Streams still go live; every recording fails with this reason until it is fixed.
        log.error({ err: error }, 'ffmpeg is not usable: recordings will fail');
      }
      recorder = new recorderModule.Recorder({
        nodeId: config.cluster.nodeId,
        source: carried,
        store: parts.store,
        bus: cluster.bus,
        nodes: cluster.nodes,
        streams: cluster.streams,
        storage: parts.storage,
        config: config.recording,
        ffmpeg,
        freshMs: freshnessMs(config),
        finalizeOnClose: !config.cluster.split,
        metrics: parts.metrics,
      });
    }
    return { pool, ingest, edge, remote, recorder, pipes, routes };
  } catch (error) {
    pool.close();
    throw error;
  }
}
