/**
 * Waiting on the player pages' `window.wispPlayer` / `window.wispPublisher` state from tests,
 * with a failure message that says where the page got stuck.
 */
import type { Page } from 'playwright-core';
import type {
  PlayerState,
  PublisherState,
  WispPlayerApi,
  WispPublisherApi,
} from '../../src/index.ts';

type PageWindow = Window & { wispPlayer?: WispPlayerApi; wispPublisher?: WispPublisherApi };

type Target = 'wispPlayer' | 'wispPublisher';

async function waitForState(
  page: Page,
  target: Target,
  predicate: { is?: string; not?: string },
  timeout: number,
): Promise<void> {
  try {
    await page.waitForFunction(
      ({ target, is, not }) => {
        const state = (window as unknown as PageWindow)[target]?.state;
        if (state === undefined) return false;
        return is !== undefined ? state === is : state !== not;
      },
      { target, ...predicate },
      { timeout },
    );
  } catch (error) {
    const now = await page
      .evaluate((target) => {
        const api = (window as unknown as PageWindow)[target];
        return api ? `${api.state} (${api.message})` : 'not started';
      }, target)
      .catch(() => 'unknown');
    const wanted = predicate.is !== undefined ? `=== '${predicate.is}'` : `!== '${predicate.not}'`;
    throw new Error(`waited ${timeout} ms for ${target}.state ${wanted}; it is ${now}`, {
      cause: error,
    });
  }
}

export function waitForPlayerState(page: Page, state: PlayerState, timeout = 20_000) {
  return waitForState(page, 'wispPlayer', { is: state }, timeout);
}

export function waitForPlayerToLeave(page: Page, state: PlayerState, timeout = 20_000) {
  return waitForState(page, 'wispPlayer', { not: state }, timeout);
}

export function waitForPublisherState(page: Page, state: PublisherState, timeout = 20_000) {
  return waitForState(page, 'wispPublisher', { is: state }, timeout);
}

/** Resolves once the page's `<video>` has played `seconds` more than when called. */
export async function waitForVideoToAdvance(page: Page, seconds: number, timeout = 15_000) {
  const start = await page.evaluate(() => document.querySelector('video')!.currentTime);
  await page.waitForFunction(
    ({ start, seconds }) => document.querySelector('video')!.currentTime > start + seconds,
    { start, seconds },
    { timeout },
  );
}

export interface PlayedVideo {
  /** The player's count of decoded frames. */
  framesDecoded: number;
  /** The `<video>` element's intrinsic size. */
  width: number;
  height: number;
}

/**
 * Opens the player page at `url`, waits until it plays, its video has advanced by `seconds`
 * and it has decoded more than `minFrames` frames, and returns what it decoded. The frame
 * count is waited for, not assumed: `currentTime` follows the audio clock, and video can wait
 * up to a keyframe interval (1 s for the OBS-like publisher, which ignores PLIs like OBS),
 * e.g. when the SFU moves a simulcast viewer to another layer. Seen once in CI: 3 frames
 * decoded after 1.5 s of playback with 3 layers. A video that never resumes still fails.
 */
export async function playUntilAdvanced(
  page: Page,
  url: string,
  seconds = 1.5,
  minFrames = 10,
  timeout = 15_000,
): Promise<PlayedVideo> {
  await page.goto(url);
  await waitForPlayerState(page, 'playing', 20_000);
  await waitForVideoToAdvance(page, seconds, timeout);
  const read = () =>
    page.evaluate(async () => {
      const video = document.querySelector('video')!;
      const { framesDecoded } = await (window as unknown as PageWindow).wispPlayer!.stats();
      return { framesDecoded, width: video.videoWidth, height: video.videoHeight };
    });
  const deadline = Date.now() + timeout;
  let played = await read();
  while (played.framesDecoded <= minFrames && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    played = await read();
  }
  return played;
}
