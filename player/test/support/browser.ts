/**
 * Real Chromium for tests (Debian's /usr/bin/chromium driven by playwright-core), with a fake
 * camera and microphone and autoplay allowed. Shared by every browser test in the repository.
 */
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
];

export interface LaunchOptions {
  /** Extra command-line flags, appended to CHROMIUM_ARGS. */
  args?: string[];
}

/** Launches headless Chromium. Close it with `browser.close()` in afterAll. */
export async function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM_PATH}: run npm run setup`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS, ...(options.args ?? [])],
  });
}

/**
 * Collects uncaught page errors and console errors/warnings, so a test can assert there were
 * none and print them when it fails. Console lines matching one of `ignore` are skipped, e.g.
 * Chromium's "Failed to load resource: ... 409" for an expected WHEP 409.
 */
export function collectPageProblems(page: Page, ignore: readonly RegExp[] = []): string[] {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() !== 'error' && message.type() !== 'warning') return;
    const where = message.location().url;
    const line = `console.${message.type()}: ${message.text()}${where ? ` (${where})` : ''}`;
    if (!ignore.some((pattern) => pattern.test(line))) problems.push(line);
  });
  return problems;
}
