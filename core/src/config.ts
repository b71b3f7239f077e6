/**
 * Configuration: the only module that reads `process.env`. Every field documents its default
 * next to it; docs/configuration.md lists the same table for operators.
 */
import { randomBytes } from 'node:crypto';
import { cpus, hostname, networkInterfaces } from 'node:os';
import path from 'node:path';
import type { NodeLimits, Threshold } from './cluster/limits.ts';
import { addressMatcher } from './ratelimit/clientAddress.ts';

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
  /**
   * `SESSION_DELETE_GRACE_MS`: a DELETE of a WHIP/WHEP session that already ended (its
   * connection closed first, as some clients do before they send DELETE) answers 200 for
   * this long after the end, then 404. Default 60000; 0 turns it off.
   */
  deleteGraceMs: number;
}

/** The edge role: how viewers are spread and how streams are pulled. */
export interface EdgeConfig {
  /**
   * `VIEWERS_PER_ROUTER`: viewers of one stream served by one fan-out router before the edge
   * opens another (on the least-loaded worker), spreading a large audience over all cores.
   * Default 250.
   */
  viewersPerRouter: number;
  /**
   * `EDGE_SERVE_FROM_SOURCE`: serve viewers whose payload types match the stream's straight
   * from the router that holds the stream in this process (the ingest router in one process,
   * the network pipe's router on an edge), without the in-process hop to a fan-out router.
   * Saves a hop and its CPU; puts those viewers on that router's worker. Default false
   * (spread viewers over workers).
   */
  serveFromSource: boolean;
  /** `WHEP_NOT_LIVE_RETRY_AFTER`: Retry-After seconds on WHEP 409 (stream not live). Default 5. */
  notLiveRetryAfterSeconds: number;
  /**
   * `EDGE_LINGER_MS`: how long an edge keeps a stream it pulled from another node after its
   * last viewer left, so a viewer coming back (a reload, a reconnect) starts at once.
   * Default 30000.
   */
  lingerMs: number;
  /**
   * `EDGE_RELAY`: this edge feeds other edges and takes no viewers from the front door (the
   * relay tier: with relays in a cluster, edges pull streams through them). Default false.
   */
  relay: boolean;
}

/** Node roles: which parts of the platform this process runs (`ROLES`). */
export type Role = 'control' | 'ingest' | 'edge' | 'egress' | 'recorder';
export const ALL_ROLES: readonly Role[] = ['control', 'ingest', 'edge', 'egress', 'recorder'];

/** Where recordings are kept (docs/storage.md). */
export type StorageConfig =
  | {
      /**
       * `STORAGE=disk` (default): files under `RECORDINGS_DIR` (default `DATA_DIR/recordings`;
       * in a cluster, a folder every recorder and front door shares).
       */
      kind: 'disk';
      dir: string;
    }
  | {
      /**
       * `STORAGE=s3`: any S3-compatible object store. `S3_BUCKET` (required), `S3_PREFIX`
       * (default empty), `S3_REGION` (default `us-east-1`), `S3_ENDPOINT` (default: AWS),
       * `S3_FORCE_PATH_STYLE` (default true when `S3_ENDPOINT` is set); credentials from the
       * usual AWS variables and provider chain.
       */
      kind: 's3';
      bucket: string;
      prefix: string;
      region: string;
      endpoint: string | undefined;
      forcePathStyle: boolean;
    };

