/**
 * A real cluster: redis-server and every role in its own process (LocalCluster, what `npm run
 * cluster` runs), real WebRTC peers. The publisher and viewers talk only to the front door
 * and follow its redirects; media crosses real PipeTransports between the processes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NdcViewer, ObsLikePublisher } from '@wisp/loadtest';
import { LocalCluster } from '../../src/cluster/LocalCluster.ts';
import { closeAll, closers, createStream, getStream, publish, view } from '../support/cluster.ts';
import { sdpFixture } from '../support/fixtures.ts';

afterEach(closeAll);

describe('cluster: front door, ingest and edges in separate processes', () => {
  let cluster: LocalCluster;
  beforeAll(async () => {
    cluster = await LocalCluster.start({
      edges: 2,
      output: 'collect',
      env: { LOG_LEVEL: 'info' },
    });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('lists every node with its role, url, pid and load', async () => {
    const response = await cluster.api('/api/nodes');
    expect(response.status).toBe(200);
    const { nodes } = (await response.json()) as {
      nodes: { id: string; roles: string[]; url: string; pid: number; lastSeenMs: number }[];
    };
    expect(nodes.map((n) => n.id).sort()).toEqual(['edge-1', 'edge-2', 'front', 'ingest-1']);
    for (const node of nodes) {
      const local = cluster.node(node.id);
      expect(node.url).toBe(local.url);
      expect(node.pid).toBe(local.process.pid);
      expect(node.lastSeenMs).toBeLessThan(5000);
    }
    expect(nodes.find((n) => n.id === 'front')!.roles).toEqual(['control', 'egress']);
  });

  it('publishes through the front door to the ingest, and plays from an edge (one hop)', async () => {
    const stream = await createStream(cluster);
    expect(stream.whipUrl).toBe(`${cluster.frontDoor}/whip`);
    const publisher = await publish(stream);
    const viewer = await view(stream.whepUrl);
    await viewer.waitForFrames(10, 15_000);
    const edgeUrls = ['edge-1', 'edge-2'].map((id) => cluster.node(id).url);
    expect(edgeUrls.some((url) => viewer.location?.startsWith(`${url}/whep/`))).toBe(true);
    const view1 = await getStream(cluster, stream.id);
    expect(view1.live).toBe(true);
    expect(view1.ingestNode).toBe('ingest-1');
    expect(view1.distribution?.map((d) => d.parent)).toEqual(['ingest-1']);
    expect(view1.media?.tracks.length).toBeGreaterThan(0);
    await publisher.close();
    await expect
      .poll(async () => (await getStream(cluster, stream.id)).live, { timeout: 5000 })
      .toBe(false);
  });

  it('carries every simulcast layer of an OBS-like publisher across the pipe', async () => {
    const stream = await createStream(cluster, 'simulcast');
    const publisher = await ObsLikePublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
      simulcastLayers: 3,
      videoBitrateKbps: 1500,
    });
    closers.push(() => publisher.close());
    await publisher.waitConnected(15_000);
    let viewer: NdcViewer | undefined;
    for (let i = 0; !viewer && i < 50; i++) {
      viewer = await NdcViewer.start({ whepUrl: stream.whepUrl }).catch(async () => {
        await new Promise((resolve) => setTimeout(resolve, 200));
        return undefined;
      });
    }
    closers.push(() => viewer?.close());
    await viewer!.waitForPackets('video', 50, 15_000);
    const edge = ['edge-1', 'edge-2'].find((id) =>
      cluster.node(id).output().includes(`"streamId":"${stream.id}"`),
    )!;
    const pulled = cluster
      .node(edge)
      .output()
      .split('\n')
      .find((line) => line.includes('"stream pulled"') && line.includes(stream.id))!;
    expect(JSON.parse(pulled).encodings).toEqual({ audio: 1, video: 3 });
  });

  it('refuses internal calls without the cluster secret, and forged or foreign tickets', async () => {
    const ingest = cluster.node('ingest-1').url;
    for (const headers of [{}, { Authorization: 'Bearer forged' }] as Record<string, string>[]) {
      const response = await fetch(`${ingest}/internal/streams/x/pipes`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify({ node: 'evil', srtp: false }),
      });
      expect(response.status).toBe(401);
    }
    const stream = await createStream(cluster, 'tickets');
    const redirect = await fetch(`${cluster.frontDoor}/whip`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${stream.streamKey}`, 'Content-Type': 'application/sdp' },
      body: 'v=0',
      redirect: 'manual',
    });
    expect(redirect.status).toBe(307);
    const location = new URL(redirect.headers.get('location')!);
    expect(location.origin).toBe(ingest);
    const ticket = location.searchParams.get('t')!;
    const forged = `${ticket.slice(0, -4)}AAAA`;
    const offer = (t: string, target = `${ingest}/whip`) =>
      fetch(`${target}?t=${t}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/sdp' },
        body: 'v=0\r\n',
      });
    expect((await offer(forged)).status).toBe(401);
    // A ticket for the ingest is refused by an edge (audience), and a bad key at the front door.
    const edge = cluster.node('edge-1').url;
    expect((await offer(ticket, `${edge}/whep/${stream.id}`)).status).toBe(403);
    const badKey = await fetch(`${cluster.frontDoor}/whip`, {
      method: 'POST',
      headers: { Authorization: 'Bearer nope', 'Content-Type': 'application/sdp' },
      body: 'v=0',
      redirect: 'manual',
    });
    expect(badKey.status).toBe(401);
    // Node's fetch follows the 307 itself and drops Authorization on the way to the other
    // origin: the ticket in the Location is what lets the publish through.
    const followed = await fetch(`${cluster.frontDoor}/whip`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${stream.streamKey}`, 'Content-Type': 'application/sdp' },
      body: sdpFixture('f2-browser'),
    });
    expect(followed.status).toBe(201);
    expect(followed.url.startsWith(`${ingest}/whip?t=`)).toBe(true);
    expect(followed.headers.get('location')!.startsWith(`${ingest}/whip/`)).toBe(true);
    await fetch(followed.headers.get('location')!, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${stream.streamKey}` },
    });
  });
});

describe('cluster with a relay tier: ingest -> relay -> edge', () => {
  let cluster: LocalCluster;
  beforeAll(async () => {
    cluster = await LocalCluster.start({ edges: 1, relays: 1, output: 'collect' });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('plays two hops away, and the tree shows the relay', async () => {
    const stream = await createStream(cluster);
    await publish(stream);
    const viewer = await view(stream.whepUrl);
    await viewer.waitForFrames(10, 15_000);
    expect(viewer.location?.startsWith(`${cluster.node('edge-1').url}/`)).toBe(true);
    await expect
      .poll(async () => (await getStream(cluster, stream.id)).distribution, { timeout: 5000 })
      .toEqual(
        expect.arrayContaining([
          { node: 'relay-1', parent: 'ingest-1', viewers: 0 },
          expect.objectContaining({ node: 'edge-1', parent: 'relay-1' }),
        ]),
      );
  });
});
