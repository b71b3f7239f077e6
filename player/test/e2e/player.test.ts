/**
 * The player pages end to end, every scenario in Debian Chromium (playwright-core) and Debian
 * Firefox ESR (puppeteer-core over WebDriver BiDi), against the real platform (mediasoup):
 *
 * - /publish goes live from the fake camera; /watch/:id plays it (size known, currentTime
 *   advancing, frames decoded per getVideoPlaybackQuality); the stats overlay (?stats=1)
 *   shows plausible numbers;
 * - the watch page recovers by itself when the publisher leaves and comes back;
 * - once the broadcast is over, its own recording from the recorder replays by itself through
 *   hls.js; recordings the test writes itself with ffmpeg (on another origin, listed by an
 *   injected status) replay too, and the one picked from the list or `?recording=` plays;
 * - /admin creates, rotates (confirmed) and deletes (confirmed) a stream;
 * - <wisp-player> and the /embed/:id iframe play on a page from another origin;
 * - simulcast quality selection, keyboard use on a phone-sized viewport;
 * - Chromium and Firefox as publisher and viewer in all four combinations.
 *
 * Screenshots of each page go to player/test/artifacts/ (git-ignored; the CI artifacts).
 * No Firefox ICE preference is set: wisp announces the machine's interface addresses, which
 * a stock Firefox pairs with (it never pairs with a loopback-only server, see firefox.ts).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPlatform } from '../../../server/test/support/platform.ts';
import type { TestPlatform } from '../../../server/test/support/platform.ts';
import { buildPlayer } from '../../build.ts';
import { DEFAULT_DIST_DIR } from '../../src/index.ts';
import type { WispPlayerApi, WispPublisherApi } from '../../src/index.ts';
import { startFakePlatform } from '../support/fakePlatform.ts';
import type { FakePlatform } from '../support/fakePlatform.ts';
import { recordingOf, startStaticServer, writeRecording } from '../support/recordings.ts';
import type { RecordingFixture, StaticServer } from '../support/recordings.ts';
import { startBrowser } from '../support/testBrowsers.ts';
import type { BrowserName, Evaluator, TestBrowser, TestPage } from '../support/testBrowsers.ts';

const BROWSERS: BrowserName[] = ['chromium', 'firefox'];

/**
 * Chromium logs every non-2xx fetch. Expected: 409 while a stream is not live, 404 for the
 * DELETE of a session the server already ended, 401 for a refused admin token.
 */
const EXPECTED_CONSOLE = [
  /Failed to load resource: .* 409 \(Conflict\)/,
  /Failed to load resource: .* 404 \(Not Found\)/,
];

const NEW: RecordingFixture = { id: 'rec-new', width: 640, height: 360, seconds: 6 };
const OLD: RecordingFixture = { id: 'rec-old', width: 320, height: 180, seconds: 4 };

type PageWindow = Window & { wispPlayer: WispPlayerApi; wispPublisher: WispPublisherApi };

let t: TestPlatform;
let fake: FakePlatform;
let files: StaticServer;
let fileRoot: string;
const browsers = new Map<BrowserName, TestBrowser>();
const pages: TestPage[] = [];

beforeAll(async () => {
  const external = Object.values(networkInterfaces())
    .flat()
    .filter((entry) => entry && !entry.internal && !(entry.family === 'IPv6' && entry.scopeid));
  if (external.length === 0) throw new Error('Firefox needs an interface address besides loopback');
  if (!existsSync(join(DEFAULT_DIST_DIR, 'hls.js'))) await buildPlayer();
  fileRoot = await mkdtemp(join(tmpdir(), 'wisp-player-e2e-'));
  [t, fake, files] = await Promise.all([
    startPlatform(),
    startFakePlatform(),
    startStaticServer(fileRoot),
    writeRecording(fileRoot, NEW),
    writeRecording(fileRoot, OLD),
  ]).then(([platform, fakePlatform, server]) => [platform, fakePlatform, server] as const);
  for (const name of BROWSERS) browsers.set(name, await startBrowser(name));
}, 180_000);

afterEach(async () => {
  while (pages.length)
    await pages
      .pop()!
      .close()
      .catch(() => undefined);
  fake.recordings = [];
});

