/**
 * /metrics and /readyz across a real cluster (LocalCluster: redis-server, a front door, an
 * ingest and two edges, each its own process), with libwebrtc peers through the front door:
 * every node serves its own metrics, and summed over nodes they are the cluster's totals.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WrtcViewer } from '@wisp/loadtest';
import { LocalCluster } from '../../src/cluster/LocalCluster.ts';
import { scrape, type Scrape } from '../../../core/test/unit/prometheus.ts';
import { closeAll, createStream, publish, view } from '../support/cluster.ts';

afterEach(closeAll);

const NODES = ['front', 'ingest-1', 'edge-1', 'edge-2'];
const EDGES = ['edge-1', 'edge-2'];
const VIEWERS = 4;

describe('cluster metrics', () => {
  let cluster: LocalCluster;
  beforeAll(async () => {
    cluster = await LocalCluster.start({ edges: 2, output: 'collect' });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  async function scrapeAll(ids = NODES): Promise<Map<string, Scrape>> {
    const entries = await Promise.all(
      ids.map(async (id) => [id, await scrape(cluster.node(id).url)] as const),
    );
    return new Map(entries);
  }

  const total = (scrapes: Map<string, Scrape>, name: string, labels = {}) =>
    [...scrapes.values()].reduce((sum, s) => sum + s.sum(name, labels), 0);

  it('every node serves its own metrics; summed over nodes they are the totals', async () => {
    const before = await scrapeAll();
    for (const id of NODES) {
      const node = before.get(id)!;
      const [info] = node.samples('wisp_node_info');
      expect(info.labels.node).toBe(id);
      expect(info.labels.roles).toBe(id === 'front' ? 'control,egress' : id.replace(/-\d$/, ''));
      expect(node.value('wisp_redis_up')).toBe(1);
    }
    // Only media nodes have mediasoup workers.
    expect(before.get('front')!.samples('wisp_worker_cpu_ratio')).toEqual([]);
    expect(before.get('edge-1')!.samples('wisp_worker_cpu_ratio')).toHaveLength(1);

    const stream = await createStream(cluster, 'metrics');
    await publish(stream);
    const viewers: WrtcViewer[] = [];
    for (let i = 0; i < VIEWERS; i++) viewers.push(await view(stream.whepUrl));
    await Promise.all(viewers.map((v) => v.waitForFrames(5, 15_000)));

    const during = await scrapeAll();
    const onEdge = (id: string) =>
      viewers.filter((v) => v.location?.startsWith(`${cluster.node(id).url}/`)).length;
    for (const id of EDGES) expect(during.get(id)!.value('wisp_viewers')).toBe(onEdge(id));
    expect(total(during, 'wisp_viewers')).toBe(VIEWERS);
    expect(during.get('front')!.value('wisp_viewers')).toBe(0);
    expect(during.get('ingest-1')!.value('wisp_viewers')).toBe(0);

    // The stream is live once, on the ingest; each edge with viewers carries a pulled copy.
    expect(total(during, 'wisp_streams_live')).toBe(1);
    expect(during.get('ingest-1')!.value('wisp_streams_live')).toBe(1);
    const carrying = EDGES.filter((id) => onEdge(id) > 0);
    for (const id of EDGES) {
      expect(during.get(id)!.value('wisp_streams_carried')).toBe(onEdge(id) > 0 ? 1 : 0);
    }
    // Every pipe out of the ingest is a pipe into an edge.
    expect(during.get('ingest-1')!.value('wisp_pipes', { direction: 'out' })).toBe(carrying.length);
    expect(total(during, 'wisp_pipes', { direction: 'in' })).toBe(carrying.length);

    // Sessions are counted where they are created, not at the front door's redirect.
    const created = (s: Map<string, Scrape>, name: string) => total(s, name, { result: 'created' });
    expect(
      created(during, 'wisp_view_sessions_total') - created(before, 'wisp_view_sessions_total'),
    ).toBe(VIEWERS);
    expect(during.get('front')!.value('wisp_view_sessions_total', { result: 'created' })).toBe(0);
    expect(
      during.get('ingest-1')!.value('wisp_publish_sessions_total', { result: 'created' }),
    ).toBe(1);
    expect(during.get('front')!.sum('wisp_publish_sessions_total')).toBe(0);
    const redirects = during.get('front')!.samples('wisp_http_requests_total', {
      method: 'POST',
      route: '/whep/:streamId',
      status: '307',
    });
    // (At least: a viewer retries while the registry does not see the stream live yet.)
    expect(redirects.reduce((n, s) => n + s.value, 0)).toBeGreaterThanOrEqual(VIEWERS);

    // The media crosses network pipes: the ingest sends on them, the edges receive.
    await expect
      .poll(
        async () =>
          (await scrape(cluster.node('ingest-1').url)).value('wisp_egress_bits_per_second', {
            via: 'pipe',
          }),
        { timeout: 5000 },
      )
      .toBeGreaterThan(10_000);
    const flowing = await scrapeAll(carrying);
    for (const id of carrying) {
      expect(
        flowing.get(id)!.value('wisp_ingress_bits_per_second', { via: 'pipe' }),
      ).toBeGreaterThan(10_000);
    }
  });

  it('wisp_redis_up and /readyz follow Redis going down and coming back', async () => {
    const readyz = async (id: string) => (await fetch(`${cluster.node(id).url}/readyz`)).status;
    for (const id of NODES) expect(await readyz(id)).toBe(200);
    await cluster.redis.down();
    try {
      for (const id of NODES) {
        await expect
          .poll(async () => (await scrape(cluster.node(id).url)).value('wisp_redis_up'), {
            timeout: 10_000,
          })
          .toBe(0);
        const response = await fetch(`${cluster.node(id).url}/readyz`);
        expect(response.status).toBe(503);
        const body = (await response.json()) as {
          ready: boolean;
          checks: Record<string, { ok: boolean }>;
        };
        expect(body.ready).toBe(false);
        expect(body.checks.store).toEqual({ ok: false, kind: 'redis' });
        expect(body.checks.node.ok).toBe(true);
        // Liveness does not depend on Redis.
        expect((await fetch(`${cluster.node(id).url}/healthz`)).status).toBe(200);
      }
    } finally {
      await cluster.redis.up();
    }
    for (const id of NODES) {
      await expect
        .poll(async () => (await scrape(cluster.node(id).url)).value('wisp_redis_up'), {
          timeout: 15_000,
        })
        .toBe(1);
      await expect.poll(() => readyz(id), { timeout: 5000 }).toBe(200);
    }
  });
});
