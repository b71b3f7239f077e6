/**
 * The pages in real Chromium against fake WHIP/WHEP endpoints (no media server): the bundles
 * load and run, the 409 "not live yet" path waits and retries, 404 stops, a live stream
 * decodes frames, a dropped stream leaves `playing`, and browser publishing goes live and
 * DELETEs its session with the stream key.
 */
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildPlayer } from '../../build.ts';
import { DEFAULT_DIST_DIR } from '../../src/index.ts';
import type { PlayerState, WispPlayerApi, WispPublisherApi } from '../../src/index.ts';
import { collectPageProblems, launchChromium } from '../support/browser.ts';
import {
  waitForPlayerState as waitForPlayer,
  waitForPlayerToLeave,
  waitForPublisherState,
  waitForVideoToAdvance,
} from '../support/pages.ts';
import { GOOD_KEY, startFakePlatform } from '../support/fakePlatform.ts';
import type { FakePlatform } from '../support/fakePlatform.ts';

/** How the tests see the page's globals. */
type PageWindow = Window & { wispPlayer: WispPlayerApi; wispPublisher: WispPublisherApi };

/** Chromium logs every non-2xx fetch; the 409s (and the 401 of the refused key) are expected. */
const EXPECTED_CONSOLE = [/Failed to load resource: .* (409 \(Conflict\)|401 \(Unauthorized\))/];

let platform: FakePlatform;
let browser: Browser;
let page: Page;
let problems: string[];

beforeAll(async () => {
  if (!existsSync(join(DEFAULT_DIST_DIR, 'watch.js'))) await buildPlayer();
  platform = await startFakePlatform();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
});

async function openPage(path: string): Promise<Page> {
  page = await browser.newPage();
  problems = collectPageProblems(page, EXPECTED_CONSOLE);
  await page.goto(`${platform.baseUrl}${path}`);
  return page;
}

afterEach(async () => {
  await page?.close();
  platform.live = true;
  platform.dropSessions();
});

function posts(path: string): number {
  return platform.requests.filter((r) => r.method === 'POST' && r.path === path).length;
}

function waitForPlayerState(state: PlayerState, timeout?: number): Promise<void> {
  return waitForPlayer(page, state, timeout);
}

async function screenshot(name: string): Promise<void> {
  const dir = process.env.WISP_SCREENSHOT_DIR;
  if (dir) await page.screenshot({ path: join(dir, `${name}.png`) });
}

describe('watch page', () => {
  it('waits while the stream is not live, polling the status every Retry-After', async () => {
    await openPage('/watch/upcoming');
    await waitForPlayerState('waiting');
    const status = page.locator('#status');
    expect(await status.textContent()).toBe('Waiting for the stream to go live…');
    expect(await page.locator('body').getAttribute('data-state')).toBe('waiting');
    expect(await page.locator('video').getAttribute('data-state')).toBe('waiting');
    expect(await page.locator('#unmute').isVisible()).toBe(false);
    expect(await page.locator('#stream-name').textContent()).toBe('Stream upcoming');

    // Retry-After: 1 (+ up to 20 % jitter): three more status polls within about four seconds,
    // and no new WHEP offer while the status says the stream is not live.
    const before = platform.statusRequests;
    await expect
      .poll(() => platform.statusRequests, { timeout: 8_000 })
      .toBeGreaterThanOrEqual(before + 3);
    expect(posts('/whep/upcoming')).toBe(1);
    expect(await page.evaluate(() => (window as unknown as PageWindow).wispPlayer.state)).toBe(
      'waiting',
    );

    const offer = platform.requests.find(
      (r) => r.method === 'POST' && r.path === '/whep/upcoming',
    )!;
    expect(offer.contentType).toBe('application/sdp');
    expect(offer.body).toMatch(/^m=audio /m);
    expect(offer.body).toMatch(/^m=video /m);
    expect(offer.body).toContain('a=recvonly');
    expect(offer.body).not.toContain('a=sendrecv');
    await screenshot('wisp-watch-waiting');
    expect(problems).toEqual([]);
  });

  it('shows "Stream not found" on 404 and stops asking', async () => {
    await openPage('/watch/missing');
    await waitForPlayerState('error');
    expect(await page.locator('#status').textContent()).toBe('Stream not found.');
    const count = posts('/whep/missing');
    await page.waitForTimeout(1500);
    expect(posts('/whep/missing')).toBe(count);
  });

  it('plays a live stream, and leaves playing when the stream goes away', async () => {
    await openPage('/watch/live');
    await waitForPlayerState('playing');
    await waitForVideoToAdvance(page, 1);
    const stats = await page.evaluate(() => (window as unknown as PageWindow).wispPlayer.stats());
    expect(stats.framesDecoded).toBeGreaterThan(0);
    expect(stats.bytesReceived).toBeGreaterThan(0);
    expect(await page.locator('#unmute').isVisible()).toBe(true);
    await screenshot('wisp-watch-playing');
    const [session] = [...platform.sessions.keys()];

    // The publisher leaves: the server drops the session and answers 409 from now on.
    platform.live = false;
    platform.dropSessions();
    await waitForPlayerToLeave(page, 'playing', 15_000);
    await waitForPlayerState('waiting');
    // The abandoned session was DELETEd at the URL resolved against the endpoint.
    expect(platform.requests).toContainEqual(
      expect.objectContaining({ method: 'DELETE', path: session }),
    );

    // Back live: the page reconnects by itself.
    platform.live = true;
    await waitForPlayerState('playing');
    expect(problems).toEqual([]);
  });

  it('DELETEs its session when the viewer leaves the page', async () => {
    await openPage('/watch/live');
    await waitForPlayerState('playing');
    const [session] = [...platform.sessions.keys()];
    await page.goto('about:blank');
    await expect
      .poll(() => platform.requests.some((r) => r.method === 'DELETE' && r.path === session), {
        timeout: 5_000,
      })
      .toBe(true);
  });

  it('unmutes on click', async () => {
    await openPage('/watch/live');
    await waitForPlayerState('playing');
    await page.locator('#unmute').click();
    expect(await page.evaluate(() => document.querySelector('video')!.muted)).toBe(false);
    expect(await page.locator('#unmute').isVisible()).toBe(false);
  });
});