afterAll(async () => {
  for (const browser of browsers.values()) await browser.close().catch(() => undefined);
  await t?.stop();
  await fake?.stop();
  await files?.close();
  if (fileRoot) await rm(fileRoot, { recursive: true, force: true });
});

async function open(name: BrowserName, url?: string): Promise<TestPage> {
  const page = await browsers.get(name)!.newPage(EXPECTED_CONSOLE);
  pages.push(page);
  if (url) await page.goto(url);
  return page;
}

/** The publish page of `name`, live with the stream's key. */
async function publish(
  name: BrowserName,
  streamKey: string,
  options: { simulcast?: boolean; resolution?: string } = {},
): Promise<TestPage> {
  const page = await open(name, `${t.baseUrl}/publish?key=${encodeURIComponent(streamKey)}`);
  await page.select('#resolution', options.resolution ?? '360');
  if (options.simulcast) await page.click('#simulcast');
  await page.click('#go-live');
  await page.waitFor(
    'the publisher to be live',
    () => (window as unknown as PageWindow).wispPublisher.state === 'live',
  );
  return page;
}

/** Where the player's video is: the page's own, inside <wisp-player>, or in a frame. */
type VideoAt = 'page' | 'element';

interface Progress {
  currentTime: number;
  width: number;
  height: number;
  /** getVideoPlaybackQuality(): frames the element presented (decoded). */
  frames: number;
}

/**
 * The video's progress. Frames: what getVideoPlaybackQuality() says the element presented;
 * Firefox counts none for a MediaStream (WebRTC) source, so there the player's decoded-frame
 * counter from getStats() stands in.
 */
function readProgress(target: Evaluator, at: VideoAt = 'page'): Promise<Progress> {
  return target.evaluate(async (where) => {
    const host = document.querySelector('wisp-player') as
      (Element & { getStats(): Promise<{ framesDecoded: number }> }) | null;
    const video =
      where === 'element'
        ? host!.shadowRoot!.querySelector('video')!
        : document.querySelector('video')!;
    let frames = video.getVideoPlaybackQuality().totalVideoFrames;
    if (frames === 0 && video.srcObject) {
      const stats =
        where === 'element'
          ? await host!.getStats()
          : await (window as unknown as PageWindow).wispPlayer.stats();
      frames = stats.framesDecoded;
    }
    return {
      currentTime: video.currentTime,
      width: video.videoWidth,
      height: video.videoHeight,
      frames,
    };
  }, at);
}

/** Waits until the video has played `seconds` more and presented `frames` more frames. */
async function waitForPlayback(
  target: Evaluator,
  at: VideoAt = 'page',
  seconds = 1.5,
  frames = 15,
): Promise<Progress> {
  const start = await readProgress(target, at);
  await target.waitFor(
    `the video to play ${seconds} s and ${frames} frames past ${JSON.stringify(start)}`,
    async ({ where, start, seconds, frames }) => {
      const host = document.querySelector('wisp-player') as
        (Element & { getStats(): Promise<{ framesDecoded: number }> }) | null;
      const video =
        where === 'element'
          ? host?.shadowRoot?.querySelector('video')
          : document.querySelector('video');
      if (!video || video.videoWidth === 0 || video.currentTime <= start.currentTime + seconds) {
        return false;
      }
      let presented = video.getVideoPlaybackQuality().totalVideoFrames;
      if (presented === 0 && video.srcObject) {
        const stats =
          where === 'element'
            ? await host!.getStats()
            : await (window as unknown as PageWindow).wispPlayer.stats();
        presented = stats.framesDecoded;
      }
      return presented >= start.frames + frames;
    },
    { where: at, start, seconds, frames },
    40_000,
  );
  return readProgress(target, at);
}

function playerState(page: TestPage, state: string, timeoutMs?: number): Promise<unknown> {
  return page.waitFor(
    `the player to be ${state}`,
    (wanted) => (window as unknown as PageWindow).wispPlayer?.state === wanted,
    state,
    timeoutMs,
  );
}

/** The size the publisher sends: its capture track's settings. */
function captureSize(page: TestPage): Promise<{ width: number; height: number }> {
  return page.evaluate(() => {
    const video = document.getElementById('preview') as HTMLVideoElement;
    const track = (video.srcObject as MediaStream).getVideoTracks()[0];
    const { width = 0, height = 0 } = track.getSettings();
    return { width, height };
  });
}

