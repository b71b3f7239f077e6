/**
 * Configuration: the only module that reads `process.env`. Every field documents its default
 * next to it; docs/configuration.md lists the same table for operators.
 */
import { randomBytes } from 'node:crypto';
import { cpus, networkInterfaces } from 'node:os';
import path from 'node:path';

export interface IceServerConfig {
  /** A `stun:`, `stuns:`, `turn:` or `turns:` URI (RFC 7064/7065). */
  url: string;
  /** `TURN_USERNAME` / `TURN_CREDENTIAL`: static credentials, the same for every client. */
  username?: string;
  credential?: string;
  /**
   * `TURN_SECRET`: TURN REST shared secret (coturn `static-auth-secret`); each grantee gets its
   * own credentials computed from it (core/src/turn.ts) instead of a static pair.
   */
  secret?: string;
  /** `TURN_TTL`: seconds those credentials stay valid. Default 14400 (4 hours). */
  ttlSeconds?: number;
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

export interface ListenAddress {
  /** Local address the sockets bind to. */
  ip: string;
  /** Address put in ICE candidates instead of `ip` (NAT). */
  announcedAddress?: string;
}

export interface MediaConfig {
  /** `MEDIASOUP_WORKERS`: mediasoup worker processes. Default: one per CPU core. */
  numWorkers: number;
  /**
   * `RTC_PORT_MODE`: `server` (default) puts every WebRTC transport of a worker on one UDP
   * and one TCP port through mediasoup's WebRtcServer: worker i listens on `RTC_PORT` + i,
   * so a firewall or a container needs only as many ports as there are workers. `range`
   * gives each transport its own port from `RTC_MIN_PORT`..`RTC_MAX_PORT` (the old model).
   */
  portMode: 'server' | 'range';
  /**
   * `RTC_PORT`: first WebRtcServer port (UDP and TCP); worker i uses `RTC_PORT` + i. Default
   * 40000. `0` lets each worker take any free port of `RTC_MIN_PORT`..`RTC_MAX_PORT` (tests).
   */
  rtcPort: number;
  /** `RTC_MIN_PORT` / `RTC_MAX_PORT`: port range of `range` mode. Default 40000-49999. */
  rtcMinPort: number;
  rtcMaxPort: number;
  /**
   * Where media sockets listen and which address each announces in ICE candidates, from
   * `RTC_LISTEN_IP` (comma-separated addresses) and `RTC_ANNOUNCED_IP`:
   * - neither set (default): every address of the machine's interfaces, loopback included,
   *   each announced as itself, so browsers on this machine (Firefox never pairs with a
   *   loopback-only candidate) and on its networks can connect without tuning;
   * - `RTC_ANNOUNCED_IP` only: listen on `0.0.0.0`, announce that address (cloud 1:1 NAT);
   * - `RTC_LISTEN_IP`: listen on those addresses, each announced as `RTC_ANNOUNCED_IP` if
   *   set, else as itself.
   */
  listen: ListenAddress[];
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
   * client is detected (mediasoup's ICE consent timeout is 30 s). Default 15000.
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
  /**
   * `SESSION_DELETE_GRACE_MS`: a DELETE of a WHIP/WHEP session that already ended (its
   * connection closed first, as some clients do before they send DELETE) answers 200 for
   * this long after the end, then 404. Default 60000; 0 turns it off.
   */
  deleteGraceMs: number;
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
  /**
   * `ICE_SERVERS` (comma-separated URIs) with `TURN_SECRET` and `TURN_TTL`, or the static
   * `TURN_USERNAME` / `TURN_CREDENTIAL`. TURN entries go only to callers who may publish or
   * watch (core/src/turn.ts).
   */
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
  const secret = env.TURN_SECRET || undefined;
  if (secret && (env.TURN_USERNAME || env.TURN_CREDENTIAL)) {
    throw new ConfigError('set TURN_SECRET or TURN_USERNAME/TURN_CREDENTIAL, not both');
  }
  if (!env.TURN_USERNAME !== !env.TURN_CREDENTIAL) {
    throw new ConfigError('TURN_USERNAME and TURN_CREDENTIAL go together');
  }
  const ttlSeconds = int(env, 'TURN_TTL', 4 * 3600, 1, 7 * 24 * 3600);
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
      if (isTurn && secret) Object.assign(server, { secret, ttlSeconds });
      if (isTurn && env.TURN_USERNAME) server.username = env.TURN_USERNAME;
      if (isTurn && env.TURN_CREDENTIAL) server.credential = env.TURN_CREDENTIAL;
      return server;
    });
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function isIpAddress(value: string): boolean {
  const v4 = IPV4.exec(value);
  if (v4) return v4.slice(1).every((part) => Number(part) <= 255);
  return value.includes(':') && /^[0-9a-fA-F:.]+$/.test(value);
}

/** The machine's interface addresses: IPv4 and non-link-local IPv6, loopback included. */
export function interfaceAddresses(
  interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces(),
): string[] {
  const addresses: string[] = [];
  for (const entries of Object.values(interfaces)) {
    for (const entry of entries ?? []) {
      if (entry.family === 'IPv6' && (entry.scopeid ?? 0) !== 0) continue; // link-local
      if (!addresses.includes(entry.address)) addresses.push(entry.address);
    }
  }
  // Non-loopback first: candidates are announced in this order, with falling priority.
  const loopback = (ip: string) => ip.startsWith('127.') || ip === '::1';
  return [...addresses.filter((ip) => !loopback(ip)), ...addresses.filter(loopback)];
}

function listenAddresses(env: Env): ListenAddress[] {
  const announced = env.RTC_ANNOUNCED_IP?.trim() || undefined;
  if (announced && /[\s,"]/.test(announced)) {
    throw new ConfigError(`RTC_ANNOUNCED_IP must be one address or host name, got "${announced}"`);
  }
  const listed = (env.RTC_LISTEN_IP ?? '')
    .split(',')
    .map((ip) => ip.trim())
    .filter(Boolean);
  for (const ip of listed) {
    if (!isIpAddress(ip)) throw new ConfigError(`RTC_LISTEN_IP entry "${ip}" is not an IP address`);
  }
  if (listed.length > 0) {
    if (announced) return listed.map((ip) => ({ ip, announcedAddress: announced }));
    // A wildcard announced as itself would be a useless candidate: it means every interface.
    const expanded = listed.flatMap((ip) =>
      ip === '0.0.0.0' || ip === '::' ? interfaceAddresses() : [ip],
    );
    return [...new Set(expanded)].map((ip) => ({ ip }));
  }
  if (announced) return [{ ip: '0.0.0.0', announcedAddress: announced }];
  const addresses = interfaceAddresses();
  return addresses.length > 0 ? addresses.map((ip) => ({ ip })) : [{ ip: '127.0.0.1' }];
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
  const portMode = (env.RTC_PORT_MODE || 'server') as MediaConfig['portMode'];
  if (portMode !== 'server' && portMode !== 'range') {
    throw new ConfigError(`RTC_PORT_MODE must be server or range, got "${env.RTC_PORT_MODE}"`);
  }
  const numWorkers = int(env, 'MEDIASOUP_WORKERS', Math.max(1, cpus().length), 1, 256);
  const rtcPort = int(env, 'RTC_PORT', 40000, 0, 65535);
  if (rtcPort !== 0 && (rtcPort < 1024 || rtcPort + numWorkers - 1 > 65535)) {
    throw new ConfigError(
      `RTC_PORT must be 0 or between 1024 and ${65536 - numWorkers} (one port per worker), got "${rtcPort}"`,
    );
  }
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
      numWorkers,
      portMode,
      rtcPort,
      rtcMinPort,
      rtcMaxPort,
      listen: listenAddresses(env),
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
      deleteGraceMs: int(env, 'SESSION_DELETE_GRACE_MS', 60_000, 0, 3_600_000),
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
      ...(s.secret ? { secret: '***', ttlSeconds: s.ttlSeconds } : {}),
    })),
  };
}
