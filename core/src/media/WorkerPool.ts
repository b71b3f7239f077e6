/**
 * The mediasoup workers of this process. Routers are placed on the least-loaded worker; load
 * is the number of transports (publishers, viewers, pipes) on it, which is what costs CPU.
 * In `server` port mode each worker has one WebRtcServer (one UDP and one TCP port per
 * listen address) that every WebRTC transport of its routers shares.
 * A worker that dies is fatal for the streams it carried: the pool emits `workerDied` and the
 * process owner decides (the single-node server exits so its supervisor restarts it).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';
import type { MediaConfig } from '../config.ts';
import { InvalidStateError } from '../errors.ts';
import { TypedEmitter } from '../events.ts';
import { moduleLogger } from '../logger.ts';

const log = moduleLogger('WorkerPool');

/** The port a worker's WebRtcServer is already listening on, or another one, is taken. */
export class PortInUseError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PortInUseError';
  }
}

/**
 * One socket per enabled protocol (UDP first) and listen address, on `port` or any free port
 * of `RTC_MIN_PORT`..`RTC_MAX_PORT` when `port` is undefined: what a WebRtcServer (server
 * mode) and each WebRtcTransport (range mode) listen on.
 */
function listenInfosOf(config: MediaConfig, port: number | undefined): ms.TransportListenInfo[] {
  const protocols: ms.TransportProtocol[] = [];
  if (config.enableUdp) protocols.push('udp');
  if (config.enableTcp) protocols.push('tcp');
  return protocols.flatMap((protocol) =>
    config.listen.map((address) => ({
      protocol,
      ip: address.ip,
      ...(address.announcedAddress ? { announcedAddress: address.announcedAddress } : {}),
      ...(port === undefined
        ? { portRange: { min: config.rtcMinPort, max: config.rtcMaxPort } }
        : { port }),
    })),
  );
}

/** The fixed port of worker `index` in server mode; undefined with `RTC_PORT` 0 (any port). */
function serverPortOf(config: MediaConfig, index: number): number | undefined {
  return config.rtcPort === 0 ? undefined : config.rtcPort + index;
}

/**
 * One UDP and one TCP socket per listen address, on port `RTC_PORT` + index; with `RTC_PORT`
 * 0, each socket takes any free port of `RTC_MIN_PORT`..`RTC_MAX_PORT` (tests run many
 * platforms side by side).
 */
async function createWebRtcServer(
  worker: ms.Worker,
  config: MediaConfig,
  index: number,
): Promise<ms.WebRtcServer> {
  const listenInfos = listenInfosOf(config, serverPortOf(config, index));
  try {
    return await worker.createWebRtcServer({ listenInfos });
  } catch (error) {
    const where = listenInfos
      .map((l) => `${l.protocol} ${l.ip}:${l.port ?? `${config.rtcMinPort}-${config.rtcMaxPort}`}`)
      .join(', ');
    throw new PortInUseError(
      `mediasoup worker ${index} cannot listen on ${where} (${(error as Error).message}): ` +
        'is another wisp running? Set RTC_PORT to free ports (worker i uses RTC_PORT + i), ' +
        'or RTC_LISTEN_IP to addresses this machine has',
      { cause: error },
    );
  }
}

interface PooledWorker {
  worker: ms.Worker;
  index: number;
  load: number;
  routers: number;
  webRtcServer: ms.WebRtcServer | undefined;
}

/**
 * appData of a PipeTransport to or from another node (PipeServer, RemoteSource), which the
 * bitrate totals count as `pipe` traffic; in-process pipes between routers (`pipeToRouter`)
 * stay on this machine and are not counted.
 */
export const NETWORK_PIPE = { networkPipe: true } as const;

/** Summed send and receive bitrates (bits/s) of this pool's transports, by kind. */
export interface TransportBitrates {
  webrtc: { sendBps: number; recvBps: number };
  pipe: { sendBps: number; recvBps: number };
}

/** The libraries the worker reports at start (it links them dynamically: see infra/mediasoup). */
export interface WorkerLibraries {
  openssl?: string;
  libuv?: string;
  libsrtp?: string;
}

/** How a router's WebRTC transports listen: its worker's WebRtcServer, or a port range. */
export type TransportListen =
  | { kind: 'server'; webRtcServer: ms.WebRtcServer }
  | { kind: 'range'; listenInfos: ms.TransportListenInfo[] };

const routerListen = new WeakMap<ms.Router, TransportListen>();

