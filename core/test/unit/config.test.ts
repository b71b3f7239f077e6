import { cpus } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, describeConfig, interfaceAddresses, loadConfig } from '../../src/config.ts';

describe('loadConfig: defaults', () => {
  const config = loadConfig({});

  it('documents and applies the HTTP defaults', () => {
    expect(config.http).toEqual({
      host: '0.0.0.0',
      port: 8080,
      publicUrl: 'http://localhost:8080',
      maxSdpBytes: 64 * 1024,
      maxJsonBytes: 16 * 1024,
      corsOrigin: '*',
    });
  });

  it('applies the media defaults', () => {
    expect(config.media).toEqual({
      numWorkers: Math.max(1, cpus().length),
      portMode: 'server',
      rtcPort: 40000,
      rtcMinPort: 40000,
      rtcMaxPort: 49999,
      listen: interfaceAddresses().map((ip) => ({ ip })),
      enableUdp: true,
      enableTcp: true,
      workerLogLevel: 'warn',
      workerBin: undefined,
    });
  });

  it('applies the session, store and logging defaults', () => {
    expect(config.session).toEqual({
      connectTimeoutMs: 30_000,
      disconnectTimeoutMs: 5_000,
      inactivityTimeoutMs: 15_000,
      keyframeRequestDelayMs: 350,
      deleteGraceMs: 60_000,
    });
    expect(config.edge).toEqual({
      viewersPerRouter: 250,
      serveFromSource: false,
      notLiveRetryAfterSeconds: 5,
      lingerMs: 30_000,
      relay: false,
    });
    expect(config.store).toEqual({ kind: 'embedded', redisUrl: undefined, redisPrefix: 'wisp:' });
    expect(config.dataDir).toBe(path.resolve('./data'));
    expect(config.iceServers).toEqual([]);
    expect(config.logLevel).toBe('info');
  });

  it('generates a strong admin token when ADMIN_TOKEN is unset', () => {
    expect(config.adminTokenGenerated).toBe(true);
    expect(config.adminToken).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(loadConfig({}).adminToken).not.toBe(config.adminToken);
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ PORT: '', RTC_ENABLE_UDP: '', PUBLIC_URL: '', HOST: '' })).toMatchObject({
      http: { port: 8080, host: '0.0.0.0', publicUrl: 'http://localhost:8080' },
      media: { enableUdp: true },
    });
  });
});

