/**
 * Failures in a real cluster (LocalCluster: every role its own process, a real redis-server):
 * a SIGKILLed edge with viewers (Chromium on the real player page reconnects through the
 * front door, timed), a SIGKILLed ingest (the stream offline everywhere, nothing left on the
 * edges), and a Redis restart mid-stream (no media gap, keys intact).
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WrtcPublisher } from '@wisp/loadtest';
import { ClusterAuth } from '@wisp/core';
import { launchChromium } from '../../../player/test/support/browser.ts';
import { waitForPlayerState } from '../../../player/test/support/pages.ts';
import { LocalCluster } from '../../src/cluster/LocalCluster.ts';
import { closeAll, closers, createStream, getStream, publish, view } from '../support/cluster.ts';

afterEach(closeAll);

/** Routers a node's mediasoup workers hold, from mediasoup's own dump (internal API). */
async function routerIds(cluster: LocalCluster, url: string): Promise<string[]> {
  const auth = new ClusterAuth({ secret: cluster.secret, ticketTtlMs: 30_000 });
  const response = await fetch(`${url}/internal/dump`, {
    headers: { Authorization: `Bearer ${await auth.internalToken('test')}` },
  });
  expect(response.status).toBe(200);
  const { workers } = (await response.json()) as { workers: { routerIds: string[] }[] };
  return workers.flatMap((w) => w.routerIds);
}

