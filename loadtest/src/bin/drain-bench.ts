/**
 * `npm run bench:drain [-- --viewers N --spread MS --grace MS --mode events,plain]`: how long
 * a drained edge's viewers take to be back. A LocalCluster (redis-server, front door, one
 * ingest, three edges, each its own process on loopback), a libwebrtc publisher, N libwebrtc
 * viewers that decode, all started on edge-1; then `POST /api/nodes/edge-1/drain`.
 *
 * - `events`: the viewers follow the WHEP `reconnect` event make-before-break (as the web
 *   player does); "back" is from the event to the new session's first decoded frame.
 * - `plain`: clients without the events extension: the edge closes them and they POST the
 *   front door again when they notice (connection closed, or no frame for 2 s); "back" is
 *   from noticing to the new session's first frame.
 *
 * For both, the "gap" is what the viewer saw: the time from its last decoded frame on edge-1
 * to its first on the new edge (make-before-break: about a frame interval). The longest gap
 * over the whole run is printed too: it also counts pauses of this process (its publisher
 * and decoders run here, a GC pause stops them all), which are not the drain's.
 *
 * Prints median and max of each, when the last viewer was back, when edge-1 exited, and
 * where the viewers went. Everything is on one machine (2 cores here): the viewers' decoders
 * compete with the nodes for CPU. Writes nothing.
 */
import { parseArgs } from 'node:util';
import { LocalCluster } from '@wisp/server';
import { WrtcPublisher } from '../peers/WrtcPublisher.ts';
import { WrtcViewer } from '../peers/WrtcViewer.ts';

const { values } = parseArgs({
  options: {
    viewers: { type: 'string', default: '24' },
    spread: { type: 'string', default: '10000' },
    grace: { type: 'string', default: '5000' },
    mode: { type: 'string', default: 'events,plain' },
  },
});
const viewerCount = Number(values.viewers);
const modes = values.mode.split(',') as ('events' | 'plain')[];

interface Result {
  mode: string;
  viewers: number;
  moved: number;
  backMs: number[];
  gapMs: number[];
  longestGapMs: number[];
  lastMovedMs: number;
  exitMs: number | undefined;
  exitCode: number | null | undefined;
  placement: Record<string, number>;
  /** CPU of this process (publisher and viewers) while the viewers moved, in cores. */
  benchCpu: number;
}

function stats(values: number[]): string {
  if (values.length === 0) return 'n/a';
  const sorted = [...values].sort((a, b) => a - b);
  return `${sorted[Math.floor(sorted.length / 2)].toFixed(0)} / ${sorted.at(-1)!.toFixed(0)}`;
}