describe('publish page', () => {
  it('takes the key from ?key=, goes live over WHIP and DELETEs with the key on Stop', async () => {
    await openPage(`/publish?key=${GOOD_KEY}`);
    expect(await page.locator('#key').inputValue()).toBe(GOOD_KEY);
    expect(await page.evaluate(() => window.location.search)).toBe('');

    await page.locator('#go-live').click();
    await waitForPublisherState(page, 'live');
    const post = platform.requests.find((r) => r.method === 'POST' && r.path === '/whip')!;
    expect(post.authorization).toBe(`Bearer ${GOOD_KEY}`);
    expect(post.body).toContain('a=sendonly');
    const [path, peer] = [...platform.sessions.entries()][0];
    // The fake camera's frames arrive and decode at the fake server.
    await expect.poll(() => peer.frames(), { timeout: 10_000 }).toBeGreaterThan(10);
    await page.waitForTimeout(500);
    await screenshot('wisp-publish-live');

    await page.locator('#stop').click();
    await waitForPublisherState(page, 'stopped', 5_000);
    await expect
      .poll(() => platform.requests.find((r) => r.method === 'DELETE' && r.path === path))
      .toMatchObject({ authorization: `Bearer ${GOOD_KEY}` });
    expect(platform.sessions.has(path)).toBe(false);
    expect(problems).toEqual([]);
  });

  it('reports a refused stream key and does not retry', async () => {
    await openPage('/publish?key=wrong');
    await page.locator('#go-live').click();
    await waitForPublisherState(page, 'error', 10_000);
    expect(await page.locator('#status').textContent()).toBe('The stream key was refused.');
    expect(await page.locator('#go-live').isEnabled()).toBe(true);
    const count = posts('/whip');
    await page.waitForTimeout(1500);
    expect(posts('/whip')).toBe(count);
  });
});