/** The overlay's numbers, once it has rates (its second sample). */
async function overlayNumbers(page: TestPage): Promise<Record<string, string>> {
  await page.waitFor('the overlay to show a bitrate', () => {
    const value = document.querySelector('[data-stat="bitrateKbps"], [data-stat="bufferSeconds"]');
    return value?.getAttribute('data-value') ? Number(value.getAttribute('data-value')) > 0 : false;
  });
  return page.evaluate(() =>
    Object.fromEntries(
      [...document.querySelectorAll('[data-stat]')].map((dd) => [
        dd.getAttribute('data-stat')!,
        dd.getAttribute('data-value') ?? dd.textContent ?? '',
      ]),
    ),
  );
}

describe.each(BROWSERS)('%s', (name) => {
  it('publishes from /publish and plays on /watch/:id, with plausible stats', async () => {
    const stream = await t.createStream(`e2e ${name}`);
    const publisher = await publish(name, stream.streamKey);
    const sent = await captureSize(publisher);
    expect(sent.width).toBeGreaterThan(0);

    const viewer = await open(name, `${stream.playerUrl}?stats=1`);
    await playerState(viewer, 'playing');
    const played = await waitForPlayback(viewer);
    // The size is known and is the publisher's picture (the encoder may scale it down under
    // load, never up, and keeps its shape).
    expect(played.height).toBeGreaterThan(0);
    expect(played.height).toBeLessThanOrEqual(sent.height);
    expect(played.width / played.height).toBeCloseTo(sent.width / sent.height, 1);

    const stats = await overlayNumbers(viewer);
    const number = (key: string) => Number(stats[key]);
    expect(number('latencyMs')).toBeGreaterThan(0);
    expect(number('latencyMs')).toBeLessThan(3000);
    expect(number('bitrateKbps')).toBeGreaterThan(20);
    expect(number('bitrateKbps')).toBeLessThan(20_000);
    expect(number('frameHeight')).toBeGreaterThan(0);
    expect(number('fps')).toBeGreaterThan(1);
    expect(number('fps')).toBeLessThan(61);
    expect(number('packetsLost')).toBeGreaterThanOrEqual(0);
    expect(number('jitterMs')).toBeGreaterThanOrEqual(0);
    expect(number('jitterMs')).toBeLessThan(1000);
    expect(stats.codec).toMatch(/VP8|VP9|H264|AV1/i);
    // Name and viewer count from the public status.
    await viewer.waitFor(
      'the stream name',
      (title) => document.title.startsWith(title),
      stream.name,
    );
    const viewers = await viewer.evaluate(
      () => document.querySelector('.wisp-viewers')?.textContent ?? '',
    );
    expect(viewers).toMatch(/^\d+ watching$/);
    // The public status the page polls, straight from the platform (no token).
    const status = (await (await fetch(`${stream.playerUrl}/status`)).json()) as Record<
      string,
      unknown
    >;
    expect(status).toMatchObject({ id: stream.id, name: stream.name, live: true, recordings: [] });
    expect(status.viewers).toBeGreaterThanOrEqual(1);
    await viewer.screenshot('watch-stats', { fullPage: true });
    await publisher.screenshot('publish-live');
    expect(publisher.problems).toEqual([]);
    expect(viewer.problems).toEqual([]);
  }, 180_000);

  it('recovers by itself when the publisher leaves and comes back', async () => {
    const stream = await t.createStream(`recovery ${name}`);
    const publisher = await publish(name, stream.streamKey);
    const viewer = await open(name, stream.playerUrl);
    await playerState(viewer, 'playing');
    await waitForPlayback(viewer);
    await viewer.evaluate(() => (document.querySelector('video')!.dataset.mark = 'first'));

    await publisher.click('#stop');
    await playerState(viewer, 'waiting', 30_000);
    expect(await viewer.evaluate(() => document.getElementById('status')!.textContent)).toBe(
      'Waiting for the stream to go live…',
    );
    await viewer.screenshot('watch-waiting');
    await publisher.click('#go-live');
    await playerState(viewer, 'playing', 40_000);
    await waitForPlayback(viewer);
    // The same element played throughout: no reload, no click.
    expect(await viewer.evaluate(() => document.querySelector('video')!.dataset.mark)).toBe(
      'first',
    );

    // What the player does on a network change: an ICE restart over PATCH with the session's
    // ETag, answered with new credentials and a new ETag, on the same session.
    type Client = { etag?: string; resourceUrl: string; restartIce(): Promise<void> };
    const restart = await viewer.evaluate(async () => {
      const source = (window as unknown as PageWindow).wispPlayer.player.source as unknown as {
        client: Client;
      };
      const before = { etag: source.client.etag, url: source.client.resourceUrl };
      await source.client.restartIce();
      return { before, after: { etag: source.client.etag, url: source.client.resourceUrl } };
    });
    expect(restart.before.etag).toBeTruthy();
    expect(restart.after.etag).toBeTruthy();
    expect(restart.after.etag).not.toBe(restart.before.etag);
    expect(restart.after.url).toBe(restart.before.url);
    await waitForPlayback(viewer);
    expect(await viewer.evaluate(() => (window as unknown as PageWindow).wispPlayer.state)).toBe(
      'playing',
    );
    expect(viewer.problems).toEqual([]);
  }, 180_000);

  it('replays the latest recording through hls.js, and plays the one picked', async () => {
    const startedAt = Date.now() - 3_600_000;
    fake.recordings = [
      recordingOf(NEW, files.url, 'ended', new Date(startedAt).toISOString()),
      recordingOf(OLD, files.url, 'ended', new Date(startedAt - 86_400_000).toISOString()),
    ];
    const viewer = await open(name, `${fake.baseUrl}/watch/ended?stats=1`);
    await viewer.waitFor(
      'the replay to play',
      () => {
        const player = (window as unknown as PageWindow).wispPlayer;
        return player?.mode === 'replay' && player.state === 'playing';
      },
      undefined,
      40_000,
    );
    const played = await waitForPlayback(viewer, 'page', 1, 10);
    expect(played).toMatchObject({ width: NEW.width, height: NEW.height });
    const engine = await viewer.evaluate(
      () =>
        ((window as unknown as PageWindow).wispPlayer.player.source as { engine?: string }).engine,
    );
    expect(engine).toBe('hls.js');
    // The hls.js chunk came only now, from the player's assets, and the media from the files'
    // origin.
    const loaded = await viewer.evaluate(() =>
      performance.getEntriesByType('resource').map((entry) => new URL(entry.name).pathname),
    );
    expect(loaded).toContain('/player/assets/hls.js');
    expect(files.requests).toContain(`/vod/${NEW.id}/index.m3u8`);
    const stats = await overlayNumbers(viewer);
    expect(Number(stats.bufferSeconds)).toBeGreaterThan(0);
    expect(await viewer.evaluate(() => document.querySelectorAll('.recording').length)).toBe(2);
    await viewer.screenshot('replay', { fullPage: true });

    // The other one from the list: its own size, and the address says which.
    await viewer.click(`[data-recording-id="${OLD.id}"]`);
    await viewer.waitFor(
      'the old recording',
      (height) => document.querySelector('video')!.videoHeight === height,
      OLD.height,
    );
    await waitForPlayback(viewer, 'page', 1, 10);
    expect(await viewer.evaluate(() => location.search)).toContain(`recording=${OLD.id}`);

    // ?recording=<id> straight away.
    const direct = await open(name, `${fake.baseUrl}/watch/ended?recording=${OLD.id}`);
    await direct.waitFor(
      'the chosen recording',
      (height) => document.querySelector('video')?.videoHeight === height,
      OLD.height,
      40_000,
    );
    await waitForPlayback(direct, 'page', 1, 10);
    expect(viewer.problems).toEqual([]);
    expect(direct.problems).toEqual([]);
  }, 180_000);

  it('after the broadcast, replays its own recording from the recorder by itself', async () => {
    // A platform of its own that records (the shared one does not, to spare the CPU).
    const recording = await startPlatform({ RECORDINGS: 'on' });
    try {
      const stream = await recording.createStream(`recorded ${name}`);
      const publisher = await open(
        name,
        `${recording.baseUrl}/publish?key=${encodeURIComponent(stream.streamKey)}`,
      );
      await publisher.select('#resolution', '360');
      await publisher.click('#go-live');
      await publisher.waitFor(
        'the publisher to be live',
        () => (window as unknown as PageWindow).wispPublisher.state === 'live',
      );
      const viewer = await open(name, stream.playerUrl);
      await playerState(viewer, 'playing');
      await waitForPlayback(viewer, 'page', 3, 30);
      await publisher.click('#stop');
      await viewer.waitFor(
        'the replay of the broadcast',
        () => {
          const player = (window as unknown as PageWindow).wispPlayer;
          return player.mode === 'replay' && player.state === 'playing'
            ? (player.player.recording?.id ?? false)
            : false;
        },
        undefined,
        90_000,
      );
      const [ready] = (
        (await (await recording.api(`/api/streams/${stream.id}/recordings`)).json()) as {
          recordings: { id: string; status: string }[];
        }
      ).recordings;
      expect(ready?.status).toBe('ready');
      const status = (await (await fetch(`${stream.playerUrl}/status`)).json()) as {
        live: boolean;
        recordings: { id: string; status: string; hlsUrl: string }[];
      };
      expect(status.live).toBe(false);
      expect(status.recordings.map((r) => [r.id, r.status])).toEqual([[ready.id, 'ready']]);
      expect(status.recordings[0].hlsUrl).toBe(`${recording.baseUrl}/vod/${ready.id}/index.m3u8`);
      expect(
        await viewer.evaluate(
          () => (window as unknown as PageWindow).wispPlayer.player.recording?.id,
        ),
      ).toBe(ready.id);
      const engine = await viewer.evaluate(
        () =>
          ((window as unknown as PageWindow).wispPlayer.player.source as { engine?: string })
            .engine,
      );
      expect(engine).toBe('hls.js');
      const played = await waitForPlayback(viewer, 'page', 1, 10);
      expect(played.height).toBeGreaterThan(0);
      await viewer.screenshot('replay-recorded', { fullPage: true });
      expect(viewer.problems).toEqual([]);
    } finally {
      while (pages.length)
        await pages
          .pop()!
          .close()
          .catch(() => undefined);
      await recording.stop();
    }
  }, 240_000);

  it('/admin: signs in once, creates, rotates (confirmed) and deletes (confirmed) a stream', async () => {
    const admin = await open(name, `${t.baseUrl}/admin`);
    await admin.fill('#admin-token', 'wrong');
    await admin.click('#sign-in button[type="submit"]');
    await admin.waitFor('the refusal', () =>
      document.getElementById('status')!.textContent.includes('refused'),
    );
    await admin.fill('#admin-token', t.adminToken);
    await admin.click('#sign-in button[type="submit"]');
    await admin.waitFor('signed in', () => document.body.dataset.state === 'signed-in');
    // Kept for the tab, never in the address.
    expect(await admin.evaluate(() => sessionStorage.getItem('wisp.adminToken'))).toBe(
      t.adminToken,
    );
    expect(await admin.evaluate(() => location.href)).not.toContain(t.adminToken);

    const streamName = `admin ${name} ${Date.now()}`;
    await admin.fill('#new-stream-name', streamName);
    await admin.click('#create-stream button[type="submit"]');
    const created = await admin.waitFor('the new key', () => {
      const panel = document.getElementById('key-panel');
      const key = document.getElementById('key-token')?.getAttribute('data-value');
      return key && panel?.dataset.streamId ? { id: panel.dataset.streamId, key } : false;
    });
    expect(await t.platform.streams.resolveStreamKey(created.key)).toBe(created.id);
    expect(await admin.evaluate(() => document.getElementById('key-server')!.textContent)).toBe(
      `${t.baseUrl}/whip`,
    );
    const row = `li[data-stream-id="${created.id}"]`;
    await admin.waitFor('the row', (selector) => !!document.querySelector(selector), row);
    await admin.screenshot('admin', { fullPage: true });

    // Asked once: a reload keeps the session.
    await admin.goto(`${t.baseUrl}/admin`);
    await admin.waitFor('signed in again', () => document.body.dataset.state === 'signed-in');
    await admin.waitFor('the row', (selector) => !!document.querySelector(selector), row);

    await admin.click(`${row} [data-action="rotate"]`);
    await admin.waitFor(
      'the confirmation',
      () => (document.getElementById('confirm') as HTMLDialogElement | null)?.open,
    );
    await admin.screenshot('admin-confirm');
    await admin.click('#confirm-ok');
    const rotated = await admin.waitFor(
      'the rotated key',
      (old) => {
        const key = document.getElementById('key-token')?.getAttribute('data-value');
        return key && key !== old ? key : false;
      },
      created.key,
    );
    expect(await t.platform.streams.resolveStreamKey(created.key)).toBeUndefined();
    expect(await t.platform.streams.resolveStreamKey(rotated)).toBe(created.id);

    // Delete, cancelled with Escape first: nothing happens.
    await admin.click(`${row} [data-action="delete"]`);
    await admin.waitFor(
      'the confirmation',
      () => (document.getElementById('confirm') as HTMLDialogElement | null)?.open,
    );
    await admin.press('Escape');
    await admin.waitFor('the dialog to close', () => !document.getElementById('confirm'));
    expect((await t.api(`/api/streams/${created.id}`)).status).toBe(200);
    await admin.click(`${row} [data-action="delete"]`);
    await admin.waitFor(
      'the confirmation',
      () => (document.getElementById('confirm') as HTMLDialogElement | null)?.open,
    );
    await admin.click('#confirm-ok');
    await admin.waitFor('the row to go', (selector) => !document.querySelector(selector), row);
    expect((await t.api(`/api/streams/${created.id}`)).status).toBe(404);
    expect(admin.problems.filter((p) => !/401 \(Unauthorized\)/.test(p))).toEqual([]);
  }, 180_000);

  it('<wisp-player> and the /embed/:id iframe play on a page from another origin', async () => {
    const stream = await t.createStream(`embed ${name}`);
    await publish(name, stream.streamKey);
    const hostPath = `/host-${name}.html`;
    files.pages.set(
      hostPath,
      `<!doctype html><html><head><meta charset="utf-8"><title>host</title></head><body>
<h1>Someone else's site</h1>
<script>window.events = []; for (const type of ['live', 'offline', 'error']) document.addEventListener(type, () => window.events.push(type));</script>
<script type="module" src="${t.baseUrl}/player/embed.js"></script>
<wisp-player src="${stream.playerUrl}" autoplay muted style="width:480px"></wisp-player>
<iframe src="${t.baseUrl}/embed/${stream.id}" allow="autoplay; fullscreen; picture-in-picture" width="480" height="300"></iframe>
</body></html>`,
    );
    const host = await open(name, `${files.url}${hostPath}`);
    expect(new URL(files.url).origin).not.toBe(new URL(t.baseUrl).origin);
    await host.waitFor(
      'the element to play',
      () =>
        (document.querySelector('wisp-player') as unknown as { state: string }).state === 'playing',
    );
    await waitForPlayback(host, 'element');
    expect(await host.evaluate(() => (window as unknown as { events: string[] }).events)).toContain(
      'live',
    );
    const frame = await host.frame(`/embed/${stream.id}`);
    await frame.waitFor(
      'the iframe to play',
      () =>
        (document.querySelector('wisp-player') as unknown as { state?: string } | null)?.state ===
        'playing',
    );
    await waitForPlayback(frame, 'element');
    await host.screenshot('embed');

    // destroy() ends the element's session on the server.
    const before = t.platform.edge.viewerCount(stream.id);
    await host.evaluate(() =>
      (document.querySelector('wisp-player') as unknown as { destroy(): void }).destroy(),
    );
    await expect
      .poll(() => t.platform.edge.viewerCount(stream.id), { timeout: 10_000 })
      .toBe(before - 1);
    expect(host.problems).toEqual([]);
  }, 180_000);

  it('works from the keyboard on a phone-sized screen', async () => {
    const stream = await t.createStream(`keyboard ${name}`);
    await publish(name, stream.streamKey);
    const viewer = await open(name);
    await viewer.setViewport(375, 667);
    await viewer.goto(stream.playerUrl);
    await playerState(viewer, 'playing');
    await viewer.waitFor('the unmute button', () => !document.getElementById('unmute')!.hidden);
    // Every control has a name a screen reader can say.
    const unnamed = await viewer.evaluate(() =>
      [...document.querySelectorAll('button, select')]
        .filter((el) => !(el as HTMLElement).hidden)
        .filter(
          (el) => !el.getAttribute('aria-label') && !el.textContent?.trim() && !el.closest('label'),
        )
        .map((el) => el.outerHTML.slice(0, 80)),
    );
    expect(unnamed).toEqual([]);
    // Tab reaches Unmute, its focus is visible, Enter unmutes.
    let focused = '';
    for (let i = 0; i < 12 && focused !== 'unmute'; i++) {
      await viewer.press('Tab');
      focused = await viewer.evaluate(() => document.activeElement?.id ?? '');
    }
    expect(focused).toBe('unmute');
    const outline = await viewer.evaluate(
      () => getComputedStyle(document.activeElement!).outlineStyle,
    );
    expect(outline).not.toBe('none');
    await viewer.screenshot('watch-phone');
    await viewer.press('Enter');
    await viewer.waitFor('sound', () => !document.querySelector('video')!.muted);
    // The page fits: nothing wider than the screen.
    expect(await viewer.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
      375,
    );
  }, 180_000);

  it('offers the simulcast layers and switches between them', async () => {
    const stream = await t.createStream(`simulcast ${name}`);
    // Chromium publishes three layers (Firefox's simulcast needs more setup than a fake camera
    // gives); the viewer is the browser under test.
    const publisher = await publish('chromium', stream.streamKey, {
      simulcast: true,
      resolution: '720',
    });
    const sent = await captureSize(publisher);
    const viewer = await open(name, stream.playerUrl);
    await playerState(viewer, 'playing');
    await viewer.waitFor('the quality menu', () => {
      const select = document.getElementById('quality') as HTMLSelectElement | null;
      return !!select && !select.closest('label')!.hidden && select.options.length === 4;
    });
    const labels = await viewer.evaluate(() =>
      [...(document.getElementById('quality') as HTMLSelectElement).options].map((o) => o.text),
    );
    expect(labels).toEqual(['Auto', 'High', 'Medium', 'Low']);
    await viewer.select('#quality', 's0');
    await viewer.waitFor(
      'the lowest layer',
      (max) => {
        const h = document.querySelector('video')!.videoHeight;
        return h > 0 && h <= max;
      },
      Math.ceil(sent.height / 4) + 2,
      40_000,
    );
    await waitForPlayback(viewer, 'page', 1, 10);
    // The layer URL the edge linked: what it says now, and what it refuses.
    const layerUrl = await viewer.evaluate(
      () =>
        (
          (window as unknown as PageWindow).wispPlayer.player.source as unknown as {
            client: { layerUrl?: string };
          }
        ).client.layerUrl,
    );
    expect(layerUrl).toMatch(/\/whep\/[^/]+\/[^/]+\/layer$/);
    const layers = (await (await fetch(layerUrl!)).json()) as {
      media: { mediaId: string; spatialLayers: number; auto: boolean; preferred: unknown }[];
    };
    expect(layers.media).toHaveLength(1);
    expect(layers.media[0]).toMatchObject({
      spatialLayers: 3,
      auto: false,
      preferred: { spatialLayerId: 0 },
    });
    const post = (body: unknown) =>
      fetch(layerUrl!, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post({ mediaId: layers.media[0].mediaId, spatialLayerId: 7 })).status).toBe(400);
    expect((await post({ spatialLayerId: 1 })).status).toBe(400);
    expect((await post({ mediaId: 'nope' })).status).toBe(404);
    await viewer.select('#quality', 'auto');
    await viewer.waitFor(
      'a higher layer',
      (min) => document.querySelector('video')!.videoHeight > min,
      Math.ceil(sent.height / 4) + 2,
      40_000,
    );
  }, 180_000);
});

describe('Chromium and Firefox as publisher and viewer', () => {
  const pairs = BROWSERS.flatMap((from) => BROWSERS.map((to) => [from, to] as const));
  it.each(pairs)(
    '%s publishes, %s watches',
    async (from, to) => {
      const stream = await t.createStream(`${from} to ${to}`);
      const publisher = await publish(from, stream.streamKey);
      const viewer = await open(to, stream.playerUrl);
      await playerState(viewer, 'playing');
      const played = await waitForPlayback(viewer, 'page', 1.5, 20);
      expect(played.width).toBeGreaterThan(0);
      const codec = await viewer.evaluate(
        async () => (await (window as unknown as PageWindow).wispPlayer.stats()).codec,
      );
      console.info(
        `${from} -> ${to}: ${played.width}x${played.height}, ${played.frames} frames, ${codec ?? 'codec not reported'}`,
      );
      expect(publisher.problems).toEqual([]);
      expect(viewer.problems).toEqual([]);
    },
    180_000,
  );
});
