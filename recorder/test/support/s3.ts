/**
 * A real S3-protocol server for tests: s3rver (npm) in a child process on 127.0.0.1, a free
 * port picked once, its objects in a temporary directory, one bucket created at start. It can
 * be taken down and brought back on the same port with the same data, for tests of a store
 * that is briefly unreachable:
 *
 *   const s3 = await startS3Server();
 *   const storage = new S3Storage({ ...s3.storageOptions, prefix: 'test/' });
 *   await s3.down(); ...; await s3.up();   // or s3.restart({ downMs: 3000 })
 *   await s3.stop();
 *
 * What s3rver 3.7.1 does with @aws-sdk/client-s3 3.11xx (path-style addressing, signature V4
 * with its fixed S3RVER/S3RVER key), as S3Storage's own tests check:
 * - default checksums (`WHEN_SUPPORTED`) on a streamed PutObject send the body aws-chunked
 *   with a CRC32 trailer, which s3rver stores verbatim: the object is silently corrupt. With
 *   `WHEN_REQUIRED` the bytes round-trip.
 * - ListObjectsV2 answers 500 InternalError whenever a page is truncated (even when paging by
 *   StartAfter): it encrypts its continuation tokens with DES, which OpenSSL 3 offers only in
 *   its legacy provider. The server runs with `--openssl-legacy-provider` for that.
 * - `Range: bytes=-n` is read as `bytes=0-n`, and `bytes=0-0` answers the whole object
 *   (S3Storage checks every Content-Range and copes).
 * - DeleteObjects is implemented (and checks no Content-MD5 or checksum).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { connect, createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { S3StorageOptions } from '../../src/storage/S3Storage.ts';

export interface RunningS3Server {
  /** `http://127.0.0.1:<port>`, the same after every restart. */
  endpoint: string;
  port: number;
  bucket: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** The options of an S3Storage on this server and bucket (add a `prefix`). */
  storageOptions: S3StorageOptions;
  /** Folder holding the server's buckets and objects. */
  dir: string;
  /** Kills the server (in-flight requests fail) and resolves once it has exited. */
  down(): Promise<void>;
  /** Starts it again on the same port and data; resolves once it accepts connections. */
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

const BIN = createRequire(import.meta.url).resolve('s3rver/bin/s3rver.js');

export async function startS3Server(options: { bucket?: string } = {}): Promise<RunningS3Server> {
  const bucket = options.bucket ?? 'wisp-test';
  const port = await freePort();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wisp-s3rver-'));
  const endpoint = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let stopped = false;

  const up = async (): Promise<void> => {
    if (child) return;
    const started = spawn(
      process.execPath,
      [
        // s3rver's ListObjectsV2 continuation tokens are DES-encrypted; OpenSSL 3 keeps DES in
        // its legacy provider only.
        '--openssl-legacy-provider',
        ...[BIN, '--directory', dir, '--address', '127.0.0.1', '--port', String(port)],
        ...['--silent', '--no-vhost-buckets', '--configure-bucket', bucket],
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
        reject(new Error(`s3rver exited early (${code ?? signal}):\n${output}`));
      });
    });
    failed.catch(() => undefined);
    try {
      await Promise.race([failed, waitForListen(port, 15_000)]);
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
      current.kill('SIGKILL');
      await exited;
    }
    running.delete(current);
  };

  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  const region = 'us-east-1';
  const server: RunningS3Server = {
    endpoint,
    port,
    bucket,
    region,
    credentials,
    storageOptions: { bucket, region, endpoint, forcePathStyle: true, credentials },
    dir,
    up,
    down,
    async restart(restartOptions = {}) {
      await down();
      if (restartOptions.downMs) {
        await new Promise((resolve) => setTimeout(resolve, restartOptions.downMs));
      }
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

/** Polls until something accepts TCP connections on `port`. */
async function waitForListen(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await accepts(port))) {
    if (Date.now() > deadline) {
      throw new Error(`s3rver on port ${port} did not listen within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => done(true));
  });
}