describe('ICE servers from the Link headers', () => {
  /**
   * The RTCPeerConnections a page creates, with the configuration each had when it began
   * gathering (its first setLocalDescription): the player makes its offer while the OPTIONS
   * is in flight and sets the servers before gathering starts.
   */
  async function openRecordingPage(path: string): Promise<Page> {
    page = await browser.newPage();
    problems = collectPageProblems(page, EXPECTED_CONSOLE);
    await page.addInitScript(() => {
      const Native = window.RTCPeerConnection;
      const created: { pc: RTCPeerConnection; config: RTCConfiguration | undefined }[] = [];
      (window as unknown as { created: typeof created }).created = created;
      window.RTCPeerConnection = class extends Native {
        constructor(config?: RTCConfiguration) {
          super(config);
          created.push({ pc: this, config: undefined });
        }
        override setLocalDescription(description?: RTCLocalSessionDescriptionInit) {
          const entry = created.find((c) => c.pc === this);
          if (entry && !entry.config) entry.config = this.getConfiguration();
          return super.setLocalDescription(description);
        }
      };
    });
    await page.goto(`${platform.baseUrl}${path}`);
    return page;
  }

  /** The ICE servers a page's first peer connection gathered with, and has now. */
  async function peerIceServers(): Promise<{ created: RTCIceServer[]; now: RTCIceServer[] }> {
    return page.evaluate(() => {
      type Created = { pc: RTCPeerConnection; config: RTCConfiguration | undefined }[];
      const [first] = (window as unknown as { created: Created }).created;
      const plain = (servers: RTCIceServer[] | undefined): RTCIceServer[] =>
        (servers ?? []).map((s) => ({
          urls: ([] as string[]).concat(s.urls),
          ...(s.username === undefined ? {} : { username: s.username }),
          ...(s.credential === undefined ? {} : { credential: s.credential }),
        }));
      return {
        created: plain(first?.config?.iceServers),
        now: plain(first?.pc.getConfiguration().iceServers),
      };
    });
  }

  /** A loopback UDP port nobody listens on: the browser's TURN requests there go nowhere. */
  async function deadUdpPort(): Promise<number> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const { port } = socket.address();
    await new Promise<void>((resolve) => socket.close(resolve));
    return port;
  }

  let turnUrl = '';
  const OPTIONS_USER = '1800000000:stream';
  const SESSION_USER = '1800000000:session';

  beforeAll(async () => {
    turnUrl = `turn:127.0.0.1:${await deadUdpPort()}?transport=udp`;
  });

  afterEach(() => {
    platform.iceLinks = [];
    platform.sessionIceLinks = [];
  });

  function offerLinks(): void {
    const turn = (user: string) =>
      `<${turnUrl}>; rel="ice-server"; username="${user}"; credential="c2VjcmV0"; credential-type="password"`;
    platform.iceLinks = [turn(OPTIONS_USER)];
    platform.sessionIceLinks = [turn(SESSION_USER)];
  }

  it('the watch page asks OPTIONS first, gathers with those servers, then keeps the 201 ones', async () => {
    offerLinks();
    const start = platform.requests.length;
    await openRecordingPage('/watch/live');
    await waitForPlayerState('playing');
    const methods = platform.requests
      .slice(start)
      .filter((r) => r.path === '/whep/live')
      .map((r) => r.method);
    expect(methods.slice(0, 2)).toEqual(['OPTIONS', 'POST']);
    const servers = await peerIceServers();
    expect(servers.created).toEqual([
      { urls: [turnUrl], username: OPTIONS_USER, credential: 'c2VjcmV0' },
    ]);
    // For an ICE restart: the credentials issued for this session.
    expect(servers.now).toEqual([
      { urls: [turnUrl], username: SESSION_USER, credential: 'c2VjcmV0' },
    ]);
    expect(problems).toEqual([]);
  });

  it('the publish page asks OPTIONS with the stream key and uses the servers it gets', async () => {
    offerLinks();
    const start = platform.requests.length;
    await openRecordingPage(`/publish?key=${GOOD_KEY}`);
    await page.locator('#go-live').click();
    await waitForPublisherState(page, 'live');
    const options = platform.requests
      .slice(start)
      .find((r) => r.method === 'OPTIONS' && r.path === '/whip');
    expect(options?.authorization).toBe(`Bearer ${GOOD_KEY}`);
    const servers = await peerIceServers();
    expect(servers.created).toEqual([
      { urls: [turnUrl], username: OPTIONS_USER, credential: 'c2VjcmV0' },
    ]);
    expect(servers.now).toEqual([
      { urls: [turnUrl], username: SESSION_USER, credential: 'c2VjcmV0' },
    ]);
    await page.locator('#stop').click();
    await waitForPublisherState(page, 'stopped', 5_000);
    expect(problems).toEqual([]);
  });

  it('plays without ICE servers when there are none', async () => {
    await openRecordingPage('/watch/live');
    await waitForPlayerState('playing');
    expect((await peerIceServers()).created).toEqual([]);
  });
});
