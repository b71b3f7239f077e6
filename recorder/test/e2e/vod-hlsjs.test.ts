/**
 * A recording plays from start to end in a real browser through hls.js (Debian Chromium,
 * playwright-core), from a page on another origin (the VOD is public and CORS-enabled), the
 * way the player and third-party sites replay it.
 */
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { ObsLikePublisher } from '@wisp/loadtest';
import { startPlatform, type TestPlatform } from '../../../server/test/support/platform.ts';
import { collectPageProblems, launchChromium } from '../../../player/test/support/browser.ts';
import { eventually } from '../support/probe.ts';

const HLS_JS = createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js');

let t: TestPlatform;
let browser: Browser;
let site: Server;
let siteUrl: string;

beforeAll(async () => {
  t = await startPlatform({ RECORDINGS: 'on' });
  browser = await launchChromium();
  const hlsJs = await readFile(HLS_JS);
  site = createServer((request, response) => {
    if (request.url === '/hls.js') {
      response.writeHead(200, { 'Content-Type': 'text/javascript' });
      response.end(hlsJs);
      return;
    }
    response.writeHead(200, { 'Content-Type': 'text/html' });
    response.end(
      `<!doctype html><video id="v" muted playsinline></video><script src="/hls.js"></script>`,
    );
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  await browser?.close();
  site?.close();
  await t?.stop();
});

describe('replay in a browser', () => {
  it('plays a recording through hls.js from start to end', async () => {
    const stream = await t.createStream('replay');
    const publisher = await ObsLikePublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
    });
    await publisher.waitConnected();
    await new Promise((resolve) => setTimeout(resolve, 9000));
    await publisher.close();
    let hlsUrl = '';
    let duration = 0;
    await eventually(
      async () => {
        const body = (await (await t.api(`/api/streams/${stream.id}/recordings`)).json()) as {
          recordings: { status: string; hlsUrl: string; durationSeconds: number }[];
        };
        const done = body.recordings[0];
        if (done?.status !== 'ready') return false;
        hlsUrl = done.hlsUrl;
        duration = done.durationSeconds;
        return true;
      },
      10_000,
      'ready',
    );
    const page = await browser.newPage();
    const problems = collectPageProblems(page);
    await page.goto(siteUrl);
    const result = await page.evaluate(async (url: string) => {
      const video = document.getElementById('v') as HTMLVideoElement;
      interface HlsInstance {
        on(
          event: string,
          handler: (event: unknown, data: { fatal: boolean; details: string }) => void,
        ): void;
        loadSource(url: string): void;
        attachMedia(media: HTMLMediaElement): void;
      }
      const Hls = (
        window as unknown as {
          Hls: { new (): HlsInstance; isSupported(): boolean; Events: { ERROR: string } };
        }
      ).Hls;
      if (!Hls.isSupported()) return { error: 'MSE not supported' };
      const hls = new Hls();
      const errors: string[] = [];
      hls.on(Hls.Events.ERROR, (_, data) => {
        if (data.fatal) errors.push(data.details);
      });
      hls.loadSource(url);
      hls.attachMedia(video);
      await new Promise((resolve) =>
        video.addEventListener('loadedmetadata', resolve, { once: true }),
      );
      video.playbackRate = 4;
      await video.play();
      await new Promise((resolve, reject) => {
        video.addEventListener('ended', resolve, { once: true });
        setTimeout(() => reject(new Error(`stuck at ${video.currentTime}`)), 20_000);
      });
      const quality = video.getVideoPlaybackQuality();
      return {
        currentTime: video.currentTime,
        duration: video.duration,
        width: video.videoWidth,
        height: video.videoHeight,
        frames: quality.totalVideoFrames,
        errors,
      };
    }, hlsUrl);
    console.log(`hls.js: ${JSON.stringify(result)} of a ${duration} s broadcast`);
    expect(result).toMatchObject({ width: 640, height: 360, errors: [] });
    const played = result as { currentTime: number; duration: number; frames: number };
    expect(played.currentTime).toBeGreaterThan(duration - 4);
    expect(played.currentTime).toBeCloseTo(played.duration, 0);
    expect(played.frames).toBeGreaterThan(200);
    expect(problems).toEqual([]);
    await page.close();
  });
});
