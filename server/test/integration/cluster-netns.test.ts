/**
 * The cluster across real network interfaces: front door, ingest and edge each in its own
 * network namespace with its own address (veth pairs on a bridge; Redis, the test's peers and
 * the lossy link in the root namespace). Pipes, announced addresses and SRTP on pipes are
 * exercised for real; then the ingest-edge link gets 20 ms of delay and 1 % loss each way
 * (a UDP relay of the test's own: the kernel has no netem) and the viewer must still decode
 * without visible loss, because NACK/RTX repair the pipe. Needs root, as CI has.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WrtcPublisher, WrtcViewer } from '@wisp/loadtest';
import { measureLatency } from '../../../loadtest/src/latency/probe.ts';
import type { StreamView } from '@wisp/core';
import { LocalCluster, freePort } from '../../src/cluster/LocalCluster.ts';
import { createNetwork, netnsAvailable, type Network } from '../support/netns.ts';
import { startLossyLink, type LossyLink } from '../support/lossyLink.ts';

const available = await netnsAvailable();

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) {
    await Promise.resolve(close()).catch(() => undefined);
  }
});

async function startCluster(net: Network, ingestEnv: Record<string, string> = {}, port?: number) {
  const place = (name: string) => ({ host: net.host(name).ip, wrap: net.host(name).wrap });
  const cluster = await LocalCluster.start({
    edges: 1,
    output: 'collect',
    redisHost: net.gateway,
    env: { LOG_LEVEL: 'info' },
    nodes: {
      front: place('front'),
      'ingest-1': { ...place('ingest'), env: ingestEnv, ...(port ? { port } : {}) },
      'edge-1': place('edge'),
    },
  });
  closers.push(() => cluster.stop());
  return cluster;
}

async function liveStream(cluster: LocalCluster) {
  const response = await cluster.api('/api/streams', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'netns' }),
  });
  const stream = (await response.json()) as StreamView & { streamKey: string };
  const publisher = await WrtcPublisher.start({
    whipUrl: stream.whipUrl,
    streamKey: stream.streamKey,
  });
  closers.push(() => publisher.close());
  await publisher.waitConnected(15_000);
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const viewer = await WrtcViewer.start({ whepUrl: stream.whepUrl });
      closers.push(() => viewer.close());
      return { stream, publisher, viewer };
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

describe.skipIf(!available)('cluster across network namespaces', () => {
  it('media crosses real interfaces: each node on its own address, SRTP on the pipe', async () => {
    const net = await createNetwork(['front', 'ingest', 'edge']);
    closers.push(() => net.destroy());
    const cluster = await startCluster(net);
    expect(cluster.frontDoor).toBe(
      `http://${net.host('front').ip}:${new URL(cluster.frontDoor).port}`,
    );
    const { publisher, viewer } = await liveStream(cluster);
    await viewer.waitForFrames(20, 20_000);
    console.info(
      `netns: first frame ${viewer.timeToFirstFrameMs?.toFixed(0)} ms after the WHEP POST`,
    );
    // Each side was told to reach its own node's address, nothing else.
    expect(publisher.answerSdp).toContain(` ${net.host('ingest').ip} `);
    expect(publisher.answerSdp).not.toContain(` ${net.host('edge').ip} `);
    expect(viewer.answerSdp).toContain(` ${net.host('edge').ip} `);
    expect(viewer.location?.startsWith(`http://${net.host('edge').ip}:`)).toBe(true);
    const pulled = cluster.node('edge-1').output();
    expect(pulled).toMatch(/"msg":"stream pulled"/);
    expect(pulled).toMatch(/"srtp":true/);

    // Glass-to-glass through this cluster (publisher and viewer in the root namespace, the
    // stream ingest -> edge across the bridge), measured by the latency probe.
    const latency = await measureLatency({
      path: 'edge',
      durationMs: 5000,
      startPlatform: () =>
        Promise.resolve({
          async createStream(name: string) {
            const response = await cluster.api('/api/streams', {
              method: 'POST',
              headers: { 'Content-Type': 'application/json' },
              body: JSON.stringify({ name }),
            });
            return (await response.json()) as {
              whipUrl: string;
              whepUrl: string;
              streamKey: string;
            };
          },
          stop: () => Promise.resolve(),
        }),
    });
    console.info(
      `netns latency: p50 ${latency.summary.p50.toFixed(1)} ms, p95 ${latency.summary.p95.toFixed(1)} ms over ${latency.summary.count} frames`,
    );
    expect(latency.summary.count).toBeGreaterThan(50);
    expect(latency.summary.p50).toBeLessThan(500);
  });

  it('20 ms delay and 1 % loss on the ingest-edge link: the viewer decodes without visible loss', async () => {
    const net = await createNetwork(['front', 'ingest', 'edge']);
    closers.push(() => net.destroy());
    const ingestPort = await freePort('127.0.0.1');
    const link: LossyLink = await startLossyLink({
      listenIp: net.gateway,
      target: `http://${net.host('ingest').ip}:${ingestPort}`,
      delayMs: 20,
      loss: 0.01,
    });
    closers.push(() => link.close());
    const cluster = await startCluster(
      net,
      { INTERNAL_URL: link.url, PIPE_LISTEN_IP: net.host('ingest').ip },
      ingestPort,
    );
    const { viewer } = await liveStream(cluster);
    await viewer.waitForFrames(10, 20_000);
    console.info(
      `lossy link: first frame ${viewer.timeToFirstFrameMs?.toFixed(0)} ms after the WHEP POST`,
    );
    const before = (await viewer.inboundRtpStats()).video!;
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const after = (await viewer.inboundRtpStats()).video!;
    const stats = link.stats();
    const packets = after.packetsReceived - before.packetsReceived;
    const lost = after.packetsLost - before.packetsLost;
    const frames = (after.framesDecoded ?? 0) - (before.framesDecoded ?? 0);
    const keyframes = (after.keyFramesDecoded ?? 0) - (before.keyFramesDecoded ?? 0);
    console.info(
      `lossy link: relay forwarded ${stats.forwarded}, dropped ${stats.dropped} datagrams; ` +
        `viewer over 10 s: ${packets} video packets, ${lost} lost, ${frames} frames, ` +
        `${keyframes} keyframes, ${(after.pliCount ?? 0) - (before.pliCount ?? 0)} PLIs`,
    );
    expect(stats.pipes).toBe(1);
    expect(stats.dropped).toBeGreaterThan(stats.forwarded * 0.005); // the link did lose packets
    expect(packets).toBeGreaterThan(100);
    // Repaired upstream: at most a tenth of what the link dropped reaches the viewer as loss.
    expect(lost).toBeLessThanOrEqual(Math.max(1, packets * 0.001));
    expect(frames).toBeGreaterThan(100);
    expect(keyframes).toBeLessThanOrEqual(2);
  });
});
