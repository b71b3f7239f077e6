/**
 * A whole platform in this process on a free loopback port, with its state in a temporary
 * directory: what tests and benchmarks run against (real mediasoup workers, real HTTP).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, type StreamView } from '@wisp/core';
import { Platform } from './Platform.ts';

export interface LocalPlatform {
  baseUrl: string;
  adminToken: string;
  platform: Platform;
  dataDir: string;
  /** Creates a stream through the public API; the result includes its streamKey. */
  createStream(name?: string): Promise<Required<Pick<StreamView, 'streamKey'>> & StreamView>;
  /** fetch() against the platform with the admin token. */
  api(pathname: string, init?: RequestInit): Promise<Response>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export async function startLocalPlatform(env: Record<string, string> = {}): Promise<LocalPlatform> {
  const dataDir = env.DATA_DIR ?? (await mkdtemp(path.join(tmpdir(), 'wisp-test-')));
  const port = await freePort();
  const adminToken = 'test-admin-token';
  const config = loadConfig({
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    ADMIN_TOKEN: adminToken,
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    // Any free media port per worker: tests and benchmarks run platforms side by side.
    RTC_PORT: '0',
    // Tests and benchmarks that are not about recording don't pay for ffmpeg: they opt in.
    RECORDINGS: 'off',
    // Tests and benchmarks open hundreds of sessions a second from loopback: not limited
    // (the rate-limit tests and the integrations bench set RATE_LIMIT_EXEMPT themselves).
    RATE_LIMIT_EXEMPT: 'loopback',
    ...env,
  });
  const platform = await Platform.create(config);
  await platform.listen();
  const baseUrl = config.http.publicUrl;
  const api = (pathname: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${baseUrl}${pathname}`, {
      ...init,
      headers: { Authorization: `Bearer ${adminToken}`, ...(init.headers ?? {}) },
    });
  return {
    baseUrl,
    adminToken,
    platform,
    dataDir,
    api,
    async createStream(name = 'test stream') {
      const response = await api('/api/streams', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ name }),
      });
      if (response.status !== 201) {
        throw new Error(`createStream failed: ${response.status} ${await response.text()}`);
      }
      return (await response.json()) as Required<Pick<StreamView, 'streamKey'>> & StreamView;
    },
    async stop() {
      await platform.close();
      if (!env.DATA_DIR) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
