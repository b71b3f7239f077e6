/**
 * `npm start`: every role in one process on embedded defaults, or the roles `ROLES` names
 * (a cluster node). Ready when GET /healthz answers 200. SIGINT stops at once; SIGTERM on a
 * cluster node drains first (no new sessions, its viewers moved to other edges, exit when
 * empty or after `DRAIN_TIMEOUT_MS`); so does `POST /api/nodes/:id/drain` for this node.
 */
import { ConfigError, createLogger, loadConfig } from '@wisp/core';
import { Platform } from './Platform.ts';

const log = createLogger('main');

async function main(): Promise<void> {
  const config = loadConfig();
  const platform = await Platform.create(config);
  const hasMedia = config.cluster.roles.includes('ingest') || config.cluster.roles.includes('edge');
  if (hasMedia) {
    platform.pool.on('workerDied', () => {
      log.fatal('a mediasoup worker died; exiting so the supervisor restarts the process');
      void platform.close().finally(() => process.exit(1));
    });
  }
  const { port } = await platform.listen();
  // A drain asked for over the API ends the process like one started by SIGTERM.
  void platform.whenDrained().then(() => process.exit(0));
  if (config.cluster.split) {
    // A cluster node: one line for logs and scripts, no quick-start banner.
    log.info(
      {
        node: config.cluster.nodeId,
        roles: config.cluster.roles,
        port,
        url: config.cluster.nodeUrl,
      },
      'node ready',
    );
    handleSignals(platform, true, config.cluster.drainTimeoutMs);
    return;
  }
  const url = config.http.publicUrl;
  const token = config.adminTokenGenerated ? config.adminToken : '<your ADMIN_TOKEN>';
  const banner = [
    '',
    `  wisp is live on ${url} (HTTP port ${port})`,
    config.adminTokenGenerated
      ? `  Admin token (generated; set ADMIN_TOKEN to keep one): ${config.adminToken}`
      : '  Admin token: from ADMIN_TOKEN',
    ...(config.webhooks.secretGenerated
      ? [
          `  Webhook secret (generated; set WEBHOOK_SECRET to keep one, receivers verify with it): ${config.webhooks.secret}`,
        ]
      : []),
    `  WHIP URL for OBS (Settings > Stream > Service: WHIP > Server): ${url}/whip`,
    '  Create a stream and its key (the key goes in OBS\'s "Bearer Token" field):',
    `    curl -s -X POST ${url}/api/streams -H 'Authorization: Bearer ${token}' \\`,
    `         -H 'Content-Type: application/json' -d '{"name":"my stream"}'`,
    '  Then open the returned playerUrl to watch, or publish from a browser at',
    `    ${url}/publish`,
    `  Media (open UDP and TCP in a firewall): ${mediaSummary(platform)}`,
    '',
  ].join('\n');
  process.stdout.write(`${banner}\n`);
  handleSignals(platform, false, 0);
}

function handleSignals(platform: Platform, drainOnTerm: boolean, drainMs: number): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, signal === 'SIGTERM' && drainOnTerm ? 'draining' : 'shutting down');
    (signal === 'SIGTERM' && drainOnTerm ? platform.drain(drainMs) : platform.close())
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        log.error({ err: error }, 'error while shutting down');
        process.exit(1);
      });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`configuration error: ${error.message}\n`);
  } else {
    log.fatal({ err: error }, 'failed to start');
  }
  process.exit(1);
});

/** Where media listens: the WebRtcServer ports and the announced addresses. */
function mediaSummary(platform: Platform): string {
  const { media } = platform.config;
  const ports = platform.pool.ports().flatMap((p) => p.udp ?? p.tcp ?? []);
  const where =
    media.portMode === 'range' || ports.length === 0
      ? `ports ${media.rtcMinPort}-${media.rtcMaxPort}`
      : ports.length === 1
        ? `port ${ports[0]}`
        : `ports ${Math.min(...ports)}-${Math.max(...ports)}`;
  const addresses = media.listen.map((l) => l.announcedAddress ?? l.ip).join(', ');
  return `${where} on ${addresses}`;
}
