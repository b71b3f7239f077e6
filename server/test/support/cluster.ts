/**
 * What the cluster tests do to a LocalCluster through its front door: create and read
 * streams, publish (libwebrtc), view (waiting for the registry to see the stream live), and
 * close everything they opened after each test (`closeAll` in an `afterEach`).
 */
import { expect } from 'vitest';
import { WrtcPublisher, WrtcViewer } from '@wisp/loadtest';
import type { StreamView } from '@wisp/core';
import type { LocalCluster } from '../../src/cluster/LocalCluster.ts';

export interface CreatedStream extends StreamView {
  streamKey: string;
}

/** Closed, newest first, by `closeAll`. */
export const closers: (() => unknown)[] = [];

export async function closeAll(): Promise<void> {
  for (const close of closers.splice(0).reverse()) {
    await Promise.resolve(close()).catch(() => undefined);
  }
}

export async function createStream(
  cluster: LocalCluster,
  name = 'cluster',
): Promise<CreatedStream> {
  const response = await cluster.api('/api/streams', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as CreatedStream;
}

export async function getStream(cluster: LocalCluster, id: string): Promise<StreamView> {
  return (await (await cluster.api(`/api/streams/${id}`)).json()) as StreamView;
}

export async function publish(stream: CreatedStream): Promise<WrtcPublisher> {
  const publisher = await WrtcPublisher.start({
    whipUrl: stream.whipUrl,
    streamKey: stream.streamKey,
  });
  closers.push(() => publisher.close());
  await publisher.waitConnected(10_000);
  return publisher;
}

/** A viewer through `whepUrl`; retried while the front door still says "not live". */
export async function view(whepUrl: string): Promise<WrtcViewer> {
  // The stream turns live in the registry a moment after the publisher connects.
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const viewer = await WrtcViewer.start({ whepUrl });
      closers.push(() => viewer.close());
      return viewer;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
