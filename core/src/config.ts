/**
 * Configuration: the only module that reads `process.env`. Every field documents its default
 * next to it; docs/configuration.md lists the same table for operators.
 */
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import path from 'node:path';

export interface IceServerConfig {
  /** A `stun:`, `stuns:`, `turn:` or `turns:` URI (RFC 7064/7065). */
  url: string;
  username?: string;
  credential?: string;
}

export interface HttpConfig {
  /** `HOST`: address the HTTP server binds to. Default `0.0.0.0`. */
  host: string;
  /** `PORT`: HTTP port. Default 8080. */
  port: number;
  /** `PUBLIC_URL`: base URL clients use (no trailing slash). Default `http://localhost:$PORT`. */
  publicUrl: string;
  /** `MAX_SDP_BYTES`: largest accepted SDP or sdpfrag body. Default 64 KiB. */
  maxSdpBytes: number;
  /** `MAX_JSON_BYTES`: largest accepted JSON API body. Default 16 KiB. */
  maxJsonBytes: number;
  /** `CORS_ORIGIN`: value of Access-Control-Allow-Origin. Default `*`. */
  corsOrigin: string;
}

export interface MediaConfig {
  /** `MEDIASOUP_WORKERS`: mediasoup worker processes. Default: one per CPU core. */
  numWorkers: number;
  /** `RTC_MIN_PORT` / `RTC_MAX_PORT`: UDP/TCP port range for WebRTC. Default 40000-49999. */
  rtcMinPort: number;
  rtcMaxPort: number;
  /**
   * `RTC_LISTEN_IP`: local address media sockets bind to. Default `127.0.0.1`, which serves
   * clients on the same machine; use `0.0.0.0` (with `RTC_ANNOUNCED_IP`) or a LAN address
   * for other machines.
   */
  listenIp: string;
  /**
   * `RTC_ANNOUNCED_IP`: address put in ICE candidates instead of `listenIp`, e.g. the public
   * IP of a cloud host behind 1:1 NAT. Default: none (candidates carry `listenIp`).
   */
  announcedIp: string | undefined;
  /** `RTC_ENABLE_UDP` (default true) / `RTC_ENABLE_TCP` (default true): ICE transports offered. */
  enableUdp: boolean;
  enableTcp: boolean;
  /**
   * `VIEWERS_PER_ROUTER`: viewers of one stream served by one fan-out router before the edge
   * opens another (on the least-loaded worker), spreading a large audience over all cores.
   * Default 250.
   */
  viewersPerRouter: number;
  /**
   * `EDGE_SERVE_FROM_SOURCE`: serve viewers whose payload types match the publisher's straight
   * from the ingest router, without the pipe hop to a fan-out router. Saves a hop and its CPU;
   * puts those viewers on the ingest's worker. Default false (spread viewers over workers).
   */
  serveFromSource: boolean;
  /** `MEDIASOUP_LOG_LEVEL`: worker log level. Default `warn`. */
  workerLogLevel: 'debug' | 'warn' | 'error' | 'none';
  /** `MEDIASOUP_WORKER_BIN`: path to a worker binary built elsewhere (read by mediasoup). */
  workerBin: string | undefined;
}

export interface SessionConfig {
  /**
   * `SESSION_CONNECT_TIMEOUT_MS`: a WHIP/WHEP session whose ICE+DTLS has not connected by then
   * is closed. Default 30000.
   */
  connectTimeoutMs: number;
  /**
   * `SESSION_DISCONNECT_TIMEOUT_MS`: after ICE consent is lost (mediasoup reports
   * `disconnected`), how long to wait for it to come back before closing. Default 5000.
   */
  disconnectTimeoutMs: number;
  /**
   * `SESSION_INACTIVITY_TIMEOUT_MS`: a connected session from which nothing (media, RTCP,
   * STUN consent checks) has arrived for this long is closed: how a crashed or unplugged
   * client is detected (mediasoup 3.8 has no ICE consent timeout of its own). Default 15000.
   */
  inactivityTimeoutMs: number;
  /**
   * `KEYFRAME_REQUEST_DELAY_MS`: the SFU asks a publisher for at most one keyframe per this
   * many ms and defers (never drops) the requests in between. libwebrtc encoders ignore a
   * request that comes within 300 ms of their last keyframe, and mediasoup re-asks only after
   * 1 s, so without a delay above 300 ms a viewer joining right after another (or right
   * after the edge opened its pipe) could wait a second for its first frame. Default 350.
   */
  keyframeRequestDelayMs: number;
  /** `WHEP_NOT_LIVE_RETRY_AFTER`: Retry-After seconds on WHEP 409 (stream not live). Default 5. */
  notLiveRetryAfterSeconds: number;
}

export interface StoreConfig {
  /** `REDIS_URL` set selects Redis; otherwise the embedded file store under `DATA_DIR`. */
  kind: 'embedded' | 'redis';
  redisUrl: string | undefined;
  /** `REDIS_PREFIX`: key prefix in Redis. Default `wisp:`. */
  redisPrefix: string;
}

export interface Config {
  http: HttpConfig;
  media: MediaConfig;
  session: SessionConfig;
  store: StoreConfig;
  /** `DATA_DIR`: where the embedded store (and later, recordings) live. Default `./data`. */
  dataDir: string;
  /** `ADMIN_TOKEN`: bearer for the admin API. Generated (and printed) when unset. */
  adminToken: string;
  adminTokenGenerated: boolean;
  /** `ICE_SERVERS` (comma-separated URIs) with `TURN_USERNAME` / `TURN_CREDENTIAL`. */
  iceServers: IceServerConfig[];
  /** `LOG_LEVEL`: trace, debug, info (default), warn, error. */
  logLevel: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${env[name]}"`);
}

