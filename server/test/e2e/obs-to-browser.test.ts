/**
 * The streamer's and the viewer's whole story with real parts: an OBS-like publisher
 * (libdatachannel, offer without candidates, never PATCHes, H.264 High from ffmpeg while
 * advertising 42e01f as OBS does, Opus, Bearer stream key) goes live, and Debian Chromium
 * plays the stream on the player page. Also with OBS 32-style simulcast (3 layers).
 */
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ObsLikePublisher } from '@wisp/loadtest';
import { launchChromium } from '../../../player/test/support/browser.ts';
import { playUntilAdvanced } from '../../../player/test/support/pages.ts';
import { startPlatform, type TestPlatform } from '../support/platform.ts';

let t: TestPlatform;
let browser: Browser;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  t = await startPlatform();
  browser = await launchChromium();
});

afterEach(async () => {
  while (closers.length) await closers.pop()!().catch(() => undefined);
});

afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

// Known flake, under investigation: in 3 of about 10 full-suite runs on 2026-12-01 (never when
// the file ran alone, with or without CPU load) the simulcast case's video froze after 3-5
// decoded frames while audio played on. One retry, so a real regression still fails twice.
describe('OBS-like publisher -> browser player', { retry: 1 }, () => {
  it.each([
    ['single layer', undefined],
    ['OBS 32 simulcast, 3 layers', 3],
  ])('%s: the player shows moving video with H.264 from the publisher', async (_name, layers) => {
    const stream = await t.createStream('obs');
    const publisher = await ObsLikePublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
      ...(layers ? { simulcastLayers: layers } : {}),
    });
    closers.push(() => publisher.close());
    await publisher.waitConnected(10_000);
    if (layers) expect(publisher.answerSdp).toContain('a=simulcast:recv 0;1;2');

    const page = await browser.newPage();
    closers.push(() => page.close());
    const played = await playUntilAdvanced(page, stream.playerUrl);
    expect(played.framesDecoded).toBeGreaterThan(10);
    expect(played.width).toBeGreaterThan(0);
    expect(played.height).toBeGreaterThan(0);
  });
});
