/**
 * The mediasoup workers of this process. Routers are placed on the least-loaded worker; load
 * is the number of transports (publishers, viewers, pipes) on it, which is what costs CPU.
 * A worker that dies is fatal for the streams it carried: the pool emits `workerDied` and the
 * process owner decides (the single-node server exits so its supervisor restarts it).
 */
import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';
import type { MediaConfig } from '../config.ts';
import { InvalidStateError } from '../errors.ts';
import { TypedEmitter } from '../events.ts';
import { moduleLogger } from '../logger.ts';

const log = moduleLogger('WorkerPool');

interface PooledWorker {
  worker: ms.Worker;
  index: number;
  load: number;
  routers: number;
}

export interface WorkerPoolEvents extends Record<string, unknown> {
  workerDied: { pid: number; error: Error };
}

export class WorkerPool extends TypedEmitter<WorkerPoolEvents> {
  readonly #workers: PooledWorker[];
  #closed = false;

  private constructor(workers: PooledWorker[]) {
    super();
    this.#workers = workers;
  }

  static async create(config: MediaConfig): Promise<WorkerPool> {
    // Our build renumbers mediasoup's header-extension ids (infra/scripts/patch-mediasoup.mjs);
    // an unpatched package would silently break video for some WHEP viewers.
    const mid = mediasoup
      .getSupportedRtpCapabilities()
      .headerExtensions?.find((e) => e.uri === 'urn:ietf:params:rtp-hdrext:sdes:mid');
    if (mid?.preferredId !== 4) {
      throw new Error('mediasoup is not patched for wisp: run "npm run setup"');
    }
    const workers: PooledWorker[] = [];
    try {
      for (let index = 0; index < config.numWorkers; index++) {
        const worker = await mediasoup.createWorker({
          logLevel: config.workerLogLevel,
          rtcMinPort: config.rtcMinPort,
          rtcMaxPort: config.rtcMaxPort,
        });
        workers.push({ worker, index, load: 0, routers: 0 });
      }
    } catch (error) {
      for (const w of workers) w.worker.close();
      const message = (error as Error).message;
      throw new Error(
        `could not start the mediasoup worker (${message}); build it with "npm run setup" ` +
          `or point MEDIASOUP_WORKER_BIN at a worker binary`,
        { cause: error },
      );
    }
    const pool = new WorkerPool(workers);
    for (const w of workers) {
      w.worker.on('died', (error: Error) => {
        log.fatal({ pid: w.worker.pid, err: error }, 'mediasoup worker died');
        pool.emit('workerDied', { pid: w.worker.pid, error });
      });
    }
    log.info(
      { workers: workers.map((w) => w.worker.pid), mediasoup: mediasoup.version },
      'workers ready',
    );
    return pool;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Creates a router on the least-loaded worker (or the given one). The router's load weight
   * is released when it closes.
   */
  async createRouter(
    mediaCodecs: ms.RtpCodecCapability[],
    appData: Record<string, unknown> = {},
  ): Promise<ms.Router> {
    if (this.#closed) throw new InvalidStateError('worker pool closed');
    const entry = this.#leastLoaded();
    const router = await entry.worker.createRouter({
      mediaCodecs,
      appData: { ...appData, workerIndex: entry.index },
    });
    entry.routers++;
    router.observer.on('close', () => {
      entry.routers--;
    });
    router.observer.on('newtransport', (transport: ms.Transport) => {
      entry.load++;
      transport.observer.on('close', () => {
        entry.load--;
      });
    });
    return router;
  }

  #leastLoaded(): PooledWorker {
    let best = this.#workers[0];
    for (const w of this.#workers) {
      if (w.load + w.routers < best.load + best.routers) best = w;
    }
    return best;
  }

  /** Per-worker counts, for /healthz and leak tests. */
  stats(): { pid: number; routers: number; transports: number }[] {
    return this.#workers.map((w) => ({
      pid: w.worker.pid,
      routers: w.routers,
      transports: w.load,
    }));
  }

  /** mediasoup's own view of what each worker holds (authoritative, for leak tests). */
  async dump(): Promise<{ pid: number; routerIds: string[] }[]> {
    return Promise.all(
      this.#workers.map(async (w) => {
        const dump = (await w.worker.dump()) as { routerIds: string[] };
        return { pid: w.worker.pid, routerIds: dump.routerIds };
      }),
    );
  }

  /** CPU usage of each worker process (for benchmarks). */
  async resourceUsage(): Promise<{ pid: number; usage: ms.WorkerResourceUsage }[]> {
    return Promise.all(
      this.#workers.map(async (w) => ({
        pid: w.worker.pid,
        usage: await w.worker.getResourceUsage(),
      })),
    );
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#workers) w.worker.close();
    this.removeAllListeners();
  }
}
