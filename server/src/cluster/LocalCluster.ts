/**
 * A real cluster on this machine, every role in its own process: a `redis-server` (its own
 * data directory, append-only file, so a restart keeps the stream keys), a front door
 * (control + egress), ingests, edges and relays, each a `server/src/main.ts` process with
 * its `ROLES` and addresses in the environment. `npm run cluster` runs one; the cluster
 * tests drive the same class (kill a node, restart Redis).
 *
 * Nodes listen on `host` (default 127.0.0.1). For nodes on separate network interfaces
 * (network namespaces), `wrap` prefixes each node's command (e.g. `ip netns exec <ns>`)
 * and `hostOf` gives each node its address.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type LocalNodeKind = 'front' | 'ingest' | 'edge' | 'relay' | 'recorder';

export interface LocalNodeSpec {
  kind: LocalNodeKind;
  id: string;
  /** Extra environment for this node. */
  env?: Record<string, string>;
  /** Address the node listens on and announces (default the cluster's host). */
  host?: string;
  /** Command prefix, e.g. `['ip', 'netns', 'exec', 'ns1']`. */
  wrap?: string[];
  /** HTTP port (default any free one). */
  port?: number;
}

export interface LocalClusterOptions {
  edges?: number;
  relays?: number;
  ingests?: number;
  /** Recorder nodes. Default 0. */
  recorders?: number;
  /** Front door HTTP port; default any free port. Nodes take free ports. */
  port?: number;
  host?: string;
  /** Environment for every node (e.g. `LOG_LEVEL`). */
  env?: Record<string, string>;
  /** Overrides per node id. */
  nodes?: Record<string, Partial<Omit<LocalNodeSpec, 'kind' | 'id'>>>;
  /** Where Redis listens (default the cluster's host). */
  redisHost?: string;
  /** Where node output goes: default inherited (a user's terminal); tests collect it. */
  output?: 'inherit' | 'collect';
}

export interface LocalNode {
  spec: LocalNodeSpec;
  url: string;
  port: number;
  process: ChildProcess;
  /** Everything the node wrote (with `output: 'collect'`). */
  output(): string;
  /** SIGKILL, resolves once it exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  readonly exited: Promise<number | null>;
}

const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

const ROLES_OF: Record<LocalNodeKind, string> = {
  front: 'control,egress',
  ingest: 'ingest',
  edge: 'edge',
  relay: 'edge',
  recorder: 'recorder',
};

export class LocalCluster {
  readonly adminToken = randomBytes(18).toString('base64url');
  readonly secret = randomBytes(24).toString('base64url');
  /** Every node's WEBHOOK_SECRET (the caller's, else generated: split nodes need one). */
  readonly webhookSecret =
    process.env.WEBHOOK_SECRET || `whsec_${randomBytes(32).toString('base64')}`;
  readonly nodes = new Map<string, LocalNode>();
  readonly redis: LocalRedis;
  readonly frontDoor: string;
  readonly #options: LocalClusterOptions;
  readonly #dataDir: string;
  #stopped = false;

  private constructor(
    options: LocalClusterOptions,
    redis: LocalRedis,
    frontDoor: string,
    dataDir: string,
  ) {
    this.#options = options;
    this.redis = redis;
    this.frontDoor = frontDoor;
    this.#dataDir = dataDir;
  }

