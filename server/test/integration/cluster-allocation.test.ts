/**
 * Allocation in a real cluster (LocalCluster: redis-server and every node its own process):
 * where the front door sends viewers under each ALLOCATION_POLICY, region affinity, the soft
 * and hard levels (lowered so a handful of viewers reach them), and 503 + Retry-After when
 * every edge is full. One front door per policy, all on the same registry.
 *
 * Viewers of the policy tests are real WebRTC peers (libdatachannel) that receive media, and
 * each is placed after the registry shows the previous one (a heartbeat later), so the
 * expected placements are exact. The region and "full" test uses WHEP sessions that never
 * do ICE (they count as viewers from their 201 until SESSION_CONNECT_TIMEOUT_MS), so twelve
 * of them cost nothing but signalling. (Placements between two heartbeats are the
 * Allocator's pending counts: unit-tested, and measured by `npm run bench:allocation`.)
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NdcViewer } from '@wisp/loadtest';
import { LocalCluster, type LocalNode } from '../../src/cluster/LocalCluster.ts';
import {
  closeAll,
  closers,
  createStream,
  getStream,
  publish,
  type CreatedStream,
} from '../support/cluster.ts';
import { sdpFixture } from '../support/fixtures.ts';
import { scrape } from '../../../core/test/unit/prometheus.ts';

afterEach(closeAll);

const EDGES = ['edge-1', 'edge-2', 'edge-3'];
const SOFT = 3;
const HARD = 4;

interface NodeEntry {
  id: string;
  state: string;
  region: string;
  load: { viewers: number };
}

describe('allocation: policies, regions and limits across real processes', () => {
  let cluster: LocalCluster;
  const fronts: Record<string, LocalNode> = {};
  let a: CreatedStream;
  let b: CreatedStream;
  const publishers: (() => unknown)[] = [];

  beforeAll(async () => {
    cluster = await LocalCluster.start({
      edges: 3,
      output: 'collect',
      env: {
        NODE_SOFT_VIEWERS: String(SOFT),
        NODE_HARD_VIEWERS: String(HARD),
        // Pulls end with their last viewer, so each policy starts from edges carrying nothing.
        EDGE_LINGER_MS: '0',
        NODE_HEARTBEAT_MS: '750',
        // The region test's sessions never do ICE; they must outlive the test.
        SESSION_CONNECT_TIMEOUT_MS: '120000',
      },
      nodes: {
        'edge-1': { env: { REGION: 'eu' } },
        'edge-2': { env: { REGION: 'eu' } },
        'edge-3': { env: { REGION: 'us' } },
      },
    });
    for (const policy of ['packing', 'round-robin', 'random']) {
      fronts[policy] = await cluster.startNode({
        kind: 'front',
        id: `front-${policy}`,
        env: { ALLOCATION_POLICY: policy },
      });
    }
    fronts['least-used'] = cluster.node('front');
    fronts.eu = await cluster.startNode({
      kind: 'front',
      id: 'front-eu',
      env: { REGION: 'eu', REGION_HEADER: 'x-region' },
    });
    await cluster.waitForNodes(4 + 5);
  }, 120_000);
  afterAll(async () => {
    for (const close of publishers) await close();
    await cluster?.stop();
  });

  async function nodes(): Promise<NodeEntry[]> {
    return ((await (await cluster.api('/api/nodes')).json()) as { nodes: NodeEntry[] }).nodes;
  }

  /** Waits until the registry shows exactly these viewer counts on the edges. */
  async function registryShows(expected: Record<string, number>): Promise<void> {
    await expect
      .poll(
        async () =>
          Object.fromEntries(
            (await nodes()).filter((n) => EDGES.includes(n.id)).map((n) => [n.id, n.load.viewers]),
          ),
        { timeout: 10_000, interval: 100 },
      )
      .toEqual(Object.fromEntries(EDGES.map((id) => [id, expected[id] ?? 0])));
  }

  function edgeOf(url: string | undefined): string {
    const id = EDGES.find((e) => url?.startsWith(`${cluster.node(e).url}/`));
    if (!id) throw new Error(`${url} is on no edge`);
    return id;
  }

  /** Real viewers of `sequence` through `front`, one at a time; the edge each landed on. */
  async function place(front: LocalNode, sequence: CreatedStream[]): Promise<string[]> {
    const landed: string[] = [];
    const counts: Record<string, number> = {};
    const viewers: NdcViewer[] = [];
    for (const stream of sequence) {
      const viewer = await NdcViewer.start({ whepUrl: `${front.url}/whep/${stream.id}` });
      viewers.push(viewer);
      closers.push(() => viewer.close());
      await viewer.waitForPackets('video', 5, 15_000);
      const edge = edgeOf(viewer.location);
      landed.push(edge);
      counts[edge] = (counts[edge] ?? 0) + 1;
      await registryShows(counts);
    }
    for (const viewer of viewers) await viewer.close();
    await registryShows({});
    return landed;
  }

  beforeAll(async () => {
    a = await createStream(cluster, 'a');
    b = await createStream(cluster, 'b');
    // Publishers for the whole file (closeAll runs after each test).
    for (const stream of [a, b]) {
      await publish(stream);
      publishers.push(closers.pop()!);
    }
    // Live in the registry: a viewer would get 409 before.
    const deadline = Date.now() + 10_000;
    for (const stream of [a, b]) {
      while (!(await getStream(cluster, stream.id)).live) {
        if (Date.now() > deadline) throw new Error(`${stream.id} never went live`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }, 60_000);

  // Viewers of a, a, b, b, b, b with soft 3 and hard 4 on three edges: the first two share
  // an edge under every policy (an edge carrying the stream is preferred below its soft level).
  it('least-used: the least loaded edge, the carrying one first', async () => {
    const landed = await place(fronts['least-used'], [a, a, b, b, b, b]);
    // Ties on viewers go to the lowest CPU (noise here), so the edges are named by role:
    // a on one edge; b on an empty one up to its soft level (3); then the third edge (0
    // viewers, fewer than a's 2) pulls b.
    const [first, , bEdge] = landed;
    const third = EDGES.find((e) => e !== first && e !== bEdge);
    expect(bEdge).not.toBe(first);
    expect(landed).toEqual([first, first, bEdge, bEdge, bEdge, third]);
  });

  it('packing: fills the busiest edge to its hard level before the next', async () => {
    const landed = await place(fronts.packing, [a, a, b, b, b, b]);
    // b joins edge-1 (the busiest below soft), which takes it to its hard level (4).
    expect(landed).toEqual(['edge-1', 'edge-1', 'edge-1', 'edge-1', 'edge-2', 'edge-2']);
  });

  it('round-robin: the next edge in turn among those that may take the viewer', async () => {
    const landed = await place(fronts['round-robin'], [a, a, b, b, b, b]);
    // a: edge-1 (turn 0), again (the only carrier); b: turn 2 -> edge-3 until its soft
    // level, then edge-2 (turn 5 of [edge-1, edge-2]).
    expect(landed).toEqual(['edge-1', 'edge-1', 'edge-3', 'edge-3', 'edge-3', 'edge-2']);
  });

  it('random: any edge that may take the viewer, never past a level', async () => {
    const landed = await place(fronts.random, [a, a, b, b, b, b]);
    expect(landed[1]).toBe(landed[0]);
    for (const edge of EDGES) {
      expect(landed.filter((l) => l === edge).length).toBeLessThanOrEqual(HARD);
      // There is always an edge below soft to pull b: no edge gets b past its soft level.
      expect(landed.slice(2).filter((l) => l === edge).length).toBeLessThanOrEqual(SOFT);
    }
    // b's second viewer joins its first, unless that edge was at its soft level already.
    if (landed[2] !== landed[0]) expect(landed[3]).toBe(landed[2]);
  });

  it('region affinity, then the soft and hard levels, then 503 + Retry-After', async () => {
    const front = fronts.eu;
    const offer = sdpFixture('w1-whep-browser');
    const sessions: string[] = [];
    const counts: Record<string, number> = {};
    closers.push(async () => {
      for (const location of sessions) await fetch(location, { method: 'DELETE' });
    });
    const join = async (
      query = '',
      headers: Record<string, string> = {},
    ): Promise<{ status: number; edge?: string; retryAfter?: string | null }> => {
      const response = await fetch(`${front.url}/whep/${a.id}${query}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/sdp', ...headers },
        body: offer,
      });
      await response.text();
      if (response.status !== 201) {
        return { status: response.status, retryAfter: response.headers.get('retry-after') };
      }
      const location = new URL(response.headers.get('location')!, response.url).href;
      sessions.push(location);
      const edge = edgeOf(response.url);
      counts[edge] = (counts[edge] ?? 0) + 1;
      // Placed one at a time, each after the registry shows the one before (exact counts).
      await registryShows(counts);
      return { status: 201, edge };
    };
    // The CDN's header says us: the us edge. A region query parameter works the same.
    expect((await join('', { 'x-region': 'us' })).edge).toBe('edge-3');
    expect((await join('?region=us')).edge).toBe('edge-3');
    // No region given: the front door's own (eu). edge-1 takes a to its soft level, then
    // edge-2 pulls it; then both, carrying it, up to their hard level.
    const eu: string[] = [];
    for (let i = 0; i < 2 * HARD; i++) eu.push((await join()).edge!);
    expect(eu.slice(0, 2 * SOFT).sort()).toEqual([
      ...Array<string>(SOFT).fill('edge-1'),
      ...Array<string>(SOFT).fill('edge-2'),
    ]);
    expect(eu.slice(2 * SOFT).sort()).toEqual(['edge-1', 'edge-2']);
    // eu is full: the us edge, up to its hard level.
    expect((await join()).edge).toBe('edge-3');
    expect((await join()).edge).toBe('edge-3');
    // Every edge at its hard level: 503 with a Retry-After, and nothing created.
    const full = await join();
    expect(full.status).toBe(503);
    expect(Number(full.retryAfter)).toBeGreaterThanOrEqual(1);
    const refusedAgain = await join('', { 'x-region': 'us' });
    expect(refusedAgain.status).toBe(503);
    expect(sessions).toHaveLength(2 + 2 * HARD + 2);
    await registryShows({ 'edge-1': HARD, 'edge-2': HARD, 'edge-3': HARD });
    // The edge refuses past its hard level itself too (a second front door a heartbeat behind).
    const direct = await fetch(`${cluster.node('edge-1').url}/whep/${a.id}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp' },
      body: offer,
    });
    expect(direct.status).toBe(503);
    expect(direct.headers.get('retry-after')).toMatch(/^\d+$/);
    // The front door counted each placement by its result.
    const metrics = await scrape(front.url);
    const allocations = (result: string) =>
      metrics.value('wisp_allocations_total', { kind: 'view', result });
    expect(allocations('redirected')).toBe(sessions.length);
    expect(allocations('full')).toBe(2);
    expect(allocations('unavailable')).toBe(0);
  });
});