describe('loadConfig: values', () => {
  it('reads every variable', () => {
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: '9000',
      PUBLIC_URL: 'https://live.example.com//',
      MAX_SDP_BYTES: '2048',
      MAX_JSON_BYTES: '512',
      CORS_ORIGIN: 'https://app.example.com',
      MEDIASOUP_WORKERS: '3',
      RTC_PORT_MODE: 'range',
      RTC_PORT: '41000',
      RTC_MIN_PORT: '50000',
      RTC_MAX_PORT: '50100',
      RTC_LISTEN_IP: '10.1.2.3, 192.0.2.7',
      RTC_ANNOUNCED_IP: '203.0.113.5',
      RTC_ENABLE_TCP: 'off',
      VIEWERS_PER_ROUTER: '10',
      MEDIASOUP_LOG_LEVEL: 'debug',
      SESSION_CONNECT_TIMEOUT_MS: '1000',
      SESSION_DISCONNECT_TIMEOUT_MS: '0',
      SESSION_INACTIVITY_TIMEOUT_MS: '600',
      WHEP_NOT_LIVE_RETRY_AFTER: '2',
      SESSION_DELETE_GRACE_MS: '0',
      KEYFRAME_REQUEST_DELAY_MS: '500',
      EDGE_SERVE_FROM_SOURCE: 'yes',
      REDIS_URL: 'redis://localhost:6379',
      REDIS_PREFIX: 'test:',
      DATA_DIR: '/tmp/wisp-data',
      ADMIN_TOKEN: 'admin-secret',
      LOG_LEVEL: 'debug',
    });
    expect(config.http).toEqual({
      host: '127.0.0.1',
      port: 9000,
      publicUrl: 'https://live.example.com',
      maxSdpBytes: 2048,
      maxJsonBytes: 512,
      corsOrigin: 'https://app.example.com',
    });
    expect(config.media).toMatchObject({
      numWorkers: 3,
      portMode: 'range',
      rtcPort: 41000,
      rtcMinPort: 50000,
      rtcMaxPort: 50100,
      listen: [
        { ip: '10.1.2.3', announcedAddress: '203.0.113.5' },
        { ip: '192.0.2.7', announcedAddress: '203.0.113.5' },
      ],
      enableUdp: true,
      enableTcp: false,
      workerLogLevel: 'debug',
    });
    expect(config.session).toEqual({
      connectTimeoutMs: 1000,
      disconnectTimeoutMs: 0,
      inactivityTimeoutMs: 600,
      keyframeRequestDelayMs: 500,
      deleteGraceMs: 0,
    });
    expect(config.edge).toEqual({
      viewersPerRouter: 10,
      serveFromSource: true,
      notLiveRetryAfterSeconds: 2,
      lingerMs: 30_000,
      relay: false,
    });
    expect(config.store).toEqual({
      kind: 'redis',
      redisUrl: 'redis://localhost:6379',
      redisPrefix: 'test:',
    });
    expect(config.dataDir).toBe('/tmp/wisp-data');
    expect(config.adminToken).toBe('admin-secret');
    expect(config.adminTokenGenerated).toBe(false);
    expect(config.logLevel).toBe('debug');
  });

  it('derives the default PUBLIC_URL from PORT', () => {
    expect(loadConfig({ PORT: '9000' }).http.publicUrl).toBe('http://localhost:9000');
  });

  it.each([
    ['1', true],
    ['true', true],
    ['YES', true],
    ['On', true],
    ['0', false],
    ['false', false],
    ['no', false],
    ['OFF', false],
  ])('reads the boolean "%s" as %s', (raw, value) => {
    expect(loadConfig({ RTC_ENABLE_UDP: raw, RTC_ENABLE_TCP: 'true' }).media.enableUdp).toBe(value);
  });
});

describe('loadConfig: ICE_SERVERS', () => {
  it('parses comma-separated URIs and gives TURN credentials to turn: and turns: only', () => {
    const config = loadConfig({
      ICE_SERVERS:
        ' stun:stun.example.net:3478 ,turn:turn.example.net:3478?transport=udp,, turns:turn.example.net:5349 ',
      TURN_USERNAME: 'user',
      TURN_CREDENTIAL: 'secret',
    });
    expect(config.iceServers).toEqual([
      { url: 'stun:stun.example.net:3478' },
      { url: 'turn:turn.example.net:3478?transport=udp', username: 'user', credential: 'secret' },
      { url: 'turns:turn.example.net:5349', username: 'user', credential: 'secret' },
    ]);
  });

  it('accepts stuns: and TURN servers without credentials', () => {
    expect(
      loadConfig({ ICE_SERVERS: 'stuns:stun.example.net,turn:turn.example.net' }).iceServers,
    ).toEqual([{ url: 'stuns:stun.example.net' }, { url: 'turn:turn.example.net' }]);
  });

  it('refuses other schemes', () => {
    expect(() =>
      loadConfig({ ICE_SERVERS: 'stun:ok.example.net,https://turn.example.net' }),
    ).toThrow(/ICE_SERVERS entry "https:\/\/turn\.example\.net"/);
  });

  it('gives TURN_SECRET and TURN_TTL (default 4 hours) to the turn: and turns: entries', () => {
    const ice = 'stun:stun.example.net,turn:turn.example.net,turns:turn.example.net:5349';
    expect(loadConfig({ ICE_SERVERS: ice, TURN_SECRET: 'shh' }).iceServers).toEqual([
      { url: 'stun:stun.example.net' },
      { url: 'turn:turn.example.net', secret: 'shh', ttlSeconds: 14_400 },
      { url: 'turns:turn.example.net:5349', secret: 'shh', ttlSeconds: 14_400 },
    ]);
    const short = loadConfig({ ICE_SERVERS: ice, TURN_SECRET: 'shh', TURN_TTL: '600' });
    expect(short.iceServers[1]).toEqual({
      url: 'turn:turn.example.net',
      secret: 'shh',
      ttlSeconds: 600,
    });
  });

  it('refuses a secret together with a static pair, half a pair, and a TURN_TTL out of range', () => {
    const ice = 'turn:turn.example.net';
    expect(() =>
      loadConfig({ ICE_SERVERS: ice, TURN_SECRET: 's', TURN_USERNAME: 'u', TURN_CREDENTIAL: 'p' }),
    ).toThrow(/TURN_SECRET or TURN_USERNAME\/TURN_CREDENTIAL, not both/);
    expect(() => loadConfig({ ICE_SERVERS: ice, TURN_USERNAME: 'u' })).toThrow(/go together/);
    expect(() => loadConfig({ ICE_SERVERS: ice, TURN_CREDENTIAL: 'p' })).toThrow(/go together/);
    for (const ttl of ['0', '-5', '1.5', 'soon', String(7 * 24 * 3600 + 1)]) {
      expect(() => loadConfig({ ICE_SERVERS: ice, TURN_SECRET: 's', TURN_TTL: ttl })).toThrow(
        /TURN_TTL/,
      );
    }
  });
});

