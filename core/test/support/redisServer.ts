/**
 * A real, throwaway redis-server for integration tests: 127.0.0.1 on a free port, no
 * persistence, no config file, its own temporary working directory. Any test in the repo can
 * use it:
 *
 *   let redis: RunningRedisServer;
 *   beforeAll(async () => { redis = await startRedisServer(); });
 *   afterAll(() => redis.stop());
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface RunningRedisServer {
  /** `redis://127.0.0.1:<port>`, ready to hand to ioredis. */
  url: string;
  port: number;
  /** Stops the server and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

export interface StartRedisServerOptions {
  /** Binary to run. Default `redis-server` from PATH. */
  binary?: string;
  /** How long to wait for the first PONG. Default 10000 ms. */
  readyTimeoutMs?: number;
}

const NOT_INSTALLED =
  'redis-server is not installed (or not on PATH); run `npm run setup` to install it';

/** Spawned servers still running, killed if the test process exits without stopping them. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function startRedisServer(
  options: StartRedisServerOptions = {},
): Promise<RunningRedisServer> {
  // The free port can be taken by someone else between probing and binding; try again then.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      if ((error as Error).message === NOT_INSTALLED) throw error;
      lastError = error;
    }
  }
  throw lastError;
}

async function startOnce(options: StartRedisServerOptions): Promise<RunningRedisServer> {
  const port = await freePort();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wisp-redis-'));
  const child = spawn(
    options.binary ?? 'redis-server',
    [
      ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      ...['--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'ENOENT' ? new Error(NOT_INSTALLED) : error);
    });
    child.once('exit', (code, signal) => {
      reject(new Error(`redis-server exited early (${code ?? signal}):\n${output}`));
    });
  });
  // Both promises may settle after the race is decided; that must not be an unhandled rejection.
  failed.catch(() => undefined);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      running.delete(child);
      await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };

  try {
    await Promise.race([failed, waitForPong(port, options.readyTimeoutMs ?? 10_000)]);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `redis://127.0.0.1:${port}`, port, stop };
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls with a raw PING until the server answers +PONG or the deadline passes. */
async function waitForPong(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await ping(port)) return;
    if (Date.now() > deadline) {
      throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}