function parseIceServers(env: Env): IceServerConfig[] {
  // OBS splits Link headers on "," and takes values between quotes: keep credentials free
  // of both (conformance D3).
  for (const name of ['TURN_USERNAME', 'TURN_CREDENTIAL']) {
    if (env[name] && /[,"\\]/.test(env[name])) {
      throw new ConfigError(`${name} must not contain commas, quotes or backslashes`);
    }
  }
  const raw = env.ICE_SERVERS?.trim();
  if (!raw) return [];
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((url) => {
      if (!/^(stun|stuns|turn|turns):/.test(url)) {
        throw new ConfigError(
          `ICE_SERVERS entry "${url}" must start with stun:, stuns:, turn: or turns:`,
        );
      }
      if (/[\s,"]/.test(url)) {
        throw new ConfigError(
          `ICE_SERVERS entry "${url}" must not contain spaces, commas or quotes`,
        );
      }
      const isTurn = url.startsWith('turn');
      const server: IceServerConfig = { url };
      if (isTurn && env.TURN_USERNAME) server.username = env.TURN_USERNAME;
      if (isTurn && env.TURN_CREDENTIAL) server.credential = env.TURN_CREDENTIAL;
      return server;
    });
}

export function loadConfig(env: Env = process.env): Config {
  const port = int(env, 'PORT', 8080, 0, 65535);
  const publicUrl = (env.PUBLIC_URL || `http://localhost:${port}`).replace(/\/+$/, '');
  try {
    new URL(publicUrl);
  } catch {
    throw new ConfigError(`PUBLIC_URL must be an absolute URL, got "${publicUrl}"`);
  }
  const rtcMinPort = int(env, 'RTC_MIN_PORT', 40000, 1024, 65535);
  const rtcMaxPort = int(env, 'RTC_MAX_PORT', 49999, 1024, 65535);
  if (rtcMaxPort < rtcMinPort) throw new ConfigError('RTC_MAX_PORT must be >= RTC_MIN_PORT');
  const workerLogLevel = (env.MEDIASOUP_LOG_LEVEL || 'warn') as MediaConfig['workerLogLevel'];
  if (!['debug', 'warn', 'error', 'none'].includes(workerLogLevel)) {
    throw new ConfigError('MEDIASOUP_LOG_LEVEL must be debug, warn, error or none');
  }
  const adminTokenGenerated = !env.ADMIN_TOKEN;
  const redisUrl = env.REDIS_URL || undefined;
  const config: Config = {
    http: {
      host: env.HOST || '0.0.0.0',
      port,
      publicUrl,
      maxSdpBytes: int(env, 'MAX_SDP_BYTES', 64 * 1024, 1024),
      maxJsonBytes: int(env, 'MAX_JSON_BYTES', 16 * 1024, 256),
      corsOrigin: env.CORS_ORIGIN || '*',
    },
    media: {
      numWorkers: int(env, 'MEDIASOUP_WORKERS', Math.max(1, cpus().length), 1, 256),
      rtcMinPort,
      rtcMaxPort,
      listenIp: env.RTC_LISTEN_IP || '127.0.0.1',
      announcedIp: env.RTC_ANNOUNCED_IP || undefined,
      enableUdp: bool(env, 'RTC_ENABLE_UDP', true),
      enableTcp: bool(env, 'RTC_ENABLE_TCP', true),
      viewersPerRouter: int(env, 'VIEWERS_PER_ROUTER', 250, 1),
      serveFromSource: bool(env, 'EDGE_SERVE_FROM_SOURCE', false),
      workerLogLevel,
      workerBin: env.MEDIASOUP_WORKER_BIN || undefined,
    },
    session: {
      connectTimeoutMs: int(env, 'SESSION_CONNECT_TIMEOUT_MS', 30_000, 100),
      disconnectTimeoutMs: int(env, 'SESSION_DISCONNECT_TIMEOUT_MS', 5_000, 0),
      inactivityTimeoutMs: int(env, 'SESSION_INACTIVITY_TIMEOUT_MS', 15_000, 500),
      keyframeRequestDelayMs: int(env, 'KEYFRAME_REQUEST_DELAY_MS', 350, 0, 10_000),
      notLiveRetryAfterSeconds: int(env, 'WHEP_NOT_LIVE_RETRY_AFTER', 5, 1),
    },
    store: {
      kind: redisUrl ? 'redis' : 'embedded',
      redisUrl,
      redisPrefix: env.REDIS_PREFIX || 'wisp:',
    },
    dataDir: path.resolve(env.DATA_DIR || './data'),
    adminToken: env.ADMIN_TOKEN || randomBytes(24).toString('base64url'),
    adminTokenGenerated,
    iceServers: parseIceServers(env),
    logLevel: env.LOG_LEVEL || 'info',
  };
  if (!config.media.enableUdp && !config.media.enableTcp) {
    throw new ConfigError('at least one of RTC_ENABLE_UDP and RTC_ENABLE_TCP must be true');
  }
  return config;
}

/** The effective config with secrets masked, for the start-up log line. */
export function describeConfig(config: Config): Record<string, unknown> {
  return {
    ...config,
    adminToken: '***',
    store: { ...config.store, redisUrl: config.store.redisUrl?.replace(/\/\/[^@]*@/, '//***@') },
    iceServers: config.iceServers.map((s) => ({
      url: s.url,
      ...(s.username ? { username: s.username, credential: '***' } : {}),
    })),
  };
}
