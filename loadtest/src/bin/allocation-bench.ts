/**
 * `npm run bench:allocation [-- --viewers N --concurrency C]`: where N viewers land on three
 * edges under each ALLOCATION_POLICY, in a real cluster (LocalCluster: redis-server, a front
 * door per policy, one ingest, three edges, each its own process).
 *
 * The viewers are WHEP sessions that stop after signalling (POST offer -> 307 -> 201 from an
 * edge; they never do ICE): placement is decided at the POST, and 200 real peers do not fit
 * on this 2-core machine beside three edges. They arrive in a burst (C at a time), so the
 * front door places many between two heartbeats and its own pending counts are what keeps
 * them apart. Two scenarios, each with 4 published streams (libwebrtc publishers):
 *
 * - `levels 50/100`: NODE_SOFT_VIEWERS=50, NODE_HARD_VIEWERS=100, all viewers on one stream:
 *   the carrying preference up to soft, new pulls, then up to hard, then 503;
 * - `default levels`: the defaults (280/360 for one worker), viewers spread over the 4
 *   streams in turn.
 *
 * Prints a Markdown table per scenario: viewers per edge as the edges report them, refused
 * (503) and the time to place them all.
 */
import { parseArgs } from 'node:util';
import { LocalCluster, type LocalNode } from '@wisp/server';
import { sdpFixture } from '../../../server/test/support/fixtures.ts';
import { WrtcPublisher } from '../peers/WrtcPublisher.ts';
import { waitUntil } from '../peers/timing.ts';

const { values } = parseArgs({
  options: {
    viewers: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '4' },
  },
});
const viewers = Number(values.viewers);
const concurrency = Number(values.concurrency);
const POLICIES = ['least-used', 'packing', 'round-robin', 'random'] as const;
const EDGES = ['edge-1', 'edge-2', 'edge-3'];
const offer = sdpFixture('w1-whep-browser');

interface Scenario {
  name: string;
  env: Record<string, string>;
  /** Which of the 4 streams viewer i watches. */
  streamOf: (i: number) => number;
}

const scenarios: Scenario[] = [
  {
    name: 'levels 50/100, one stream',
    env: { NODE_SOFT_VIEWERS: '50', NODE_HARD_VIEWERS: '100' },
    streamOf: () => 0,
  },
  { name: 'default levels, 4 streams in turn', env: {}, streamOf: (i) => i % 4 },
];

interface Outcome {
  policy: string;
  perEdge: number[];
  refused: number;
  errors: number;
  seconds: number;
}

async function edgeViewers(cluster: LocalCluster): Promise<number[]> {
  const { nodes } = (await (await cluster.api('/api/nodes')).json()) as {
    nodes: { id: string; load: { viewers: number } }[];
  };
  return EDGES.map((id) => nodes.find((n) => n.id === id)?.load.viewers ?? -1);
}

async function runPolicy(
  cluster: LocalCluster,
  front: LocalNode,
  streamIds: string[],
  scenario: Scenario,
): Promise<Outcome & { sessions: string[] }> {
  const sessions: string[] = [];
  let refused = 0;
  let errors = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < viewers) {
        const i = next++;
        const response = await fetch(`${front.url}/whep/${streamIds[scenario.streamOf(i)]}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/sdp' },
          body: offer,
        }).catch(() => undefined);
        await response?.text();
        if (response?.status === 201) {
          sessions.push(new URL(response.headers.get('location')!, response.url).href);
        } else if (response?.status === 503) refused++;
        else errors++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  // The edges' own count, once a heartbeat has carried it.
  await waitUntil(
    async () => (await edgeViewers(cluster)).reduce((a, b) => a + b, 0) === sessions.length,
    15_000,
    'the registry to show every session',
    200,
  );
  return { policy: '', perEdge: await edgeViewers(cluster), refused, errors, seconds, sessions };
}

const report: string[] = [];
for (const scenario of scenarios) {
  process.stderr.write(`${scenario.name}: starting the cluster\n`);
  const cluster = await LocalCluster.start({
    edges: 3,
    output: 'collect',
    env: {
      ...scenario.env,
      SESSION_CONNECT_TIMEOUT_MS: '600000',
      EDGE_LINGER_MS: '0',
    },
  });
  const publishers: WrtcPublisher[] = [];
  try {
    const fronts: Record<string, LocalNode> = { 'least-used': cluster.node('front') };
    for (const policy of POLICIES.slice(1)) {
      fronts[policy] = await cluster.startNode({
        kind: 'front',
        id: `front-${policy}`,
        env: { ALLOCATION_POLICY: policy },
      });
    }
    const streamIds: string[] = [];
    for (let s = 0; s < 4; s++) {
      const created = (await (
        await cluster.api('/api/streams', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ name: `alloc-${s}` }),
        })
      ).json()) as { id: string; whipUrl: string; streamKey: string };
      const publisher = await WrtcPublisher.start({
        whipUrl: created.whipUrl,
        streamKey: created.streamKey,
      });
      publishers.push(publisher);
      await publisher.waitConnected(15_000);
      streamIds.push(created.id);
    }
    await waitUntil(
      async () => {
        for (const id of streamIds) {
          const view = (await (await cluster.api(`/api/streams/${id}`)).json()) as {
            live: boolean;
          };
          if (!view.live) return false;
        }
        return true;
      },
      15_000,
      'every stream live',
      200,
    );
    const outcomes: Outcome[] = [];
    for (const policy of POLICIES) {
      process.stderr.write(`${scenario.name}: ${policy}\n`);
      const outcome = await runPolicy(cluster, fronts[policy], streamIds, scenario);
      outcomes.push({ ...outcome, policy });
      for (const location of outcome.sessions) {
        await fetch(location, { method: 'DELETE' }).catch(() => undefined);
      }
      await waitUntil(
        async () => (await edgeViewers(cluster)).every((v) => v === 0),
        15_000,
        'the edges to empty',
        200,
      );
    }
    report.push(
      `### ${scenario.name}`,
      '',
      '| policy | edge-1 | edge-2 | edge-3 | refused (503) | other errors | placed in s |',
      '|---|---|---|---|---|---|---|',
      ...outcomes.map(
        (o) =>
          `| ${o.policy} | ${o.perEdge.join(' | ')} | ${o.refused} | ${o.errors} | ${o.seconds.toFixed(1)} |`,
      ),
      '',
    );
  } finally {
    for (const publisher of publishers) await publisher.close().catch(() => undefined);
    await cluster.stop();
  }
}
process.stdout.write(
  [
    `${viewers} WHEP viewers (signalling only), ${concurrency} at a time, over 3 edges`,
    '',
    ...report,
  ].join('\n'),
);
// libwebrtc's native finalizers can crash at exit; everything is closed by now.
process.exit(0);