  static async start(options: LocalClusterOptions = {}): Promise<LocalCluster> {
    const host = options.host ?? '127.0.0.1';
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'wisp-cluster-'));
    const redis = await LocalRedis.start(options.redisHost ?? host, path.join(dataDir, 'redis'));
    const frontHost = options.nodes?.front?.host ?? host;
    const frontPort =
      options.port ?? (await freePort(options.nodes?.front?.wrap ? '127.0.0.1' : frontHost));
    const cluster = new LocalCluster(options, redis, `http://${frontHost}:${frontPort}`, dataDir);
    try {
      const specs: LocalNodeSpec[] = [{ kind: 'front', id: 'front' }];
      for (let i = 1; i <= (options.ingests ?? 1); i++) {
        specs.push({ kind: 'ingest', id: `ingest-${i}` });
      }
      for (let i = 1; i <= (options.relays ?? 0); i++) {
        specs.push({ kind: 'relay', id: `relay-${i}` });
      }
      for (let i = 1; i <= (options.edges ?? 2); i++) specs.push({ kind: 'edge', id: `edge-${i}` });
      for (let i = 1; i <= (options.recorders ?? 0); i++) {
        specs.push({ kind: 'recorder', id: `recorder-${i}` });
      }
      await Promise.all(
        specs.map((spec) =>
          cluster.startNode(
            { ...spec, ...options.nodes?.[spec.id] },
            spec.kind === 'front' ? frontPort : undefined,
          ),
        ),
      );
      await cluster.waitForNodes(specs.length);
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** Starts one node process and waits until its /healthz answers. */
  async startNode(spec: LocalNodeSpec, port?: number): Promise<LocalNode> {
    const host = spec.host ?? this.#options.host ?? '127.0.0.1';
    // A node in another network namespace can't be probed from here: any port is free there.
    const nodePort = port ?? spec.port ?? (await freePort(spec.wrap ? '127.0.0.1' : host));
    const url = `http://${host}:${nodePort}`;
    const env: Record<string, string> = {
      ...pickEnv(process.env),
      LOG_LEVEL: 'warn',
      WEBHOOK_SECRET: this.webhookSecret,
      // Test and bench clusters run their clients on this machine: not rate limited.
      RATE_LIMIT_EXEMPT: 'loopback',
      ...this.#options.env,
      ROLES: ROLES_OF[spec.kind],
      NODE_ID: spec.id,
      HOST: host,
      PORT: String(nodePort),
      PUBLIC_URL: this.frontDoor,
      NODE_URL: url,
      INTERNAL_URL: url,
      REDIS_URL: this.redis.url,
      CLUSTER_SECRET: this.secret,
      ADMIN_TOKEN: this.adminToken,
      DATA_DIR: path.join(this.#dataDir, spec.id),
      // Recordings on disk: one folder the recorders write and the front door serves.
      RECORDINGS_DIR: path.join(this.#dataDir, 'recordings'),
      MEDIASOUP_WORKERS: '1',
      RTC_PORT: '0',
      RTC_LISTEN_IP: host,
      ...(spec.kind === 'relay' ? { EDGE_RELAY: 'true' } : {}),
      ...spec.env,
    };
    const command = [...(spec.wrap ?? []), process.execPath, '--import', 'tsx', MAIN];
    const child = spawn(command[0], command.slice(1), {
      cwd: ROOT,
      env,
      stdio: this.#options.output === 'collect' ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    const node: LocalNode = {
      spec,
      url,
      port: nodePort,
      process: child,
      output: () => output,
      exited,
      kill: async (signal = 'SIGKILL') => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        await exited;
      },
    };
    this.nodes.set(spec.id, node);
    await waitUntil(
      async () => {
        if (child.exitCode !== null) {
          throw new Error(`node ${spec.id} exited (${child.exitCode}):\n${output.slice(-2000)}`);
        }
        const response = await fetch(`${url}/healthz`).catch(() => undefined);
        return response?.status === 200;
      },
      60_000,
      `node ${spec.id} on ${url}`,
    );
    return node;
  }

  /** Waits until the registry lists `count` nodes. */
  async waitForNodes(count: number, timeoutMs = 15_000): Promise<void> {
    await waitUntil(
      async () => (await this.listNodes()).length >= count,
      timeoutMs,
      `${count} nodes in the registry`,
    );
  }

  /** `GET /api/nodes` on the front door. */
  async listNodes(): Promise<{ id: string; url: string; pid: number; state: string }[]> {
    const response = await this.api('/api/nodes').catch(() => undefined);
    if (!response?.ok) return [];
    return (
      (await response.json()) as {
        nodes: { id: string; url: string; pid: number; state: string }[];
      }
    ).nodes;
  }

  api(pathname: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.frontDoor}${pathname}`, {
      ...init,
      headers: { Authorization: `Bearer ${this.adminToken}`, ...(init.headers ?? {}) },
    });
  }

  node(id: string): LocalNode {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  /** Stops every node (SIGINT, then SIGKILL after 5 s) and Redis; removes the data. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await Promise.all(
      [...this.nodes.values()].map(async (node) => {
        if (node.process.exitCode !== null || node.process.signalCode !== null) return;
        node.process.kill('SIGINT');
        const timer = setTimeout(() => node.process.kill('SIGKILL'), 5000);
        await node.exited;
        clearTimeout(timer);
      }),
    );
    await this.redis.stop();
    await rm(this.#dataDir, { recursive: true, force: true });
  }
}

/** redis-server on a port kept across restarts, with an fsynced append-only file. */
export class LocalRedis {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly #dir: string;
  #child: ChildProcess | undefined;

  private constructor(host: string, port: number, dir: string) {
    this.host = host;
    this.port = port;
    this.url = `redis://${host}:${port}`;
    this.#dir = dir;
  }

  static async start(host: string, dir: string): Promise<LocalRedis> {
    await mkdir(dir, { recursive: true });
    const redis = new LocalRedis(host, await freePort(host), dir);
    await redis.up();
    return redis;
  }

  async up(): Promise<void> {
    if (this.#child) return;
    const child = spawn(
      'redis-server',
      [
        ...['--port', String(this.port), '--bind', this.host, '--dir', this.#dir],
        ...['--save', '', '--appendonly', 'yes', '--appendfsync', 'always'],
        ...['--daemonize', 'no', '--loglevel', 'warning', '--protected-mode', 'no'],
      ],
      { stdio: 'ignore' },
    );
    this.#child = child;
    child.once('error', () => undefined);
    await waitUntil(() => ping(this.host, this.port), 10_000, `redis-server on ${this.url}`);
  }

  async down(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  }

  async restart(downMs = 0): Promise<void> {
    await this.down();
    if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
    await this.up();
  }

  async stop(): Promise<void> {
    await this.down();
  }
}

/** The parent's environment without wisp's own variables (each node gets its own). */
function pickEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined) picked[key] = value;
  }
  return picked;
}

async function waitUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function ping(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.once('connect', () => socket.write('PING\r\n'));
  });
}
