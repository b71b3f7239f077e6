/**
 * The platform a server path of the latency probe runs through. By default it is the real
 * platform started in-process by the server's test support (real mediasoup workers, HTTP on
 * loopback); a caller may inject another starter, e.g. one that targets a running cluster.
 */

/** What the probe needs from a running platform. */
export interface LatencyPlatform {
  /** Creates a stream and returns its WHIP and WHEP endpoints and its key. */
  createStream(name: string): Promise<{ whipUrl: string; whepUrl: string; streamKey: string }>;
  /** Routers per mediasoup worker, to report the topology a path really had (optional). */
  routersPerWorker?(): Promise<number[]>;
  stop(): Promise<void>;
}

/** Starts a platform with these configuration variables (e.g. `EDGE_SERVE_FROM_SOURCE`). */
export type PlatformStarter = (env: Record<string, string>) => Promise<LatencyPlatform>;

/**
 * Starts the platform of `server/src/local.ts` in this process. It is imported
 * lazily, so the peer-to-peer path and the stamp never load mediasoup.
 */
export const startInProcessPlatform: PlatformStarter = async (env) => {
  const { startLocalPlatform: startPlatform } = await import('@wisp/server');
  const platform = await startPlatform(env);
  return {
    createStream: (name) => platform.createStream(name),
    routersPerWorker: async () =>
      (await platform.platform.pool.dump()).map((worker) => worker.routerIds.length),
    stop: () => platform.stop(),
  };
};
