/**
 * What a Platform reports about itself, apart from `/healthz` (liveness): the sources its
 * Prometheus gauges read at scrape time (`wisp_*`, core/src/metrics.ts) and `GET /readyz`,
 * whether this node should get traffic now. docs/operations.md#metrics says what each means.
 */
import type { Cluster, Config, MetricsSources, StateStore } from '@wisp/core';
import type { PipeServer, WorkerPool } from '@wisp/core/rtc';
import type { Edge, RemoteSource } from '@wisp/edge';
import type { Ingest } from '@wisp/ingest';
import type { Recorder } from '@wisp/recorder/media';

/** How long a health check waits for Redis to answer a PING. */
export const HEALTH_PING_TIMEOUT_MS = 1000;

/** The components of a node, those it runs. */
export interface ObservedParts {
  config: Config;
  store: StateStore;
  cluster: Cluster;
  node: { readonly state: string };
  media:
    | {
        pool: WorkerPool;
        pipes: PipeServer;
        ingest?: Ingest;
        edge?: Edge;
        remote?: RemoteSource;
        recorder?: Recorder;
      }
    | undefined;
}

/** Whether every Redis connection of this node answers (state store and cluster). */
async function redisReachable(parts: ObservedParts, timeoutMs: number): Promise<boolean> {
  const [store, cluster] = await Promise.all([
    parts.store.ping?.(timeoutMs) ?? true,
    parts.cluster.ping?.(timeoutMs) ?? true,
  ]);
  return store && cluster;
}

export function metricsSources(parts: ObservedParts): MetricsSources {
  const { config, media } = parts;
  const recorder = media?.recorder;
  return {
    node: () => ({
      id: config.cluster.nodeId,
      roles: config.cluster.roles,
      region: config.cluster.region,
      state: parts.node.state,
    }),
    liveStreams: () => media?.ingest?.liveStreamCount ?? 0,
    carriedStreams: () => media?.remote?.streamCount ?? 0,
    viewers: () => media?.edge?.viewerCount() ?? 0,
    // Every pulled copy came over one pipe; every pipe out is one served to another node.
    pipes: () => ({ in: media?.remote?.streamCount ?? 0, out: media?.pipes.pipeCount ?? 0 }),
    ...(media
      ? {
          bitrates: () => media.pool.transportBitrates(),
          workerCpuMs: async () =>
            (await media.pool.resourceUsage()).map((u) => u.usage.ru_utime + u.usage.ru_stime),
        }
      : {}),
    ...(config.store.kind === 'redis'
      ? { redisUp: () => redisReachable(parts, HEALTH_PING_TIMEOUT_MS) }
      : {}),
    ...(recorder ? { recordings: () => recorder.recordingCounts() } : {}),
  };
}

export interface ReadinessCheck {
  ok: boolean;
  [detail: string]: unknown;
}

export interface Readiness {
  ready: boolean;
  checks: Record<string, ReadinessCheck>;
}

/**
 * `GET /readyz`: ready when the node's mediasoup workers all run (a node with media), its
 * state store answers (Redis: a PING within HEALTH_PING_TIMEOUT_MS on each connection; the
 * embedded store always does) and it is not draining.
 */
export async function readiness(parts: ObservedParts): Promise<Readiness> {
  const checks: Record<string, ReadinessCheck> = {};
  const pool = parts.media?.pool;
  if (pool) {
    const up = pool.workersUp;
    checks.workers = { ok: !pool.closed && up === pool.workerCount, up, total: pool.workerCount };
  }
  const kind = parts.config.store.kind;
  checks.store = {
    ok: kind === 'redis' ? await redisReachable(parts, HEALTH_PING_TIMEOUT_MS) : true,
    kind,
  };
  const state = parts.node.state;
  checks.node = { ok: state !== 'draining', state };
  return { ready: Object.values(checks).every((check) => check.ok), checks };
}
