/**
 * `npm run bench:cluster [-- --joins N --seconds S]`: what the cascade costs, measured side by
 * side in one run on this machine. For each topology: time to first decoded frame over N
 * joins (libwebrtc viewer, WHEP POST -> first frame, redirects included) and glass-to-glass
 * latency over S seconds (the latency probe's stamped frames):
 *
 * - `single`: one process, the viewer on an edge fan-out router (today's `npm start`);
 * - `cluster-1`: front door, ingest and edge in separate processes, one network pipe;
 * - `cluster-2`: ingest -> relay -> edge, two network pipes.
 *
 * Everything is on loopback, so it shows the processing and signalling the hops add, not a
 * network's. Prints a Markdown table; writes nothing.
 */
import { parseArgs } from 'node:util';
import { LocalCluster, startLocalPlatform } from '@wisp/server';
import { WrtcPublisher } from '../peers/WrtcPublisher.ts';
import { WrtcViewer } from '../peers/WrtcViewer.ts';
import { measureLatency } from '../latency/probe.ts';
import type { LatencyPlatform } from '../latency/platform.ts';

const { values } = parseArgs({
  options: {
    joins: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '10' },
    only: { type: 'string' },
  },
});
const joins = Number(values.joins);
const seconds = Number(values.seconds);

interface Topology {
  name: string;
  start(): Promise<LatencyPlatform>;
}

function clusterTopology(name: string, relays: number): Topology {
  return {
    name,
    async start() {
      const cluster = await LocalCluster.start({ edges: 1, relays, output: 'collect' });
      return {
        async createStream(streamName) {
          const response = await cluster.api('/api/streams', {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ name: streamName }),
          });
          return (await response.json()) as { whipUrl: string; whepUrl: string; streamKey: string };
        },
        stop: () => cluster.stop(),
      };
    },
  };
}

const topologies: Topology[] = [
  {
    name: 'single',
    async start() {
      const platform = await startLocalPlatform({ MEDIASOUP_WORKERS: '2' });
      return { createStream: (n) => platform.createStream(n), stop: () => platform.stop() };
    },
  },
  clusterTopology('cluster-1', 0),
  clusterTopology('cluster-2', 1),
];

async function timeToFirstFrame(platform: LatencyPlatform): Promise<number[]> {
  const stream = await platform.createStream('ttff');
  const publisher = await WrtcPublisher.start({
    whipUrl: stream.whipUrl,
    streamKey: stream.streamKey,
  });
  try {
    await publisher.waitConnected(15_000);
    const results: number[] = [];
    for (let i = -1; i < joins; i++) {
      let viewer: WrtcViewer | undefined;
      for (let attempt = 0; !viewer; attempt++) {
        viewer = await WrtcViewer.start({ whepUrl: stream.whepUrl }).catch((error: unknown) => {
          if (attempt > 50) throw error;
          return new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 200));
        });
      }
      await viewer.waitForFrames(1, 15_000);
      // The first join (i = -1) warms up the pipe and is not counted; the stream stays
      // pulled (linger) for the later ones, as for viewers arriving at a live stream.
      if (i >= 0) results.push(viewer.timeToFirstFrameMs!);
      await viewer.close();
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return results;
  } finally {
    await publisher.close();
  }
}

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const rows: string[] = [];
const only = values.only?.split(',');
for (const topology of topologies.filter((t) => !only || only.includes(t.name))) {
  process.stderr.write(`${topology.name}: time to first frame over ${joins} joins\n`);
  const platform = await topology.start();
  let ttff: number[];
  try {
    ttff = await timeToFirstFrame(platform);
  } finally {
    await platform.stop();
  }
  process.stderr.write(`${topology.name}: latency over ${seconds} s\n`);
  const latency = await measureLatency({
    path: 'edge',
    durationMs: seconds * 1000,
    startPlatform: () => topology.start(),
  });
  rows.push(
    `| ${topology.name} | ${pct(ttff, 50).toFixed(0)} | ${pct(ttff, 95).toFixed(0)} | ` +
      `${Math.max(...ttff).toFixed(0)} | ${latency.summary.p50.toFixed(1)} | ` +
      `${latency.summary.p95.toFixed(1)} | ${latency.summary.count} |`,
  );
}
process.stdout.write(
  [
    `time to first frame (${joins} joins) and glass-to-glass latency (${seconds} s), loopback`,
    '',
    '| topology | TTFF p50 ms | TTFF p95 ms | TTFF max ms | latency p50 ms | latency p95 ms | frames |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n'),
);
// libwebrtc's native finalizers can crash at exit; everything is closed by now.
process.exit(0);