async function run(mode: 'events' | 'plain'): Promise<Result> {
  const cluster = await LocalCluster.start({
    edges: 3,
    output: 'collect',
    env: {
      DRAIN_SPREAD_MS: values.spread,
      DRAIN_GRACE_MS: values.grace,
      DRAIN_TIMEOUT_MS: '60000',
    },
  });
  const viewers: WrtcViewer[] = [];
  let publisher: WrtcPublisher | undefined;
  try {
    const created = await cluster.api('/api/streams', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'drain bench' }),
    });
    const stream = (await created.json()) as {
      id: string;
      whipUrl: string;
      whepUrl: string;
      streamKey: string;
    };
    publisher = await WrtcPublisher.start({ whipUrl: stream.whipUrl, streamKey: stream.streamKey });
    await publisher.waitConnected(15_000);
    const edge1 = cluster.node('edge-1');
    for (let i = 0; i < viewerCount; i++) {
      for (let attempt = 0; ; attempt++) {
        try {
          viewers.push(
            await WrtcViewer.start({
              whepUrl: stream.whepUrl,
              startUrl: `${edge1.url}/whep/${stream.id}`,
              follow: mode === 'events' ? true : { reconnect: false },
              // Video only: an audio sink calls into JS every 10 ms per viewer, and with
              // make-before-break this one process holds two sessions per moving viewer.
              audio: false,
            }),
          );
          break;
        } catch (error) {
          // The stream is live in the registry a moment after the publisher connects.
          if (attempt > 20) throw error;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
    }
    await Promise.all(viewers.map((v) => v.waitForFrames(20, 30_000)));
    // A quiet moment, so the joins' keyframes and CPU do not count against the drain.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    for (const v of viewers) v.resetLongestFrameGap();
    const drainedAt = performance.now();
    const cpuBefore = process.cpuUsage();
    const response = await cluster.api('/api/nodes/edge-1/drain', { method: 'POST' });
    if (response.status !== 202) throw new Error(`drain: HTTP ${response.status}`);
    const deadline = Date.now() + Number(values.spread) + Number(values.grace) + 30_000;
    while (viewers.some((v) => v.moves.length === 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const cpu = process.cpuUsage(cpuBefore);
    const benchCpu = (cpu.user + cpu.system) / 1000 / (performance.now() - drainedAt);
    const exit = await Promise.race([
      edge1.exited.then((code) => ({ code, ms: performance.now() - drainedAt })),
      new Promise<undefined>((resolve) => setTimeout(resolve, 30_000)),
    ]);
    // Some more seconds on the new edges, so a gap right after the move is counted too.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const moved = viewers.filter((v) => v.moves.length > 0);
    const placement: Record<string, number> = {};
    for (const v of viewers) {
      const node = [...cluster.nodes.values()].find((n) => v.location?.startsWith(`${n.url}/`));
      const id = node?.spec.id ?? 'none';
      placement[id] = (placement[id] ?? 0) + 1;
    }
    return {
      mode,
      viewers: viewers.length,
      moved: moved.length,
      backMs: moved.map((v) => v.moves[0].backMs),
      gapMs: moved.map((v) => v.moves[0].gapMs),
      longestGapMs: moved.map((v) => v.longestFrameGapMs),
      lastMovedMs: Math.max(
        ...moved.map((v) => v.moves[0].startedAt + v.moves[0].backMs - drainedAt),
      ),
      exitMs: exit?.ms,
      exitCode: exit?.code,
      placement,
      benchCpu,
    };
  } finally {
    for (const v of viewers) await v.close().catch(() => undefined);
    await publisher?.close().catch(() => undefined);
    await cluster.stop();
  }
}

const results: Result[] = [];
for (const mode of modes) {
  process.stderr.write(`drain bench: ${mode}, ${viewerCount} viewers on edge-1...\n`);
  const result = await run(mode);
  const list = (values: number[]) =>
    [...values]
      .sort((a, b) => a - b)
      .map((v) => v.toFixed(0))
      .join(' ');
  process.stderr.write(
    `  back (ms): ${list(result.backMs)}\n  gap (ms): ${list(result.gapMs)}\n` +
      `  longest gap in the run (ms): ${list(result.longestGapMs)}\n` +
      `  this process (publisher + viewers) used ${result.benchCpu.toFixed(2)} cores meanwhile\n`,
  );
  results.push(result);
}
const rows = results.map(
  (r) =>
    `| ${r.mode} | ${r.moved}/${r.viewers} | ${stats(r.backMs)} | ${stats(r.gapMs)} | ${stats(r.longestGapMs)} | ` +
    `${(r.lastMovedMs / 1000).toFixed(1)} s | ${r.exitMs === undefined ? 'no exit' : `${(r.exitMs / 1000).toFixed(1)} s (${r.exitCode})`} | ` +
    `${Object.entries(r.placement)
      .map(([node, n]) => `${node}: ${n}`)
      .join(', ')} |`,
);
process.stdout.write(
  [
    '',
    `Drain of edge-1 with ${viewerCount} libwebrtc viewers (DRAIN_SPREAD_MS=${values.spread}, DRAIN_GRACE_MS=${values.grace})`,
    '',
    '| viewers | moved | back, median / max (ms) | gap: last frame on edge-1 to first on the new edge, median / max (ms) | longest gap in the run, median / max (ms) | last one back | edge-1 exited (code) | where they went |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    '"back": events, from the reconnect event to the new session\'s first decoded frame; plain, from noticing the close to it.',
    '',
  ].join('\n'),
);
// libwebrtc's native finalizers can crash at exit; everything is closed by now.
process.exit(0);