/** The recorder role (docs/recording.md). */
export interface RecordingConfig {
  /**
   * `RECORDINGS`: `on` (default) records every broadcast of a stream that does not say
   * otherwise (`record` on the stream); `off` records only streams that opt in.
   */
  defaultOn: boolean;
  /** `RECORDING_SEGMENT_SECONDS`: target HLS segment length. Default 4. */
  segmentSeconds: number;
  /**
   * `RECORDING_UPLOAD_TIMEOUT_MS`: at the end of a broadcast, how long the recording waits
   * for the storage to take its last files before it is `failed` (while live, uploads are
   * retried without limit; the files wait in the spool). Default 30000.
   */
  uploadTimeoutMs: number;
  /** `FFMPEG_PATH`: the ffmpeg binary; else `ffmpeg-static` when present, else `ffmpeg` on PATH. */
  ffmpegPath: string | undefined;
  /** Where ffmpeg writes a recording before it is stored: `DATA_DIR/spool`. */
  spoolDir: string;
  storage: StorageConfig;
}

/** How this node takes part in a cluster (a single process is a cluster of one). */
export interface ClusterConfig {
  /**
   * `ROLES`: comma-separated, any of `control` (stream-key API), `ingest` (WHIP publishers),
   * `edge` (WHEP viewers, pulls streams), `egress` (the front door: redirects WHIP to an
   * ingest and WHEP to an edge), `recorder` (HLS recordings with ffmpeg). Default: all of
   * them, one process (`npm start`).
   */
  roles: Role[];
  /** True unless this process runs every role: then Redis and a cluster secret are required. */
  split: boolean;
  /** `NODE_ID`: this node's id in the registry. Default `<hostname>-<port>`. */
  nodeId: string;
  /**
   * `NODE_URL`: this node's public base URL: the origin of the session `Location`s it hands
   * out and of redirects to it. Default `PUBLIC_URL`.
   */
  nodeUrl: string;
  /** `INTERNAL_URL`: where other nodes reach this node's internal API. Default `NODE_URL`. */
  internalUrl: string;
  /** `REGION`: this node's region, for region affinity in allocation. Default `default`. */
  region: string;
  /**
   * `CLUSTER_SECRET`: authenticates node-to-node calls and signs redirect tickets; the same
   * on every node, at least 16 characters. Required when roles are split; generated for a
   * single process.
   */
  secret: string;
  /**
   * `NODE_HEARTBEAT_MS`: how often the node refreshes its registry entry; entries expire
   * after three beats. Default 1500, so a dead node leaves the registry within 4.5 s.
   */
  heartbeatMs: number;
  /**
   * `PIPE_LISTEN_IP`: the address pipes to other nodes listen on (and announce, unless
   * `PIPE_ANNOUNCED_IP`). Default: the host of `INTERNAL_URL` when it is an IP address, else
   * the machine's first non-loopback interface address. Pipes need a flat network between
   * nodes: a pipe ignores RTP from any address but the one it connected to.
   */
  pipeListenIp: string;
  pipeAnnouncedIp: string | undefined;
  /**
   * `PIPE_SRTP`: encrypt RTP on pipes: `auto` (default: unless the pipe is on loopback),
   * `on`, `off`.
   */
  pipeSrtp: 'auto' | 'on' | 'off';
  /**
   * `PIPE_FANOUT`: how many downstream nodes one node feeds with a stream; further edges pull
   * from an edge that already carries it (the relay tier). Default 8.
   */
  pipeFanout: number;
  /** `CASCADE_MAX_DEPTH`: longest chain of pipes from the ingest to an edge. Default 3. */
  maxDepth: number;
  /** `TICKET_TTL_MS`: how long a redirect ticket is valid. Default 30000. */
  ticketTtlMs: number;
  /**
   * `DRAIN_TIMEOUT_MS`: on SIGTERM a cluster node drains (takes nothing new) and exits when
   * its sessions have ended or after this long. Default 60000.
   */
  drainTimeoutMs: number;
  /**
   * `DRAIN_SPREAD_MS`: a draining edge moves its viewers to other edges one by one over this
   * long, in a random order, so they do not all land on another node at once. Default 10000.
   */
  drainSpreadMs: number;
  /**
   * `DRAIN_GRACE_MS`: how long a draining edge keeps a viewer's session after sending it the
   * WHEP `reconnect` event, for its player to set up the new one first. Default 5000.
   */
  drainGraceMs: number;
}

