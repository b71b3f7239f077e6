/**
 * Time to first frame of the watch page: opens `/watch/:id` of a live stream in Debian
 * Chromium `RUNS` times (default 10), each in a fresh browser context (no cache, no session),
 * and prints how long from the navigation's start to the first video frame the page rendered
 * (`requestVideoFrameCallback`), with the median and the 95th percentile (nearest rank).
 *
 * The stream comes from a libwebrtc publisher in Node (`WrtcPublisher`, VP8 640x360 at 30 fps,
 * which answers the SFU's keyframe requests as browsers do) on a platform in this process.
 *
 *   npm run ttff -w @wisp/player           (RUNS=20 npm run ttff -w @wisp/player)
 *   TTFF_DETAIL=1 npm run ttff -w @wisp/player   (also when each step happened)
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { WrtcPublisher } from '@wisp/loadtest';
import { startPlatform } from '../../server/test/support/platform.ts';
import { buildPlayer } from '../build.ts';
import { DEFAULT_DIST_DIR } from '../src/paths.ts';
import { launchChromium } from '../test/support/browser.ts';

const RUNS = Number(process.env.RUNS ?? 10);

const FIRST_FRAME_PROBE = `
window.wispMarks = [];
(function () {
  var Original = window.RTCPeerConnection;
  window.RTCPeerConnection = function (config) {
    var pc = new Original(config);
    window.wispMarks.push(['pc', performance.now()]);
    pc.addEventListener('icegatheringstatechange', function () { window.wispMarks.push(['gathering ' + pc.iceGatheringState, performance.now()]); });
    pc.addEventListener('connectionstatechange', function () { window.wispMarks.push([pc.connectionState, performance.now()]); });
    pc.addEventListener('track', function () { window.wispMarks.push(['track', performance.now()]); });
    return pc;
  };
  window.RTCPeerConnection.prototype = Original.prototype;
})();
(function watch() {
  var video = document.querySelector('video');
  if (!video) { setTimeout(watch, 5); return; }
  video.addEventListener('playing', function () {
    if (window.wispPlaying === undefined) window.wispPlaying = performance.now();
  }, { once: true });
  video.requestVideoFrameCallback(function () { window.wispFirstFrame = performance.now(); });
})();
`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main(): Promise<void> {
  if (!existsSync(join(DEFAULT_DIST_DIR, 'watch.js'))) await buildPlayer();
  const t = await startPlatform();
  const browser = await launchChromium();
  let publisher: WrtcPublisher | undefined;
  try {
    const stream = await t.createStream('ttff');
    publisher = await WrtcPublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
      width: 640,
      height: 360,
      fps: 30,
    });
    await publisher.waitConnected(10_000);
    const results: { firstFrameMs: number; playingMs: number }[] = [];
    for (let run = 0; run < RUNS; run++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      // From the document's start: the first frame presented by the page's <video>. A string,
      // not a function: tsx (esbuild keepNames) would wrap named functions in a helper that
      // does not exist in the page.
      await page.addInitScript({ content: FIRST_FRAME_PROBE });
      await page.goto(stream.playerUrl);
      const times = await page.waitForFunction(
        () => {
          const w = window as unknown as { wispFirstFrame?: number; wispPlaying?: number };
          return w.wispFirstFrame !== undefined
            ? { firstFrameMs: w.wispFirstFrame, playingMs: w.wispPlaying ?? NaN }
            : false;
        },
        undefined,
        { timeout: 20_000, polling: 50 },
      );
      const value = (await times.jsonValue()) as { firstFrameMs: number; playingMs: number };
      if (process.env.TTFF_DETAIL) {
        // Where the time went: peer connection events and the page's requests (start, end).
        const detail = await page.evaluate(() => ({
          marks: (window as unknown as { wispMarks: [string, number][] }).wispMarks.map(
            ([what, at]) => `${what} ${at.toFixed(0)}`,
          ),
          requests: (performance.getEntriesByType('resource') as PerformanceResourceTiming[]).map(
            (e) =>
              `${new URL(e.name).pathname} ${e.startTime.toFixed(0)}-${e.responseEnd.toFixed(0)}`,
          ),
        }));
        process.stdout.write(`  ${detail.marks.join(', ')}\n  ${detail.requests.join(', ')}\n`);
      }
      results.push(value);
      process.stdout.write(
        `run ${run + 1}: first frame ${value.firstFrameMs.toFixed(0)} ms ` +
          `(playing ${value.playingMs.toFixed(0)} ms)\n`,
      );
      await context.close();
    }
    const sorted = results.map((r) => r.firstFrameMs).sort((a, b) => a - b);
    process.stdout.write(
      `time to first frame over ${RUNS} runs (Chromium ${browser.version()}): ` +
        `median ${percentile(sorted, 50).toFixed(0)} ms, p95 ${percentile(sorted, 95).toFixed(0)} ms, ` +
        `min ${sorted[0].toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms\n`,
    );
  } finally {
    await publisher?.close();
    await browser.close();
    await t.stop();
  }
}

await main();
// libwebrtc (the publisher's) can crash while Node tears it down at exit; the numbers are out.
process.exit(process.exitCode ?? 0);