describe('loadConfig: where media listens', () => {
  const interfaces = {
    lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true, scopeid: undefined }],
    eth0: [
      { address: '192.168.1.20', family: 'IPv4', internal: false },
      { address: 'fe80::1', family: 'IPv6', internal: false, scopeid: 2 },
      { address: '2001:db8::20', family: 'IPv6', internal: false, scopeid: 0 },
    ],
  } as unknown as Parameters<typeof interfaceAddresses>[0];

  it('lists interface addresses, loopback last, without link-local IPv6', () => {
    expect(interfaceAddresses(interfaces)).toEqual(['192.168.1.20', '2001:db8::20', '127.0.0.1']);
  });

  it('announces RTC_ANNOUNCED_IP alone on 0.0.0.0 when no listen address is given', () => {
    expect(loadConfig({ RTC_ANNOUNCED_IP: 'media.example.com' }).media.listen).toEqual([
      { ip: '0.0.0.0', announcedAddress: 'media.example.com' },
    ]);
  });

  it('reads RTC_LISTEN_IP=0.0.0.0 without an announced address as every interface', () => {
    expect(loadConfig({ RTC_LISTEN_IP: '0.0.0.0' }).media.listen).toEqual(
      interfaceAddresses().map((ip) => ({ ip })),
    );
    expect(loadConfig({ RTC_LISTEN_IP: '127.0.0.1' }).media.listen).toEqual([{ ip: '127.0.0.1' }]);
  });
});

describe('loadConfig: validation errors name the variable', () => {
  it.each([
    [{ PORT: 'abc' }, /PORT must be an integer/],
    [{ PORT: '70000' }, /PORT must be an integer between 0 and 65535/],
    [{ PORT: '80.5' }, /PORT/],
    [{ PORT: '-1' }, /PORT/],
    [{ PUBLIC_URL: 'not a url' }, /PUBLIC_URL must be an absolute URL/],
    [{ RTC_MIN_PORT: '80' }, /RTC_MIN_PORT must be an integer between 1024 and 65535/],
    [{ RTC_MIN_PORT: '45000', RTC_MAX_PORT: '44000' }, /RTC_MAX_PORT must be >= RTC_MIN_PORT/],
    [{ MAX_SDP_BYTES: '100' }, /MAX_SDP_BYTES/],
    [{ RTC_PORT_MODE: 'fixed' }, /RTC_PORT_MODE must be server or range, got "fixed"/],
    [{ RTC_PORT: '80' }, /RTC_PORT must be 0 or between 1024 and/],
    [{ RTC_PORT: '65535', MEDIASOUP_WORKERS: '2' }, /RTC_PORT must be 0 or between 1024 and 65534/],
    [{ RTC_LISTEN_IP: 'eth0' }, /RTC_LISTEN_IP entry "eth0" is not an IP address/],
    [{ RTC_ANNOUNCED_IP: 'a.example, b.example' }, /RTC_ANNOUNCED_IP must be one address/],
    [{ MAX_JSON_BYTES: '10' }, /MAX_JSON_BYTES/],
    [{ MEDIASOUP_WORKERS: '0' }, /MEDIASOUP_WORKERS/],
    [{ VIEWERS_PER_ROUTER: '0' }, /VIEWERS_PER_ROUTER/],
    [{ SESSION_CONNECT_TIMEOUT_MS: '10' }, /SESSION_CONNECT_TIMEOUT_MS/],
    [{ SESSION_INACTIVITY_TIMEOUT_MS: '100' }, /SESSION_INACTIVITY_TIMEOUT_MS/],
    [{ WHEP_NOT_LIVE_RETRY_AFTER: '0' }, /WHEP_NOT_LIVE_RETRY_AFTER/],
    [{ MEDIASOUP_LOG_LEVEL: 'verbose' }, /MEDIASOUP_LOG_LEVEL must be debug, warn, error or none/],
    [{ RTC_ENABLE_UDP: 'maybe' }, /RTC_ENABLE_UDP must be true or false, got "maybe"/],
    [
      { RTC_ENABLE_UDP: 'false', RTC_ENABLE_TCP: 'no' },
      /at least one of RTC_ENABLE_UDP and RTC_ENABLE_TCP/,
    ],
  ])('%o', (env, message) => {
    let thrown: unknown;
    try {
      loadConfig(env);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as Error).message).toMatch(message);
  });
});