/** How the front door chooses nodes (egress/src/allocation.ts). */
export type AllocationPolicy = 'least-used' | 'packing' | 'round-robin' | 'random';
export const ALLOCATION_POLICIES: readonly AllocationPolicy[] = [
  'least-used',
  'packing',
  'round-robin',
  'random',
];

export interface AllocationConfig {
  /**
   * `ALLOCATION_POLICY` (read by the front door): `least-used` (default: the node with the
   * lowest utilisation), `packing` (fill one node before the next), `round-robin`, `random`.
   * Region affinity and the preference for edges already carrying the stream apply on top of
   * any of them.
   */
  policy: AllocationPolicy;
  /**
   * `REGION_HEADER` (read by the front door): the request header carrying the client's
   * region, set by a CDN or load balancer (e.g. `x-region`). Else a `region` query parameter,
   * else the front door's own `REGION`. Unset by default.
   */
  regionHeader: string | undefined;
  /**
   * This node's soft and hard levels, reported with its heartbeat:
   * `NODE_SOFT_VIEWERS` / `NODE_HARD_VIEWERS` (default 280 / 360 per media worker: 70 % and
   * 90 % of 400), `NODE_SOFT_EGRESS_MBPS` / `NODE_HARD_EGRESS_MBPS` (default 700 / 900: of a
   * 1 Gbit/s NIC), `NODE_SOFT_CPU` / `NODE_HARD_CPU` (0..1, default 0.7 / 0.9).
   */
  limits: NodeLimits;
}

/** `GET /metrics` (Prometheus) on every node: docs/operations.md#metrics. */
export interface MetricsConfig {
  /**
   * `METRICS`: `on` (default) serves `GET /metrics` and counts HTTP requests and sessions;
   * `off` serves no `/metrics` route and collects nothing (what the overhead benchmark,
   * `npm run bench:metrics`, compares against).
   */
  enabled: boolean;
  /**
   * `METRICS_TOKEN`: when set, `GET /metrics` requires `Authorization: Bearer <token>` (401
   * otherwise). Unset (default): open, for a scraper on a private network.
   */
  token: string | undefined;
}

/** Webhooks and the publish admission hook (docs/api.md#webhooks, docs/operations.md#webhooks). */
export interface WebhooksConfig {
  /** `WEBHOOK_URLS`: comma-separated receiver URLs; every event goes to each. Default none. */
  urls: string[];
  /**
   * `WEBHOOK_SECRET`: the Standard Webhooks signing secret, `whsec_` + base64 of 24 to 64
   * bytes; signs the webhooks and the publish hook's requests. Generated (and printed) for a
   * single process that uses either; required when roles are split (every node signs).
   */
  secret: string;
  secretGenerated: boolean;
  /** `WEBHOOK_TIMEOUT_MS`: a delivery not answered within this is a failure. Default 5000. */
  timeoutMs: number;
  /**
   * `WEBHOOK_MAX_AGE_SECONDS`: an event is retried for this long after it happened, then
   * dead-lettered. Default 86400 (24 h).
   */
  maxAgeSeconds: number;
  /**
   * `WEBHOOK_RETRY_BASE_MS` / `WEBHOOK_RETRY_MAX_MS`: the first retry waits about the base,
   * each next one twice as long (with jitter: 50 to 100 % of that), never more than the max.
   * Defaults 1000 / 600000 (10 min).
   */
  retryBaseMs: number;
  retryMaxMs: number;
  /** The publish admission hook, when `PUBLISH_HOOK_URL` is set. */
  publishHook:
    | {
        /** `PUBLISH_HOOK_URL`: asked before every WHIP publish is accepted. */
        url: string;
        /** `PUBLISH_HOOK_TIMEOUT_MS`: how long to wait for its answer. Default 3000. */
        timeoutMs: number;
        /**
         * `PUBLISH_HOOK_ON_TIMEOUT`: what a timeout or an unreachable hook means: `deny`
         * (default: fail closed, 403) or `allow`.
         */
        onTimeout: 'deny' | 'allow';
      }
    | undefined;
}

