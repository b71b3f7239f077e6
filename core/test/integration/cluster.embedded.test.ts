import { describe, expect, it } from 'vitest';
import {
  createCluster,
  createEmbeddedCluster,
  EmbeddedClusterState,
  EmbeddedControlBus,
  EmbeddedNodeRegistry,
  EmbeddedStreamRegistry,
} from '../../src/cluster/index.ts';
import { configureLogging } from '../../src/logger.ts';
import { describeCluster } from '../support/clusterSuite.ts';

configureLogging('silent');

let currentState = new EmbeddedClusterState();
describeCluster('embedded', {
  create() {
    currentState = new EmbeddedClusterState();
    return createCluster({ kind: 'embedded', state: currentState });
  },
  second: () => createCluster({ kind: 'embedded', state: currentState }),
});

describe('embedded cluster', () => {
  it('is what createCluster picks for the embedded kind', async () => {
    const cluster = await createCluster({ kind: 'embedded' });
    expect(cluster.nodes).toBeInstanceOf(EmbeddedNodeRegistry);
    expect(cluster.streams).toBeInstanceOf(EmbeddedStreamRegistry);
    expect(cluster.bus).toBeInstanceOf(EmbeddedControlBus);
    await cluster.close();
    await cluster.close();
  });

  it('keeps separate states apart', async () => {
    const a = createEmbeddedCluster();
    const b = createEmbeddedCluster();
    await a.streams.claim('s1', 'node-a', 10_000);
    expect(await b.streams.owner('s1')).toBeUndefined();
    expect((await b.streams.claim('s1', 'node-b', 10_000)).epoch).toBe(1);
    await Promise.all([a.close(), b.close()]);
  });

  it('drops expired entries from memory on read', async () => {
    const cluster = createEmbeddedCluster();
    await cluster.nodes.heartbeat(
      {
        id: 'node-a',
        roles: ['edge'],
        url: 'https://a.example.com',
        internalUrl: 'http://a.internal',
        region: 'eu',
        state: 'serving',
        pid: 1,
        load: { viewers: 0, streams: 0, egressKbps: 0, cpu: 0 },
      },
      50,
    );
    await cluster.streams.claim('s1', 'node-a', 50);
    await cluster.streams.putCopy(
      's1',
      { node: 'edge-a', parent: 'node-a', viewers: 0, hops: 1 },
      50,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    await cluster.nodes.list();
    await cluster.streams.owners();
    await cluster.streams.copies('s1');
    expect(cluster.state.nodes.size).toBe(0);
    expect(cluster.state.owners.size).toBe(0);
    expect(cluster.state.copies.size).toBe(0);
    // The epoch counter stays, so a later claim still goes up.
    expect(cluster.state.epochs.get('s1')).toBe(1);
    await cluster.close();
  });
});
