/**
 * A real redis-server that a test can restart: 127.0.0.1 on a port picked once and kept
 * across restarts, with an append-only file fsynced on every write in its own temporary data
 * directory, so whatever was written before `restart()` is there after it. For tests of
 * reconnects; use startRedisServer (redisServer.ts) when a throwaway server is enough.
 *
 *   const redis = await startRestartableRedis();
 *   await redis.restart({ downMs: 500 });
 *   await redis.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface RestartableRedis {
  /** `redis://127.0.0.1:<port>`, the same after every restart. */
  url: string;
  port: number;
  /** Stops the server (SIGTERM: it flushes the AOF) and resolves once it has exited. */
  down(): Promise<void>;
  /** Starts the server again on the same port and data; resolves once it answers PING. */
  up(): Promise<void>;
  /** down(), waits `downMs` (default 0), then up(). */
  restart(options?: { downMs?: number }): Promise<void>;
  /** Stops the server for good and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

/** Servers still running, killed if the test process exits without stopping them. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function startRestartableRedis(): Promise<RestartableRedis> {
  const port = await freePort();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wisp-redis-restart-'));
  let child: ChildProcess | undefined;
  let stopped = false;

  const up = async (): Promise<void> => {
    if (child) return;
    const started = spawn(
      'redis-server',
      [
        ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir],
        ...['--save', '', '--appendonly', 'yes', '--appendfsync', 'always'],
        ...['--daemonize', 'no', '--loglevel', 'warning'],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = started;
    running.add(started);
    let output = '';
    started.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    started.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const failed = new Promise<never>((_, reject) => {
      started.once('error', reject);
      started.once('exit', (code, signal) => {
        reject(new Error(`redis-server exited early (${code ?? signal}):\n${output}`));
      });
    });
    failed.catch(() => undefined);
    try {
      await Promise.race([failed, waitForPong(port, 10_000)]);
    } catch (error) {
      await down();
      throw error;
    }
  };

  const down = async (): Promise<void> => {
    const current = child;
    if (!current) return;
    child = undefined;
    if (current.exitCode === null && current.signalCode === null) {
      const exited = new Promise<void>((resolve) => current.once('exit', () => resolve()));
      current.kill('SIGTERM');
      const timer = setTimeout(() => current.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    running.delete(current);
  };

  const server: RestartableRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    down,
    up,
    async restart(options = {}) {
      await down();
      if (options.downMs) await new Promise((resolve) => setTimeout(resolve, options.downMs));
      await up();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await down();
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await up();
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
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
  while (!(await ping(port))) {
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