/** A token bucket: `ratePerSecond` refill, `burst` size (core/src/ratelimit/TokenBuckets.ts). */
export interface RateLimitBucket {
  ratePerSecond: number;
  burst: number;
}

/**
 * Per-client rate limits (docs/operations.md#rate-limits). Each bucket is set by
 * `RATE_LIMIT_<CLASS>_RATE` (tokens per second, may be fractional) and
 * `RATE_LIMIT_<CLASS>_BURST` (bucket size), per client address (IPv6: per /64), per node.
 */
export interface RateLimitConfig {
  /** `RATE_LIMITS`: `on` (default) or `off` (nothing is limited or slowed down). */
  enabled: boolean;
  /**
   * `TRUST_PROXY`: the proxies whose `X-Forwarded-For` is believed: comma-separated
   * addresses, CIDR ranges, or `loopback`, `linklocal`, `uniquelocal`. Default none (`off`):
   * the header is ignored and the TCP peer is the client.
   */
  trustProxy: string[];
  /**
   * `RATE_LIMIT_EXEMPT`: client addresses never limited, same syntax as `TRUST_PROXY`.
   * Default none. The test and benchmark harnesses set `loopback`.
   */
  exempt: string[];
  /** `POST /whip`: `RATE_LIMIT_WHIP_RATE` / `_BURST`, default 1 / 10. */
  whip: RateLimitBucket;
  /** `POST /whep/:id`: `RATE_LIMIT_WHEP_RATE` / `_BURST`, default 5 / 50. */
  whep: RateLimitBucket;
  /**
   * PATCH of a WHIP or WHEP session (trickle, ICE restart) and POSTs to a WHEP session's
   * layer and events resources: `RATE_LIMIT_SESSION_RATE` / `_BURST`, default 20 / 200.
   * DELETE is never limited.
   */
  session: RateLimitBucket;
  /** `/api` without the admin token: `RATE_LIMIT_API_RATE` / `_BURST`, default 5 / 50. */
  api: RateLimitBucket;
  /** `/api` with the admin token: `RATE_LIMIT_ADMIN_RATE` / `_BURST`, default 100 / 1000. */
  admin: RateLimitBucket;
  /**
   * Wrong admin tokens (a bearer on `/api` answered 401): `RATE_LIMIT_ADMIN_AUTH_RATE` /
   * `_BURST`, default 0.2 / 5: five guesses, then one per 5 s.
   */
  adminAuth: RateLimitBucket;
  /**
   * `ADMIN_AUTH_FAILURE_DELAY_MS`: a 401 for a wrong admin token waits this long, doubled
   * for each recent failure of the address, at most 16 times it. Default 250; 0: no delay.
   */
  failureDelayMs: number;
  /**
   * `ADMIN_AUTH_MAX_DELAYED`: most such 401s held back at once on a node; more are answered
   * without delay. Default 64.
   */
  maxDelayedFailures: number;
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
  edge: EdgeConfig;
  cluster: ClusterConfig;
  allocation: AllocationConfig;
  store: StoreConfig;
  recording: RecordingConfig;
  metrics: MetricsConfig;
  webhooks: WebhooksConfig;
  rateLimits: RateLimitConfig;
  /** `DATA_DIR`: where the embedded store, the spool and disk recordings live. Default `./data`. */
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

/** A number from 0 to 1 (a ratio such as CPU load). */
function fraction(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new ConfigError(`${name} must be a number from 0 to 1 (e.g. 0.7), got "${raw}"`);
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

function absoluteUrl(name: string, value: string): string {
  const url = value.replace(/\/+$/, '');
  try {
    new URL(url);
  } catch {
    throw new ConfigError(`${name} must be an absolute URL, got "${value}"`);
  }
  return url;
}

function parseRoles(env: Env): Role[] {
  const raw = env.ROLES?.trim();
  if (!raw || raw === 'all') return [...ALL_ROLES];
  const roles: Role[] = [];
  for (const entry of raw.split(',').map((r) => r.trim().toLowerCase())) {
    if (!entry) continue;
    if (!(ALL_ROLES as readonly string[]).includes(entry)) {
      throw new ConfigError(
        `ROLES entry "${entry}" is not one of ${ALL_ROLES.join(', ')} (or "all")`,
      );
    }
    if (!roles.includes(entry as Role)) roles.push(entry as Role);
  }
  if (roles.length === 0) throw new ConfigError('ROLES must name at least one role');
  return ALL_ROLES.filter((r) => roles.includes(r));
}

function clusterConfig(
  env: Env,
  port: number,
  publicUrl: string,
  redisUrl: string | undefined,
): ClusterConfig {
  const roles = parseRoles(env);
  const split = roles.length !== ALL_ROLES.length;
  if (split && !redisUrl) {
    throw new ConfigError(
      `REDIS_URL is required when roles are split (ROLES=${roles.join(',')}): nodes coordinate through Redis`,
    );
  }
  const secret = env.CLUSTER_SECRET || undefined;
  if (secret !== undefined && secret.length < 16) {
    throw new ConfigError('CLUSTER_SECRET must be at least 16 characters');
  }
  if (split && !secret) {
    throw new ConfigError(
      'CLUSTER_SECRET is required when roles are split: the same value on every node',
    );
  }
  const nodeUrl = absoluteUrl('NODE_URL', env.NODE_URL || publicUrl);
  const internalUrl = absoluteUrl('INTERNAL_URL', env.INTERNAL_URL || nodeUrl);
  const nodeId = env.NODE_ID || `${hostname()}-${port}`;
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(nodeId)) {
    throw new ConfigError(`NODE_ID must be 1-64 letters, digits, ".", "_" or "-", got "${nodeId}"`);
  }
  const pipeListenIp = env.PIPE_LISTEN_IP?.trim() || defaultPipeIp(internalUrl);
  if (!isIpAddress(pipeListenIp)) {
    throw new ConfigError(`PIPE_LISTEN_IP must be an IP address, got "${pipeListenIp}"`);
  }
  const pipeSrtp = (env.PIPE_SRTP || 'auto') as ClusterConfig['pipeSrtp'];
  if (!['auto', 'on', 'off'].includes(pipeSrtp)) {
    throw new ConfigError(`PIPE_SRTP must be auto, on or off, got "${env.PIPE_SRTP}"`);
  }
  return {
    roles,
    split,
    nodeId,
    nodeUrl,
    internalUrl,
    region: env.REGION || 'default',
    secret: secret ?? randomBytes(24).toString('base64url'),
    heartbeatMs: int(env, 'NODE_HEARTBEAT_MS', 1500, 100, 60_000),
    pipeListenIp,
    pipeAnnouncedIp: env.PIPE_ANNOUNCED_IP?.trim() || undefined,
    pipeSrtp,
    pipeFanout: int(env, 'PIPE_FANOUT', 8, 1, 1000),
    maxDepth: int(env, 'CASCADE_MAX_DEPTH', 3, 1, 10),
    ticketTtlMs: int(env, 'TICKET_TTL_MS', 30_000, 1000, 600_000),
    drainTimeoutMs: int(env, 'DRAIN_TIMEOUT_MS', 60_000, 0, 3_600_000),
    drainSpreadMs: int(env, 'DRAIN_SPREAD_MS', 10_000, 0, 3_600_000),
    drainGraceMs: int(env, 'DRAIN_GRACE_MS', 5_000, 0, 600_000),
  };
}

function allocationConfig(env: Env, workers: number): AllocationConfig {
  const policy = (env.ALLOCATION_POLICY || 'least-used').toLowerCase() as AllocationPolicy;
  if (!ALLOCATION_POLICIES.includes(policy)) {
    throw new ConfigError(
      `ALLOCATION_POLICY must be one of ${ALLOCATION_POLICIES.join(', ')}, got "${env.ALLOCATION_POLICY}"`,
    );
  }
  const regionHeader = env.REGION_HEADER?.trim().toLowerCase() || undefined;
  if (regionHeader !== undefined && !/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(regionHeader)) {
    throw new ConfigError(`REGION_HEADER must be a header name, got "${env.REGION_HEADER}"`);
  }
  const pair = (name: string, soft: number, hard: number, read: typeof int): Threshold => {
    const value = {
      soft: read(env, `NODE_SOFT_${name}`, soft, 0),
      hard: read(env, `NODE_HARD_${name}`, hard, 0),
    };
    if (value.soft > value.hard) {
      throw new ConfigError(`NODE_SOFT_${name} must not be above NODE_HARD_${name}`);
    }
    return value;
  };
  const egressMbps = pair('EGRESS_MBPS', 700, 900, int);
  return {
    policy,
    regionHeader,
    limits: {
      viewers: pair('VIEWERS', 280 * workers, 360 * workers, int),
      egressKbps: { soft: egressMbps.soft * 1000, hard: egressMbps.hard * 1000 },
      cpu: pair('CPU', 0.7, 0.9, (e, name, fallback) => fraction(e, name, fallback)),
    },
  };
}

/** The host of the internal URL when it is an IP, else the first non-loopback address. */
function defaultPipeIp(internalUrl: string): string {
  const host = new URL(internalUrl).hostname.replace(/^\[|\]$/g, '');
  if (isIpAddress(host)) return host;
  if (host === 'localhost') return '127.0.0.1';
  return interfaceAddresses()[0] ?? '127.0.0.1';
}

function recordingConfig(env: Env, dataDir: string): RecordingConfig {
  const recordings = (env.RECORDINGS || 'on').toLowerCase();
  if (!['on', 'off'].includes(recordings)) {
    throw new ConfigError(`RECORDINGS must be on or off, got "${env.RECORDINGS}"`);
  }
  const kind = (env.STORAGE || 'disk').toLowerCase();
  let storage: StorageConfig;
  if (kind === 'disk') {
    storage = {
      kind: 'disk',
      dir: path.resolve(env.RECORDINGS_DIR || path.join(dataDir, 'recordings')),
    };
  } else if (kind === 's3') {
    const bucket = env.S3_BUCKET?.trim();
    if (!bucket) throw new ConfigError('S3_BUCKET is required with STORAGE=s3');
    const endpoint = env.S3_ENDPOINT?.trim() || undefined;
    if (endpoint) absoluteUrl('S3_ENDPOINT', endpoint);
    const prefix = (env.S3_PREFIX ?? '').trim().replace(/^\/+/, '');
    storage = {
      kind: 's3',
      bucket,
      prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`,
      region: env.S3_REGION || env.AWS_REGION || 'us-east-1',
      endpoint,
      forcePathStyle: bool(env, 'S3_FORCE_PATH_STYLE', endpoint !== undefined),
    };
  } else {
    throw new ConfigError(`STORAGE must be disk or s3, got "${env.STORAGE}"`);
  }
  return {
    defaultOn: recordings === 'on',
    segmentSeconds: int(env, 'RECORDING_SEGMENT_SECONDS', 4, 1, 60),
    uploadTimeoutMs: int(env, 'RECORDING_UPLOAD_TIMEOUT_MS', 30_000, 100, 3_600_000),
    ffmpegPath: env.FFMPEG_PATH || undefined,
    spoolDir: path.join(dataDir, 'spool'),
    storage,
  };
}

function webhookUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name} entry "${value}" must be an absolute http(s) URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${name} entry "${value}" must be an absolute http(s) URL`);
  }
  return value;
}

function webhooksConfig(env: Env, split: boolean): WebhooksConfig {
  const urls = [
    ...new Set(
      (env.WEBHOOK_URLS ?? '')
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean)
        .map((u) => webhookUrl('WEBHOOK_URLS', u)),
    ),
  ];
  const hookUrl = env.PUBLISH_HOOK_URL?.trim() || undefined;
  if (hookUrl) webhookUrl('PUBLISH_HOOK_URL', hookUrl);
  const onTimeout = (env.PUBLISH_HOOK_ON_TIMEOUT || 'deny').toLowerCase();
  if (onTimeout !== 'deny' && onTimeout !== 'allow') {
    throw new ConfigError(
      `PUBLISH_HOOK_ON_TIMEOUT must be deny or allow, got "${env.PUBLISH_HOOK_ON_TIMEOUT}"`,
    );
  }
  const used = urls.length > 0 || hookUrl !== undefined;
  const secret = env.WEBHOOK_SECRET?.trim() || undefined;
  if (secret !== undefined) {
    const body = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : '';
    const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(body) ? Buffer.from(body, 'base64').length : 0;
    if (bytes < 24 || bytes > 64) {
      throw new ConfigError(
        'WEBHOOK_SECRET must be "whsec_" followed by base64 of 24 to 64 random bytes ' +
          '(e.g. "whsec_$(openssl rand -base64 32)")',
      );
    }
  }
  if (split && used && !secret) {
    throw new ConfigError(
      'WEBHOOK_SECRET is required when roles are split and WEBHOOK_URLS or PUBLISH_HOOK_URL is set: the same value on every node',
    );
  }
  const retryBaseMs = int(env, 'WEBHOOK_RETRY_BASE_MS', 1000, 10, 3_600_000);
  const retryMaxMs = int(env, 'WEBHOOK_RETRY_MAX_MS', 600_000, 10, 86_400_000);
  if (retryMaxMs < retryBaseMs) {
    throw new ConfigError('WEBHOOK_RETRY_MAX_MS must be >= WEBHOOK_RETRY_BASE_MS');
  }
  return {
    urls,
    secret: secret ?? `whsec_${randomBytes(32).toString('base64')}`,
    secretGenerated: used && !secret,
    timeoutMs: int(env, 'WEBHOOK_TIMEOUT_MS', 5000, 100, 120_000),
    maxAgeSeconds: int(env, 'WEBHOOK_MAX_AGE_SECONDS', 86_400, 1, 30 * 86_400),
    retryBaseMs,
    retryMaxMs,
    publishHook: hookUrl
      ? {
          url: hookUrl,
          timeoutMs: int(env, 'PUBLISH_HOOK_TIMEOUT_MS', 3000, 10, 60_000),
          onTimeout,
        }
      : undefined,
  };
}