/** How WebRTC transports of a router made by a WorkerPool listen. */
export function transportListenOf(router: ms.Router): TransportListen {
  const listen = routerListen.get(router);
  if (!listen) throw new InvalidStateError('router was not created by a WorkerPool');
  return listen;
}

/**
 * wisp patches mediasoup's JavaScript (infra/mediasoup/node.patch: header extensions at the
 * viewer's own ids); without it viewers silently lose transport-cc, abs-send-time and more.
 */
function assertPatched(): void {
  const require = createRequire(import.meta.url);
  const dir = path.dirname(require.resolve('mediasoup'));
  const ortc = readFileSync(path.join(dir, 'ortc.js'), 'utf8');
  if (!ortc.includes('wispConsumableKind')) {
    throw new Error('mediasoup is not patched for wisp: run "npm run setup"');
  }
}

type SignalListener = (...args: unknown[]) => void;

function signalListeners(): Map<NodeJS.Signals, SignalListener[]> {
  return new Map(
    (['SIGINT', 'SIGTERM'] as const).map((signal) => [
      signal,
      process.listeners(signal) as SignalListener[],
    ]),
  );
}

function removeNewSignalListeners(before: Map<NodeJS.Signals, SignalListener[]>): void {
  for (const [signal, listeners] of before) {
    for (const listener of process.listeners(signal) as SignalListener[]) {
      if (!listeners.includes(listener)) process.removeListener(signal, listener);
    }
  }
}

/** Starts a worker and reads the library versions it logs at start (debug level, tag info). */
async function createWorkerReportingLibraries(
  settings: ms.WorkerSettings,
  logLevel: ms.WorkerLogLevel,
): Promise<{ worker: ms.Worker; libraries: WorkerLibraries }> {
  const libraries: WorkerLibraries = {};
  mediasoup.setLogEventListeners({
    ondebug: (_namespace, line) => {
      const match = /(openssl|libuv|libsrtp) version: "([^"]+)"/.exec(line);
      if (match) libraries[match[1] as keyof WorkerLibraries] = match[2];
    },
  });
  try {
    const worker = await mediasoup.createWorker({
      ...settings,
      logLevel: 'debug',
      logTags: ['info'],
    });
    await worker.updateSettings({ logLevel, logTags: [] });
    return { worker, libraries };
  } finally {
    mediasoup.setLogEventListeners(undefined);
  }
}

export interface WorkerPoolEvents extends Record<string, unknown> {
  workerDied: { pid: number; error: Error };
}

export class WorkerPool extends TypedEmitter<WorkerPoolEvents> {
  readonly #workers: PooledWorker[];
  /** Every open transport of every router, for the bitrate totals. */
  readonly #transports = new Set<ms.Transport>();
  #closed = false;

  readonly #config: MediaConfig;
  /** Range mode: what every WebRTC transport listens on (the same for all of them). */
  readonly #rangeListen: TransportListen;

  private constructor(workers: PooledWorker[], libraries: WorkerLibraries, config: MediaConfig) {
    super();
    this.#workers = workers;
    this.libraries = libraries;
    this.#config = config;
    this.#rangeListen = { kind: 'range', listenInfos: listenInfosOf(config, undefined) };
  }

  /** What the first worker reported of its libraries (OpenSSL above all: DTLS faces everyone). */
  readonly libraries: WorkerLibraries;

  static async create(config: MediaConfig): Promise<WorkerPool> {
    assertPatched();
    const workers: PooledWorker[] = [];
    let libraries: WorkerLibraries = {};
    try {
      for (let index = 0; index < config.numWorkers; index++) {
        const settings: ms.WorkerSettings = {
          logLevel: config.workerLogLevel,
          rtcMinPort: config.rtcMinPort,
          rtcMaxPort: config.rtcMaxPort,
        };
        let worker: ms.Worker;
        const before = signalListeners();
        if (index === 0) {
          ({ worker, libraries } = await createWorkerReportingLibraries(
            settings,
            config.workerLogLevel,
          ));
        } else {
          worker = await mediasoup.createWorker(settings);
        }
        // mediasoup 3.27 closes every worker on SIGINT/SIGTERM by itself. The process decides
        // what a signal means (a cluster node drains on SIGTERM and keeps serving meanwhile),
        // and closes the pool when it is done: take mediasoup's listeners off again.
        removeNewSignalListeners(before);
        const entry: PooledWorker = { worker, index, load: 0, routers: 0, webRtcServer: undefined };
        workers.push(entry);
        if (config.portMode === 'server') {
          entry.webRtcServer = await createWebRtcServer(worker, config, index);
        }
      }
    } catch (error) {
      for (const w of workers) w.worker.close();
      if (error instanceof PortInUseError) throw error;
      const message = (error as Error).message;
      throw new Error(
        `could not start the mediasoup worker (${message}); build it with "npm run setup" ` +
          `or point MEDIASOUP_WORKER_BIN at a worker binary`,
        { cause: error },
      );
    }
    const pool = new WorkerPool(workers, libraries, config);
    for (const w of workers) {
      w.worker.on('died', (error: Error) => {
        log.fatal({ pid: w.worker.pid, err: error }, 'mediasoup worker died');
        pool.emit('workerDied', { pid: w.worker.pid, error });
      });
    }
    log.info(
      {
        workers: workers.map((w) => w.worker.pid),
        mediasoup: mediasoup.version,
        ...libraries,
        ports: pool.ports(),
      },
      'workers ready',
    );
    return pool;
  }

