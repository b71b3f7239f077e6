/**
 * `npm run cluster [-- --edges N --relays M --ingests K --recorders R --port P]`: a real local cluster on
 * loopback, every role in its own process (LocalCluster). Prints `front door: <url>` and
 * `admin token: <token>` once every node is ready; Ctrl-C (SIGINT) or SIGTERM stops it all.
 */
import { parseArgs } from 'node:util';
import { LocalCluster } from './LocalCluster.ts';

function count(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 32) {
    process.stderr.write(`--${name} must be an integer from 0 to 32, got "${value}"\n`);
    process.exit(2);
  }
  return n;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    process.stderr.write(`--port must be a TCP port, got "${value}"\n`);
    process.exit(2);
  }
  return n;
}

const { values } = parseArgs({
  options: {
    edges: { type: 'string' },
    relays: { type: 'string' },
    ingests: { type: 'string' },
    recorders: { type: 'string' },
    port: { type: 'string' },
  },
});

const started = Date.now();
const cluster = await LocalCluster.start({
  edges: count(values.edges, 'edges', 2),
  relays: count(values.relays, 'relays', 0),
  ingests: Math.max(1, count(values.ingests, 'ingests', 1)),
  recorders: count(values.recorders, 'recorders', 1),
  ...(values.port ? { port: port(values.port) } : {}),
}).catch((error: unknown) => {
  process.stderr.write(`cluster failed to start: ${(error as Error).message}\n`);
  process.exit(1);
});

const lines = [
  `front door: ${cluster.frontDoor}`,
  `admin token: ${cluster.adminToken}`,
  `redis: ${cluster.redis.url}`,
  ...(process.env.WEBHOOK_URLS || process.env.PUBLISH_HOOK_URL
    ? [`webhook secret: ${cluster.webhookSecret}`]
    : []),
  ...[...cluster.nodes.values()].map(
    (n) => `node ${n.spec.id} (${n.spec.kind}): ${n.url} pid ${n.process.pid}`,
  ),
  `ready in ${((Date.now() - started) / 1000).toFixed(1)} s; Ctrl-C stops every process`,
];
process.stdout.write(`${lines.join('\n')}\n`);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  void cluster.stop().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
