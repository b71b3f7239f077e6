/**
 * End to end in real Chromium against the real platform (mediasoup, stream-key API): a fake
 * camera publishes from /publish, another page plays it on /watch/:id, and the watch page
 * notices when the publisher stops.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startPlatform } from '../../../server/test/support/platform.ts';
import type { TestPlatform } from '../../../server/test/support/platform.ts';
import { buildPlayer } from '../../build.ts';
import { DEFAULT_DIST_DIR } from '../../src/index.ts';
import type { WispPlayerApi } from '../../src/index.ts';
import { collectPageProblems, launchChromium } from '../support/browser.ts';
import {
  waitForPlayerState,
  waitForPlayerToLeave,
  waitForPublisherState,
  waitForVideoToAdvance,
} from '../support/pages.ts';

/**
 * Chromium logs every non-2xx fetch. Expected here: 409 while the stream is not live, and 404
 * for the viewer's DELETE of a session the server already ended when the publisher left.
 */
const EXPECTED_CONSOLE = [
  /Failed to load resource: .* 409 \(Conflict\)/,
  /Failed to load resource: .* 404 \(Not Found\) \(http:\/\/[^)]*\/whep\//,
];

let t: TestPlatform;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(join(DEFAULT_DIST_DIR, 'watch.js'))) await buildPlayer();
  t = await startPlatform();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

async function screenshot(page: Page, name: string): Promise<void> {
  const dir = process.env.WISP_SCREENSHOT_DIR;
  if (dir) await page.screenshot({ path: join(dir, `${name}.png`) });
}

it('publishes from /publish and plays on /watch/:id', async () => {
  const stream = await t.createStream('browser e2e');
  expect(stream.playerUrl).toBe(`${t.baseUrl}/watch/${stream.id}`);

  const publisher = await browser.newPage();
  const publisherProblems = collectPageProblems(publisher);
  await publisher.goto(`${t.baseUrl}/publish?key=${encodeURIComponent(stream.streamKey)}`);
  await publisher.locator('#go-live').click();
  await waitForPublisherState(publisher, 'live');

  const viewer = await browser.newPage();
  const viewerProblems = collectPageProblems(viewer, EXPECTED_CONSOLE);
  await viewer.goto(stream.playerUrl);
  await waitForPlayerState(viewer, 'playing');
  await waitForVideoToAdvance(viewer, 1);
  const stats = await viewer.evaluate(() =>
    (window as unknown as { wispPlayer: WispPlayerApi }).wispPlayer.stats(),
  );
  expect(stats.framesDecoded).toBeGreaterThan(0);
  expect(stats.bytesReceived).toBeGreaterThan(0);
  await screenshot(viewer, 'wisp-e2e-watch');
  await screenshot(publisher, 'wisp-e2e-publish');

  // The publisher stops: its DELETE ends the stream, and the viewer must notice.
  await publisher.locator('#stop').click();
  await waitForPublisherState(publisher, 'stopped', 5_000);
  await waitForPlayerToLeave(viewer, 'playing', 15_000);
  // Once the stream is gone the server answers 409 (exists, not live): the page waits.
  await waitForPlayerState(viewer, 'waiting');

  expect(publisherProblems).toEqual([]);
  expect(viewerProblems).toEqual([]);
  await viewer.close();
  await publisher.close();
});