describe('describeConfig: secrets masked for the start-up log', () => {
  const config = loadConfig({
    ADMIN_TOKEN: 'admin-secret-value',
    REDIS_URL: 'redis://wisp:redis-secret-value@redis.internal:6379/0',
    ICE_SERVERS: 'stun:stun.example.net,turn:turn.example.net',
    TURN_USERNAME: 'turn-user',
    TURN_CREDENTIAL: 'turn-secret-value',
  });
  const described = describeConfig(config);

  it('masks the admin token, the Redis password and TURN credentials', () => {
    expect(described.adminToken).toBe('***');
    expect((described.store as { redisUrl: string }).redisUrl).toBe(
      'redis://***@redis.internal:6379/0',
    );
    expect(described.iceServers).toEqual([
      { url: 'stun:stun.example.net' },
      { url: 'turn:turn.example.net', username: 'turn-user', credential: '***' },
    ]);
  });

  it('leaves no secret anywhere in the logged object', () => {
    const text = JSON.stringify(described);
    for (const secret of ['admin-secret-value', 'redis-secret-value', 'turn-secret-value']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('redis.internal');
  });

  it('keeps the rest and does not modify the config', () => {
    expect(described.http).toEqual(config.http);
    expect(described.media).toEqual(config.media);
    expect(config.adminToken).toBe('admin-secret-value');
    expect(config.iceServers[1].credential).toBe('turn-secret-value');
  });

  it('masks TURN_SECRET', () => {
    const withSecret = describeConfig(
      loadConfig({ ICE_SERVERS: 'turn:turn.example.net', TURN_SECRET: 'turn-rest-secret-value' }),
    );
    expect(withSecret.iceServers).toEqual([
      { url: 'turn:turn.example.net', secret: '***', ttlSeconds: 14_400 },
    ]);
    expect(JSON.stringify(withSecret)).not.toContain('turn-rest-secret-value');
  });

  it('works without Redis', () => {
    const plain = describeConfig(loadConfig({}));
    expect((plain.store as { redisUrl?: string }).redisUrl).toBeUndefined();
  });
});

describe('loadConfig: cluster and roles', () => {
  const split = {
    ROLES: 'edge',
    REDIS_URL: 'redis://127.0.0.1:6379',
    CLUSTER_SECRET: 'a-cluster-secret-of-some-length',
  };

  it('runs every role in one process by default, with a generated secret', () => {
    const { cluster } = loadConfig({ PORT: '9000', PUBLIC_URL: 'http://10.9.8.7:9000' });
    expect(cluster).toMatchObject({
      roles: ['control', 'ingest', 'edge', 'egress', 'recorder'],
      split: false,
      nodeUrl: 'http://10.9.8.7:9000',
      internalUrl: 'http://10.9.8.7:9000',
      region: 'default',
      heartbeatMs: 1500,
      pipeListenIp: '10.9.8.7',
      pipeAnnouncedIp: undefined,
      pipeSrtp: 'auto',
      pipeFanout: 8,
      maxDepth: 3,
      ticketTtlMs: 30_000,
      drainTimeoutMs: 60_000,
      drainSpreadMs: 10_000,
      drainGraceMs: 5_000,
    });
    expect(cluster.nodeId).toMatch(/-9000$/);
    expect(cluster.secret).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(loadConfig({ ROLES: 'all' }).cluster.split).toBe(false);
  });

  it('reads the cluster variables of a split node', () => {
    const { cluster } = loadConfig({
      ...split,
      ROLES: ' ingest , EDGE,ingest',
      NODE_ID: 'edge-1.a',
      NODE_URL: 'https://edge-1.example.com/',
      INTERNAL_URL: 'http://edge-1.internal:8080',
      REGION: 'eu-west',
      NODE_HEARTBEAT_MS: '500',
      PIPE_LISTEN_IP: '10.0.0.5',
      PIPE_ANNOUNCED_IP: '10.0.0.50',
      PIPE_SRTP: 'on',
      PIPE_FANOUT: '2',
      CASCADE_MAX_DEPTH: '2',
      TICKET_TTL_MS: '5000',
      DRAIN_TIMEOUT_MS: '0',
      DRAIN_SPREAD_MS: '2500',
      DRAIN_GRACE_MS: '1000',
    });
    expect(cluster).toEqual({
      roles: ['ingest', 'edge'],
      split: true,
      nodeId: 'edge-1.a',
      nodeUrl: 'https://edge-1.example.com',
      internalUrl: 'http://edge-1.internal:8080',
      region: 'eu-west',
      secret: split.CLUSTER_SECRET,
      heartbeatMs: 500,
      pipeListenIp: '10.0.0.5',
      pipeAnnouncedIp: '10.0.0.50',
      pipeSrtp: 'on',
      pipeFanout: 2,
      maxDepth: 2,
      ticketTtlMs: 5000,
      drainTimeoutMs: 0,
      drainSpreadMs: 2500,
      drainGraceMs: 1000,
    });
  });

  it('takes the pipe address from an IP INTERNAL_URL, and loopback for localhost', () => {
    expect(loadConfig({ ...split, INTERNAL_URL: 'http://10.2.0.3:81' }).cluster.pipeListenIp).toBe(
      '10.2.0.3',
    );
    expect(loadConfig({ ...split, NODE_URL: 'http://localhost:81' }).cluster.pipeListenIp).toBe(
      '127.0.0.1',
    );
  });

  it('refuses split roles without Redis or a shared secret, and bad values', () => {
    expect(() => loadConfig({ ...split, REDIS_URL: '' })).toThrow(/REDIS_URL is required/);
    expect(() => loadConfig({ ...split, CLUSTER_SECRET: '' })).toThrow(
      /CLUSTER_SECRET is required/,
    );
    expect(() => loadConfig({ CLUSTER_SECRET: 'short' })).toThrow(/at least 16/);
    expect(() => loadConfig({ ...split, ROLES: 'edge,viewer' })).toThrow(/"viewer" is not one/);
    expect(loadConfig({ ...split, ROLES: 'recorder' }).cluster.roles).toEqual(['recorder']);
    // Without the recorder the process is one part of a cluster: it needs Redis.
    expect(() => loadConfig({ ROLES: 'control,ingest,edge,egress' })).toThrow(/REDIS_URL/);
    expect(() => loadConfig({ ...split, ROLES: ' , ' })).toThrow(/at least one role/);
    expect(() => loadConfig({ ...split, NODE_ID: 'a b' })).toThrow(/NODE_ID/);
    expect(() => loadConfig({ ...split, NODE_URL: 'edge-1' })).toThrow(/NODE_URL/);
    expect(() => loadConfig({ ...split, PIPE_LISTEN_IP: 'edge-1' })).toThrow(/PIPE_LISTEN_IP/);
    expect(() => loadConfig({ ...split, PIPE_SRTP: 'maybe' })).toThrow(/PIPE_SRTP/);
    expect(() => loadConfig({ ROLES: 'recorder' })).toThrow(ConfigError);
  });

  it('masks the cluster secret in the start-up log', () => {
    const described = describeConfig(loadConfig(split));
    expect((described.cluster as { secret: string }).secret).toBe('***');
    expect(JSON.stringify(described)).not.toContain(split.CLUSTER_SECRET);
  });
});

describe('loadConfig: recordings and storage', () => {
  it('records by default to disk under DATA_DIR, 4 s segments', () => {
    const { recording } = loadConfig({ DATA_DIR: '/var/wisp' });
    expect(recording).toEqual({
      defaultOn: true,
      segmentSeconds: 4,
      uploadTimeoutMs: 30_000,
      ffmpegPath: undefined,
      spoolDir: '/var/wisp/spool',
      storage: { kind: 'disk', dir: '/var/wisp/recordings' },
    });
    expect(loadConfig({ RECORDINGS: 'off' }).recording.defaultOn).toBe(false);
    expect(loadConfig({ FFMPEG_PATH: '/opt/ffmpeg' }).recording.ffmpegPath).toBe('/opt/ffmpeg');
  });

  it('reads the S3 settings, path style by default with a custom endpoint', () => {
    const { storage } = loadConfig({
      STORAGE: 's3',
      S3_BUCKET: 'recs',
      S3_PREFIX: '/live',
      S3_ENDPOINT: 'http://127.0.0.1:9000',
    }).recording;
    expect(storage).toEqual({
      kind: 's3',
      bucket: 'recs',
      prefix: 'live/',
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:9000',
      forcePathStyle: true,
    });
    expect(
      loadConfig({ STORAGE: 's3', S3_BUCKET: 'b', S3_REGION: 'eu-west-1' }).recording.storage,
    ).toMatchObject({
      region: 'eu-west-1',
      endpoint: undefined,
      forcePathStyle: false,
      prefix: '',
    });
  });

  it('refuses bad recording settings', () => {
    expect(() => loadConfig({ RECORDINGS: 'maybe' })).toThrow(/RECORDINGS/);
    expect(() => loadConfig({ STORAGE: 'tape' })).toThrow(/STORAGE/);
    expect(() => loadConfig({ STORAGE: 's3' })).toThrow(/S3_BUCKET/);
    expect(() => loadConfig({ STORAGE: 's3', S3_BUCKET: 'b', S3_ENDPOINT: 'x' })).toThrow(
      /S3_ENDPOINT/,
    );
    expect(() => loadConfig({ RECORDING_SEGMENT_SECONDS: '0' })).toThrow(/SEGMENT/);
  });
});

describe('loadConfig: allocation and limits', () => {
  it('defaults: least-used, no region header, 70 % / 90 % levels of 400 viewers per worker', () => {
    expect(loadConfig({ MEDIASOUP_WORKERS: '2' }).allocation).toEqual({
      policy: 'least-used',
      regionHeader: undefined,
      limits: {
        viewers: { soft: 560, hard: 720 },
        egressKbps: { soft: 700_000, hard: 900_000 },
        cpu: { soft: 0.7, hard: 0.9 },
      },
    });
  });

  it('reads the policy, the region header and every level', () => {
    const config = loadConfig({
      ALLOCATION_POLICY: 'Round-Robin',
      REGION_HEADER: 'X-Region',
      NODE_SOFT_VIEWERS: '10',
      NODE_HARD_VIEWERS: '20',
      NODE_SOFT_EGRESS_MBPS: '50',
      NODE_HARD_EGRESS_MBPS: '80',
      NODE_SOFT_CPU: '0.5',
      NODE_HARD_CPU: '1',
    });
    expect(config.allocation).toEqual({
      policy: 'round-robin',
      regionHeader: 'x-region',
      limits: {
        viewers: { soft: 10, hard: 20 },
        egressKbps: { soft: 50_000, hard: 80_000 },
        cpu: { soft: 0.5, hard: 1 },
      },
    });
  });

  it.each([
    [{ ALLOCATION_POLICY: 'fastest' }, /ALLOCATION_POLICY must be one of least-used, packing/],
    [{ REGION_HEADER: 'x region' }, /REGION_HEADER must be a header name/],
    [{ NODE_SOFT_VIEWERS: '30', NODE_HARD_VIEWERS: '20' }, /NODE_SOFT_VIEWERS must not be above/],
    [{ NODE_HARD_VIEWERS: '-1' }, /NODE_HARD_VIEWERS must be an integer/],
    [{ NODE_SOFT_CPU: '70' }, /NODE_SOFT_CPU must be a number from 0 to 1/],
    [{ NODE_HARD_CPU: 'high' }, /NODE_HARD_CPU must be a number from 0 to 1/],
    [{ NODE_SOFT_CPU: '0.95' }, /NODE_SOFT_CPU must not be above NODE_HARD_CPU/],
  ])('%o is refused', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('loadConfig: rate limits', () => {
  it('applies the documented defaults: on, no proxy trusted, nobody exempt', () => {
    expect(loadConfig({}).rateLimits).toEqual({
      enabled: true,
      trustProxy: [],
      exempt: [],
      whip: { ratePerSecond: 1, burst: 10 },
      whep: { ratePerSecond: 5, burst: 50 },
      session: { ratePerSecond: 20, burst: 200 },
      api: { ratePerSecond: 5, burst: 50 },
      admin: { ratePerSecond: 100, burst: 1000 },
      adminAuth: { ratePerSecond: 0.2, burst: 5 },
      failureDelayMs: 250,
      maxDelayedFailures: 64,
    });
  });

  it('reads every setting', () => {
    const config = loadConfig({
      RATE_LIMITS: 'off',
      TRUST_PROXY: 'loopback, 10.0.0.0/8,2001:db8::1',
      RATE_LIMIT_EXEMPT: '192.0.2.1',
      RATE_LIMIT_WHIP_RATE: '0.5',
      RATE_LIMIT_WHIP_BURST: '3',
      RATE_LIMIT_WHEP_RATE: '7',
      RATE_LIMIT_WHEP_BURST: '70',
      RATE_LIMIT_SESSION_RATE: '30',
      RATE_LIMIT_SESSION_BURST: '300',
      RATE_LIMIT_API_RATE: '1',
      RATE_LIMIT_API_BURST: '2',
      RATE_LIMIT_ADMIN_RATE: '10',
      RATE_LIMIT_ADMIN_BURST: '20',
      RATE_LIMIT_ADMIN_AUTH_RATE: '1',
      RATE_LIMIT_ADMIN_AUTH_BURST: '1',
      ADMIN_AUTH_FAILURE_DELAY_MS: '0',
      ADMIN_AUTH_MAX_DELAYED: '5',
    });
    expect(config.rateLimits).toEqual({
      enabled: false,
      trustProxy: ['loopback', '10.0.0.0/8', '2001:db8::1'],
      exempt: ['192.0.2.1'],
      whip: { ratePerSecond: 0.5, burst: 3 },
      whep: { ratePerSecond: 7, burst: 70 },
      session: { ratePerSecond: 30, burst: 300 },
      api: { ratePerSecond: 1, burst: 2 },
      admin: { ratePerSecond: 10, burst: 20 },
      adminAuth: { ratePerSecond: 1, burst: 1 },
      failureDelayMs: 0,
      maxDelayedFailures: 5,
    });
  });

  it('treats TRUST_PROXY=off like unset', () => {
    expect(loadConfig({ TRUST_PROXY: 'off' }).rateLimits.trustProxy).toEqual([]);
  });

  it.each([
    [{ RATE_LIMITS: 'maybe' }, /RATE_LIMITS must be on or off/],
    [{ TRUST_PROXY: 'my-proxy' }, /TRUST_PROXY must be comma-separated addresses/],
    [{ RATE_LIMIT_EXEMPT: '10.0.0.0/99' }, /RATE_LIMIT_EXEMPT must be comma-separated/],
    [{ RATE_LIMIT_WHIP_RATE: '0' }, /RATE_LIMIT_WHIP_RATE must be a number above 0/],
    [{ RATE_LIMIT_WHEP_RATE: 'fast' }, /RATE_LIMIT_WHEP_RATE must be a number above 0/],
    [{ RATE_LIMIT_API_BURST: '0' }, /RATE_LIMIT_API_BURST must be an integer between 1/],
    [{ ADMIN_AUTH_FAILURE_DELAY_MS: '-1' }, /ADMIN_AUTH_FAILURE_DELAY_MS must be an integer/],
  ])('%o is refused', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});
