/**
 * Stock Firefox for tests: Debian's /usr/bin/firefox-esr driven by puppeteer-core over WebDriver
 * BiDi (Playwright can only drive its own patched Firefox build), with a fake camera and
 * microphone and autoplay allowed. Also the puppeteer twins of pages.ts (whose helpers take a
 * Playwright page), and a recorder of the page's RTCPeerConnections so a test can read the SDP
 * and the ICE pair the browser really used.
 *
 * No ICE preference is set on purpose: the tests prove that a stock Firefox reaches the server.
 * (Firefox never pairs its host addresses with a loopback-only remote candidate, so a server
 * that announced only 127.0.0.1 would need `media.peerconnection.ice.loopback`; wisp announces
 * the machine's interface addresses instead.)
 */
import { existsSync } from 'node:fs';
import puppeteer from 'puppeteer-core';
import type { Browser, Page } from 'puppeteer-core';
import type {
  PlayerState,
  PublisherState,
  WispPlayerApi,
  WispPublisherApi,
} from '../../src/index.ts';

export const FIREFOX_PATH = '/usr/bin/firefox-esr';

/** about:config preferences of every test profile (on top of puppeteer's automation defaults). */
export const FIREFOX_PREFS: Readonly<Record<string, unknown>> = {
  // A generated camera picture and microphone tone, granted without a prompt.
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  // 0 = allow all autoplay, including audible (the watch page starts muted anyway).
  'media.autoplay.default': 0,
};

export interface FirefoxLaunchOptions {
  /** Extra preferences, merged over FIREFOX_PREFS. */
  prefs?: Record<string, unknown>;
  /** Browser start timeout in ms. Default 60 s (a first start on a busy 2-core machine is slow). */
  timeout?: number;
}

/** Launches headless Firefox. Close it with `browser.close()` in afterAll. */
export async function launchFirefox(options: FirefoxLaunchOptions = {}): Promise<Browser> {
  if (!existsSync(FIREFOX_PATH)) {
    throw new Error(`Firefox is not installed at ${FIREFOX_PATH}: run npm run setup -- --test`);
  }
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX_PATH,
    headless: true,
    timeout: options.timeout ?? 60_000,
    extraPrefsFirefox: { ...FIREFOX_PREFS, ...(options.prefs ?? {}) },
  });
}

/**
 * Collects uncaught page errors and console errors/warnings, so a test can assert there were
 * none and print them when it fails. Console lines matching one of `ignore` are skipped.
 */
export function collectPageProblems(page: Page, ignore: readonly RegExp[] = []): string[] {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`pageerror: ${String(error)}`));
  page.on('console', (message) => {
    const type = message.type();
    if (type !== 'error' && type !== 'warn') return;
    const where = message.location().url;
    const line = `console.${type}: ${message.text()}${where ? ` (${where})` : ''}`;
    if (!ignore.some((pattern) => pattern.test(line))) problems.push(line);
  });
  return problems;
}

type PageWindow = Window & {
  wispPlayer?: WispPlayerApi;
  wispPublisher?: WispPublisherApi;
  wispTestPeerConnections?: RTCPeerConnection[];
};

type Target = 'wispPlayer' | 'wispPublisher';

/** Polling interval of in-page waits: a fixed interval, since headless pages may throttle rAF. */
const POLL_MS = 100;

async function waitForState(
  page: Page,
  target: Target,
  predicate: { is?: string; not?: string },
  timeout: number,
): Promise<void> {
  try {
    await page.waitForFunction(
      (target: Target, is: string | undefined, not: string | undefined) => {
        const state = (window as unknown as PageWindow)[target]?.state;
        if (state === undefined) return false;
        return is !== undefined ? state === is : state !== not;
      },
      { timeout, polling: POLL_MS },
      target,
      predicate.is,
      predicate.not,
    );
  } catch (error) {
    const now = await page
      .evaluate((target: Target) => {
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
  try {
    await page.waitForFunction(
      (start: number, seconds: number) =>
        document.querySelector('video')!.currentTime > start + seconds,
      { timeout, polling: POLL_MS },
      start,
      seconds,
    );
  } catch (error) {
    const now = await page
      .evaluate(() => document.querySelector('video')!.currentTime)
      .catch(() => NaN);
    throw new Error(
      `waited ${timeout} ms for the video to play ${seconds} s past ${start}; at ${now}`,
      {
        cause: error,
      },
    );
  }
}

/**
 * Makes every document the page loads from now on keep its RTCPeerConnections in
 * `window.wispTestPeerConnections` (recorded when the page first calls setLocalDescription;
 * nothing else changes). Call before `page.goto`.
 */
export async function recordPeerConnections(page: Page): Promise<void> {
  await page.evaluateOnNewDocument(() => {
    const w = window as unknown as PageWindow;
    const recorded: RTCPeerConnection[] = [];
    w.wispTestPeerConnections = recorded;
    const prototype = RTCPeerConnection.prototype;
    const { value: original } = Object.getOwnPropertyDescriptor(
      prototype,
      'setLocalDescription',
    ) as { value: (this: RTCPeerConnection, ...args: unknown[]) => Promise<void> };
    Object.defineProperty(prototype, 'setLocalDescription', {
      configurable: true,
      writable: true,
      value: function (this: RTCPeerConnection, ...args: unknown[]) {
        if (!recorded.includes(this)) recorded.push(this);
        return original.apply(this, args);
      },
    });
  });
}

export interface IceCandidateInfo {
  address: string;
  port: number;
  protocol: string;
  candidateType: string;
}

export interface PeerConnectionSnapshot {
  connectionState: RTCPeerConnectionState;
  localSdp: string;
  remoteSdp: string;
  /** The ICE pair carrying media: the one getStats() marks selected (Firefox) or nominated. */
  selectedPair: { local: IceCandidateInfo; remote: IceCandidateInfo } | undefined;
}

/** The newest recorded RTCPeerConnection of the page (see recordPeerConnections). */
export async function lastPeerConnection(page: Page): Promise<PeerConnectionSnapshot> {
  return page.evaluate(async () => {
    const recorded = (window as unknown as PageWindow).wispTestPeerConnections ?? [];
    const pc = recorded.at(-1);
    if (!pc) throw new Error('the page created no RTCPeerConnection (was it recorded?)');
    const stats = await pc.getStats();
    type Pair = RTCIceCandidatePairStats & { selected?: boolean };
    type Candidate = RTCStats & {
      address?: string;
      port?: number;
      protocol?: string;
      candidateType?: string;
    };
    let pair: Pair | undefined;
    stats.forEach((entry: RTCStats) => {
      if (entry.type !== 'candidate-pair') return;
      const candidate = entry as Pair;
      if (candidate.state !== 'succeeded') return;
      if (candidate.selected === true || (!pair && candidate.nominated === true)) pair = candidate;
    });
    const info = (id: string | undefined) => {
      const entry = (id ? stats.get(id) : undefined) as Candidate | undefined;
      return {
        address: entry?.address ?? '?',
        port: entry?.port ?? 0,
        protocol: entry?.protocol ?? '?',
        candidateType: entry?.candidateType ?? '?',
      };
    };
    return {
      connectionState: pc.connectionState,
      localSdp: pc.localDescription?.sdp ?? '',
      remoteSdp: pc.remoteDescription?.sdp ?? '',
      selectedPair: pair
        ? { local: info(pair.localCandidateId), remote: info(pair.remoteCandidateId) }
        : undefined,
    };
  });
}