  /** The media ports each worker listens on (server mode), for logs and /healthz. */
  ports(): { pid: number; udp?: number; tcp?: number }[] {
    const config = this.#config;
    return this.#workers.map((w) => {
      const port = w.webRtcServer ? serverPortOf(config, w.index) : undefined;
      if (port === undefined) return { pid: w.worker.pid };
      return {
        pid: w.worker.pid,
        ...(config.enableUdp ? { udp: port } : {}),
        ...(config.enableTcp ? { tcp: port } : {}),
      };
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Creates a router on the least-loaded worker (or the given one). The router's load weight
   * is released when it closes.
   */
  async createRouter(
    mediaCodecs: ms.RouterRtpCodecCapability[],
    appData: Record<string, unknown> = {},
  ): Promise<ms.Router> {
    if (this.#closed) throw new InvalidStateError('worker pool closed');
    const entry = this.#leastLoaded();
    const router = await entry.worker.createRouter({
      mediaCodecs,
      appData: { ...appData, workerIndex: entry.index },
    });
    routerListen.set(
      router,
      entry.webRtcServer ? { kind: 'server', webRtcServer: entry.webRtcServer } : this.#rangeListen,
    );
    entry.routers++;
    router.observer.on('close', () => {
      entry.routers--;
    });
    router.observer.on('newtransport', (transport: ms.Transport) => {
      entry.load++;
      this.#transports.add(transport);
      transport.observer.on('close', () => {
        entry.load--;
        this.#transports.delete(transport);
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

  /** Workers still running (neither died nor closed): all of them on a healthy node. */
  get workersUp(): number {
    return this.#workers.filter((w) => !w.worker.died && !w.worker.closed).length;
  }

  get workerCount(): number {
    return this.#workers.length;
  }

  /**
   * What the transports send and receive right now (mediasoup's per-transport bitrates, one
   * stats request per transport): WebRTC transports (publishers, viewers) and network pipes
   * (`NETWORK_PIPE`). In-process pipes and the recorder's plain transports are left out.
   */
  async transportBitrates(): Promise<TransportBitrates> {
    const totals: TransportBitrates = {
      webrtc: { sendBps: 0, recvBps: 0 },
      pipe: { sendBps: 0, recvBps: 0 },
    };
    await Promise.all(
      [...this.#transports].map(async (transport) => {
        const kind =
          transport.type === 'webrtc'
            ? 'webrtc'
            : transport.type === 'pipe' && transport.appData.networkPipe === true
              ? 'pipe'
              : undefined;
        if (!kind) return;
        const stats = (await transport.getStats().catch(() => [])) as {
          sendBitrate?: number;
          recvBitrate?: number;
        }[];
        for (const stat of stats) {
          totals[kind].sendBps += stat.sendBitrate ?? 0;
          totals[kind].recvBps += stat.recvBitrate ?? 0;
        }
      }),
    );
    return totals;
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

  /**
   * The workers' CPU use since the last call, as a share of one core per worker (0..1), from
   * their rusage: what a node reports as its `cpu` load.
   */
  async cpuRatio(): Promise<number> {
    const now = performance.now();
    const usage = await this.resourceUsage();
    const cpuMs = usage.reduce((sum, u) => sum + u.usage.ru_utime + u.usage.ru_stime, 0);
    const last = this.#lastCpu;
    this.#lastCpu = { at: now, cpuMs };
    if (!last || now <= last.at) return 0;
    const ratio = (cpuMs - last.cpuMs) / ((now - last.at) * this.#workers.length);
    return Math.min(1, Math.max(0, Math.round(ratio * 1000) / 1000));
  }

  #lastCpu: { at: number; cpuMs: number } | undefined;

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#workers) w.worker.close();
    this.removeAllListeners();
  }
}