function addressList(env: Env, name: string): string[] {
  const raw = env[name]?.trim() ?? '';
  if (raw === '' || ['off', 'false', 'no', 'none', '0'].includes(raw.toLowerCase())) return [];
  const entries = raw
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  try {
    addressMatcher(entries);
  } catch (error) {
    throw new ConfigError(
      `${name} must be comma-separated addresses, CIDR ranges, loopback, linklocal or uniquelocal: ${(error as Error).message}`,
    );
  }
  return entries;
}

function bucket(env: Env, name: string, rate: number, burst: number): RateLimitBucket {
  const rawRate = env[`RATE_LIMIT_${name}_RATE`];
  let ratePerSecond = rate;
  if (rawRate !== undefined && rawRate !== '') {
    ratePerSecond = Number(rawRate);
    if (rawRate.trim() === '' || !Number.isFinite(ratePerSecond) || ratePerSecond <= 0) {
      throw new ConfigError(
        `RATE_LIMIT_${name}_RATE must be a number above 0 (tokens per second), got "${rawRate}"`,
      );
    }
  }
  return { ratePerSecond, burst: int(env, `RATE_LIMIT_${name}_BURST`, burst, 1, 1_000_000) };
}

function rateLimitConfig(env: Env): RateLimitConfig {
  const mode = (env.RATE_LIMITS || 'on').toLowerCase();
  if (mode !== 'on' && mode !== 'off') {
    throw new ConfigError(`RATE_LIMITS must be on or off, got "${env.RATE_LIMITS}"`);
  }
  return {
    enabled: mode === 'on',
    trustProxy: addressList(env, 'TRUST_PROXY'),
    exempt: addressList(env, 'RATE_LIMIT_EXEMPT'),
    whip: bucket(env, 'WHIP', 1, 10),
    whep: bucket(env, 'WHEP', 5, 50),
    session: bucket(env, 'SESSION', 20, 200),
    api: bucket(env, 'API', 5, 50),
    admin: bucket(env, 'ADMIN', 100, 1000),
    adminAuth: bucket(env, 'ADMIN_AUTH', 0.2, 5),
    failureDelayMs: int(env, 'ADMIN_AUTH_FAILURE_DELAY_MS', 250, 0, 10_000),
    maxDelayedFailures: int(env, 'ADMIN_AUTH_MAX_DELAYED', 64, 0, 100_000),
  };
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
  const cluster = clusterConfig(env, port, publicUrl, redisUrl);
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
      workerLogLevel,
      workerBin: env.MEDIASOUP_WORKER_BIN || undefined,
    },
    session: {
      connectTimeoutMs: int(env, 'SESSION_CONNECT_TIMEOUT_MS', 30_000, 100),
      disconnectTimeoutMs: int(env, 'SESSION_DISCONNECT_TIMEOUT_MS', 5_000, 0),
      inactivityTimeoutMs: int(env, 'SESSION_INACTIVITY_TIMEOUT_MS', 15_000, 500),
      keyframeRequestDelayMs: int(env, 'KEYFRAME_REQUEST_DELAY_MS', 350, 0, 10_000),
      deleteGraceMs: int(env, 'SESSION_DELETE_GRACE_MS', 60_000, 0, 3_600_000),
    },
    edge: {
      viewersPerRouter: int(env, 'VIEWERS_PER_ROUTER', 250, 1),
      serveFromSource: bool(env, 'EDGE_SERVE_FROM_SOURCE', false),
      notLiveRetryAfterSeconds: int(env, 'WHEP_NOT_LIVE_RETRY_AFTER', 5, 1),
      lingerMs: int(env, 'EDGE_LINGER_MS', 30_000, 0, 3_600_000),
      relay: bool(env, 'EDGE_RELAY', false),
    },
    cluster,
    allocation: allocationConfig(env, numWorkers),
    store: {
      kind: redisUrl ? 'redis' : 'embedded',
      redisUrl,
      redisPrefix: env.REDIS_PREFIX || 'wisp:',
    },
    recording: recordingConfig(env, path.resolve(env.DATA_DIR || './data')),
    metrics: { enabled: bool(env, 'METRICS', true), token: env.METRICS_TOKEN || undefined },
    webhooks: webhooksConfig(env, cluster.split),
    rateLimits: rateLimitConfig(env),
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
    metrics: { ...config.metrics, token: config.metrics.token ? '***' : undefined },
    cluster: { ...config.cluster, secret: '***' },
    webhooks: { ...config.webhooks, secret: '***' },
    store: { ...config.store, redisUrl: config.store.redisUrl?.replace(/\/\/[^@]*@/, '//***@') },
    iceServers: config.iceServers.map((s) => ({
      url: s.url,
      ...(s.username ? { username: s.username, credential: '***' } : {}),
      ...(s.secret ? { secret: '***', ttlSeconds: s.ttlSeconds } : {}),
    })),
  };
}