describe('an edge dies under its viewers', () => {
  let cluster: LocalCluster;
  let browser: Browser;
  beforeAll(async () => {
    cluster = await LocalCluster.start({ edges: 2, output: 'collect' });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  it('every viewer plays again from a live edge, through the front door', async () => {
    const stream = await createStream(cluster);
    await publish(stream);
    const pages: Page[] = [];
    for (let i = 0; i < 4; i++) {
      const page = await browser.newPage();
      closers.push(() => page.close());
      // Every presented frame's time (same <video> across the player's reconnects) and every
      // change of the player's state, on the page's clock.
      await page.addInitScript(() => {
        const w = window as unknown as {
          wispFrames: number[];
          wispStates: { at: number; state: string }[];
        };
        const frames: number[] = (w.wispFrames = []);
        const states: { at: number; state: string }[] = (w.wispStates = []);
        setInterval(() => {
          const state = window.wispPlayer?.state;
          if (state && states.at(-1)?.state !== state)
            states.push({ at: performance.now(), state });
        }, 20);
        const watch = () => {
          const video = document.querySelector('video');
          if (!video) return void setTimeout(watch, 50);
          const onFrame = (now: number) => {
            frames.push(now);
            if (frames.length > 2000) frames.splice(0, 1000);
            video.requestVideoFrameCallback(onFrame);
          };
          video.requestVideoFrameCallback(onFrame);
        };
        watch();
      });
      await page.goto(stream.playerUrl);
      await waitForPlayerState(page, 'playing', 20_000);
      pages.push(page);
    }
    // The front door prefers an edge that already carries the stream, so they share one.
    const viewersOf = async () =>
      ((await getStream(cluster, stream.id)).distribution ?? []).reduce((n, d) => n + d.viewers, 0);
    await expect.poll(viewersOf, { timeout: 5000 }).toBe(4);
    const { distribution } = await getStream(cluster, stream.id);
    const victim = [...distribution!].sort((a, b) => b.viewers - a.viewers)[0];
    expect(victim.viewers).toBeGreaterThan(0);

    const killedAt = await Promise.all(pages.map((p) => p.evaluate(() => performance.now())));
    await cluster.node(victim.node).kill('SIGKILL');
    // A viewer of the dead edge sees its player leave 'playing' and come back; the time to
    // video again is from the kill to the first frame presented after it is back.
    const outcomes = await Promise.all(
      pages.map(async (page, i) => {
        const handle = await page.waitForFunction(
          (after) => {
            const w = window as unknown as {
              wispFrames: number[];
              wispStates: { at: number; state: string }[];
            };
            const left = w.wispStates.find((s) => s.at > after && s.state !== 'playing');
            if (!left) {
              // Not a victim if frames keep coming for 10 s after the kill.
              return performance.now() > after + 10_000 ? { victim: false } : false;
            }
            const back = w.wispStates.find((s) => s.at > left.at && s.state === 'playing');
            const frame = back && w.wispFrames.find((t) => t > back.at);
            return frame === undefined ? false : { victim: true, frame };
          },
          killedAt[i],
          { timeout: 20_000, polling: 50 },
        );
        const result = (await handle.jsonValue()) as { victim: boolean; frame?: number };
        return result.victim ? result.frame! - killedAt[i] : undefined;
      }),
    );
    const victims = outcomes.filter((o): o is number => o !== undefined);
    expect(victims.length).toBe(victim.viewers);
    const sorted = [...victims].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    console.info(
      `edge kill: ${victims.length} viewers back after median ${median.toFixed(0)} ms, ` +
        `max ${sorted.at(-1)!.toFixed(0)} ms (${sorted.map((s) => s.toFixed(0)).join(', ')})`,
    );
    expect(sorted.at(-1)!).toBeLessThan(8000);
    // The dead edge left the registry within 5 s of the kill.
    await expect
      .poll(async () => (await cluster.listNodes()).map((n) => n.id), { timeout: 5000 })
      .not.toContain(victim.node);
  });
});

describe('the ingest dies, and Redis restarts', () => {
  let cluster: LocalCluster;
  beforeAll(async () => {
    cluster = await LocalCluster.start({ edges: 2, output: 'collect' });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('a Redis restart mid-stream leaves media flowing and keys intact', async () => {
    const stream = await createStream(cluster);
    await publish(stream);
    const viewer = await view(stream.whepUrl);
    await viewer.waitForFrames(10, 15_000);
    // Frames decoded, sampled every 100 ms through the restart.
    const samples: { at: number; frames: number }[] = [];
    const sampler = setInterval(
      () => samples.push({ at: Date.now(), frames: viewer.framesDecoded }),
      100,
    );
    closers.push(() => clearInterval(sampler));
    await new Promise((resolve) => setTimeout(resolve, 500));
    await cluster.redis.restart(1500);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    clearInterval(sampler);
    let longestFreezeMs = 0;
    let since = samples[0].at;
    for (let i = 1; i < samples.length; i++) {
      if (samples[i].frames > samples[i - 1].frames) since = samples[i].at;
      longestFreezeMs = Math.max(longestFreezeMs, samples[i].at - since);
    }
    console.info(
      `redis restart: longest freeze ${longestFreezeMs} ms over ${samples.length} samples`,
    );
    expect(longestFreezeMs).toBeLessThan(500);
    // The nodes re-registered, the stream is still live, its key still valid.
    await cluster.waitForNodes(4, 10_000);
    await expect
      .poll(async () => (await getStream(cluster, stream.id)).live, { timeout: 10_000 })
      .toBe(true);
    const second = await view(stream.whepUrl);
    await second.waitForFrames(5, 15_000);
    const again = await WrtcPublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
    });
    closers.push(() => again.close());
    await again.waitConnected(10_000);
  });

  it('a SIGKILLed ingest: the stream is offline everywhere and the edges hold nothing', async () => {
    const stream = await createStream(cluster);
    await publish(stream);
    const viewers = [await view(stream.whepUrl), await view(stream.whepUrl)];
    await Promise.all(viewers.map((v) => v.waitForFrames(5, 15_000)));
    const edges = ['edge-1', 'edge-2'].map((id) => cluster.node(id).url);
    const killed = Date.now();
    await cluster.node('ingest-1').kill('SIGKILL');
    await expect
      .poll(async () => (await getStream(cluster, stream.id)).live, {
        timeout: 5000,
        interval: 100,
      })
      .toBe(false);
    const offlineMs = Date.now() - killed;
    for (const url of edges) {
      // No router left means no pipe, fan-out or viewer transport either (they live in one).
      await expect.poll(() => routerIds(cluster, url), { timeout: 5000 }).toEqual([]);
    }
    console.info(`ingest kill: offline in the API after ${offlineMs} ms; edges empty`);
    // Viewers wait: the front door says not live (409) while the stream is away.
    const response = await fetch(stream.whepUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp' },
      body: 'v=0\r\n',
      redirect: 'manual',
    });
    expect(response.status).toBe(409);
  });
});
