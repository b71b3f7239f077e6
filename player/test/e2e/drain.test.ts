/**
 * The real watch page through a drain, in Debian Chromium and Firefox ESR: a real cluster
 * (LocalCluster on this machine's interface address, since Firefox never pairs with a
 * loopback-only server), a libwebrtc publisher, one page per browser on the same edge. The
 * edge is drained over the admin API; each player gets the WHEP `reconnect` event, makes its
 * new session through the front door on the other edge, switches the video to it and ends
 * the old one. Asserted: the player never leaves `playing`, `currentTime` never stands still
 * for more than a second, its session ends up on the other edge and decodes frames there, and
 * the drained node exits.
 */
import { existsSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WrtcPublisher } from '@wisp/loadtest';
import { LocalCluster } from '../../../server/src/cluster/LocalCluster.ts';
import { buildPlayer } from '../../build.ts';
import { DEFAULT_DIST_DIR } from '../../src/index.ts';
import type { WispPlayerApi } from '../../src/index.ts';
import { startBrowser } from '../support/testBrowsers.ts';
import type { BrowserName, TestBrowser, TestPage } from '../support/testBrowsers.ts';

const BROWSERS: BrowserName[] = ['chromium', 'firefox'];
/** Chromium logs every non-2xx fetch; a 409 can come while the stream turns live. */
const EXPECTED_CONSOLE = [/Failed to load resource: .* 409 \(Conflict\)/];

interface Trace {
  /** Player states with the page time they began. */
  states: { at: number; state: string }[];
  /** The longest time `currentTime` did not change while sampled (ms). */
  longestStillMs: number;
  /** The WHEP session URL the player uses now. */
  session: string | undefined;
}

type TracedWindow = Window & {
  wispPlayer: WispPlayerApi;
  wispTrace?: Trace & { reset(): void };
};

let cluster: LocalCluster;
let publisher: WrtcPublisher;
const browsers = new Map<BrowserName, TestBrowser>();

function interfaceAddress(): string {
  const address = Object.values(networkInterfaces())
    .flat()
    .find((entry) => entry && !entry.internal && entry.family === 'IPv4')?.address;
  if (!address) throw new Error('Firefox needs an interface address besides loopback');
  return address;
}

beforeAll(async () => {
  if (!existsSync(join(DEFAULT_DIST_DIR, 'watch.js'))) await buildPlayer();
  cluster = await LocalCluster.start({
    edges: 2,
    host: interfaceAddress(),
    output: 'collect',
    env: { DRAIN_SPREAD_MS: '1500', DRAIN_GRACE_MS: '4000', DRAIN_TIMEOUT_MS: '30000' },
  });
  for (const name of BROWSERS) browsers.set(name, await startBrowser(name));
}, 180_000);

afterAll(async () => {
  for (const browser of browsers.values()) await browser.close().catch(() => undefined);
  await publisher?.close();
  await cluster?.stop();
});

/** Samples the page's player every 20 ms: its state, its session, and whether time moves. */
function startTrace(page: TestPage): Promise<void> {
  return page.evaluate(() => {
    const w = window as unknown as TracedWindow;
    const video = document.querySelector('video')!;
    let lastTime = video.currentTime;
    let lastChange = performance.now();
    const trace: TracedWindow['wispTrace'] & object = {
      states: [{ at: performance.now(), state: w.wispPlayer.state }],
      longestStillMs: 0,
      session: undefined,
      reset() {
        trace.longestStillMs = 0;
        lastChange = performance.now();
      },
    };
    w.wispTrace = trace;
    setInterval(() => {
      const now = performance.now();
      const state = w.wispPlayer.state;
      if (trace.states.at(-1)?.state !== state) trace.states.push({ at: now, state });
      // A new srcObject starts its own timeline: any change of currentTime is progress.
      if (video.currentTime !== lastTime) {
        lastTime = video.currentTime;
        lastChange = now;
      }
      trace.longestStillMs = Math.max(trace.longestStillMs, now - lastChange);
      const source = w.wispPlayer.player.source as { client?: { resourceUrl: string } } | undefined;
      trace.session = source?.client?.resourceUrl;
    }, 20);
  });
}

const trace = (page: TestPage) =>
  page.evaluate(() => {
    const { states, longestStillMs, session } = (window as unknown as TracedWindow).wispTrace!;
    return { states, longestStillMs, session };
  });

const edgeOf = (session: string | undefined) =>
  [...cluster.nodes.values()].find((n) => session?.startsWith(`${n.url}/`))?.spec.id;

describe('the watch page through an edge drain', () => {
  it('moves to the other edge on `reconnect` with no stall, in every browser', async () => {
    const created = await cluster.api('/api/streams', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'drain' }),
    });
    const stream = (await created.json()) as {
      id: string;
      whipUrl: string;
      streamKey: string;
      playerUrl: string;
    };
    publisher = await WrtcPublisher.start({ whipUrl: stream.whipUrl, streamKey: stream.streamKey });
    await publisher.waitConnected(10_000);

    const pages: TestPage[] = [];
    for (const name of BROWSERS) {
      const page = await browsers.get(name)!.newPage(EXPECTED_CONSOLE);
      await page.goto(stream.playerUrl);
      await page.waitFor(
        'the player to play',
        () => (window as unknown as TracedWindow).wispPlayer?.state === 'playing',
        undefined,
        30_000,
      );
      await page.waitFor(
        'the video to advance',
        () => document.querySelector('video')!.currentTime > 1,
        undefined,
        15_000,
      );
      await startTrace(page);
      pages.push(page);
    }
    // The front door puts the second viewer on the edge that already carries the stream; the
    // test does not depend on it: every page on the drained edge must move, the others stay.
    const drained = edgeOf((await trace(pages[0])).session)!;
    expect(drained).toMatch(/^edge-/);
    const other = drained === 'edge-1' ? 'edge-2' : 'edge-1';
    const startedOn = await Promise.all(pages.map(async (p) => edgeOf((await trace(p)).session)));
    for (const page of pages) {
      await page.evaluate(() => (window as unknown as TracedWindow).wispTrace!.reset());
    }

    const response = await cluster.api(`/api/nodes/${drained}/drain`, { method: 'POST' });
    expect(response.status).toBe(202);
    for (const page of pages) {
      await expect
        .poll(async () => edgeOf((await trace(page)).session), { timeout: 15_000, interval: 100 })
        .toBe(other);
    }
    expect(await cluster.node(drained).exited).toBe(0);
    // Some more seconds on the new edge.
    await new Promise((resolve) => setTimeout(resolve, 2000));

    for (const [i, page] of pages.entries()) {
      const { states, longestStillMs } = await trace(page);
      console.info(
        `${BROWSERS[i]}: from ${startedOn[i]} to ${other}; currentTime stood still at most ` +
          `${longestStillMs.toFixed(0)} ms; states ${states.map((s) => s.state).join(' > ')}`,
      );
      expect(states.map((s) => s.state)).toEqual(['playing']);
      expect(longestStillMs).toBeLessThan(1000);
      expect(page.problems).toEqual([]);
      // Video, not only the audio clock: the new session's decoder keeps producing frames.
      const decoded = () =>
        page.evaluate(
          async () => (await (window as unknown as TracedWindow).wispPlayer.stats()).framesDecoded,
        );
      const before = await decoded();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(await decoded()).toBeGreaterThan(before + 10);
      await page.screenshot('drain-moved');
    }
  });
});
