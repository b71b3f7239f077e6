/**
 * One small page interface over Playwright (Debian Chromium) and puppeteer-core (Debian
 * Firefox ESR over WebDriver BiDi), so each end-to-end scenario is written once and runs in
 * both browsers. Waits are on conditions in the page, never on sleeps, and a failed wait says
 * what it waited for and what the page looked like then.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  Browser as PwBrowser,
  BrowserContext,
  Frame as PwFrame,
  Page as PwPage,
} from 'playwright-core';
import type {
  Browser as PpBrowser,
  BrowserContext as PpContext,
  Frame as PpFrame,
  Page as PpPage,
} from 'puppeteer-core';
import { collectPageProblems as chromiumProblems, launchChromium } from './browser.ts';
import { collectPageProblems as firefoxProblems, launchFirefox } from './firefox.ts';

export type BrowserName = 'chromium' | 'firefox';

/**
 * Screenshots of every page land here (git-ignored; CI keeps the folder as its artifacts).
 * `WISP_SCREENSHOT_DIR` overrides it.
 */
export const ARTIFACT_DIR =
  process.env.WISP_SCREENSHOT_DIR ?? fileURLToPath(new URL('../artifacts/', import.meta.url));

/** What a wait returns: the condition's value, which was truthy. */
export type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

/** Script in a page or one of its frames. */
export interface Evaluator {
  evaluate<T, A = undefined>(fn: (arg: A) => T | Promise<T>, arg?: A): Promise<T>;
  /** Resolves once `fn(arg)` is truthy in the page; returns its value. */
  waitFor<T, A = undefined>(
    what: string,
    fn: (arg: A) => T | Promise<T>,
    arg?: A,
    timeoutMs?: number,
  ): Promise<Truthy<T>>;
}

export interface TestPage extends Evaluator {
  readonly browser: BrowserName;
  /** Page errors and console warnings/errors not matched by the ignore list. */
  readonly problems: string[];
  goto(url: string): Promise<void>;
  /** The page's frame whose URL contains `urlPart` (waits for it to exist). */
  frame(urlPart: string): Promise<Evaluator>;
  click(selector: string): Promise<void>;
  fill(selector: string, text: string): Promise<void>;
  select(selector: string, value: string): Promise<void>;
  press(key: string): Promise<void>;
  setViewport(width: number, height: number): Promise<void>;
  /** Saves `<ARTIFACT_DIR>/<browser>-<name>.png` (the viewport, or the whole page). */
  screenshot(name: string, options?: { fullPage?: boolean }): Promise<void>;
  close(): Promise<void>;
}

export interface TestBrowser {
  readonly name: BrowserName;
  /** A page in a fresh context (its own storage), so pages do not share sessionStorage. */
  newPage(ignore?: readonly RegExp[]): Promise<TestPage>;
  version(): Promise<string>;
  close(): Promise<void>;
}

async function describePage(page: TestPage): Promise<string> {
  return page
    .evaluate(() => {
      const w = window as unknown as { wispPlayer?: { state: string; message: string } };
      const player = w.wispPlayer ? `player ${w.wispPlayer.state} (${w.wispPlayer.message})` : '';
      const v = document.querySelector('video');
      const ranges = v
        ? Array.from(
            { length: v.buffered.length },
            (_, i) => `${v.buffered.start(i).toFixed(2)}-${v.buffered.end(i).toFixed(2)}`,
          )
        : [];
      const video = v
        ? `video ${v.videoWidth}x${v.videoHeight} t=${v.currentTime.toFixed(2)} ready=${v.readyState} ` +
          `network=${v.networkState} paused=${v.paused} error=${v.error?.message ?? v.error?.code ?? 'none'} ` +
          `buffered=[${ranges.join(',')}]`
        : 'no video';
      return `${location.href} ${player} body[data-state=${document.body?.dataset.state ?? ''}] ${video}`;
    })
    .catch(() => 'unknown');
}

function wrapWait<T>(page: TestPage, what: string, wait: Promise<T>): Promise<T> {
  return wait.catch(async (error: unknown) => {
    throw new Error(`${page.browser}: waited for ${what}; page: ${await describePage(page)}`, {
      cause: error,
    });
  });
}

function shotPath(browser: BrowserName, name: string): string {
  mkdirSync(ARTIFACT_DIR, { recursive: true });
  return join(ARTIFACT_DIR, `${browser}-${name}.png`);
}

function chromiumEvaluator(page: TestPage, target: PwPage | PwFrame): Evaluator {
  return {
    evaluate: <T, A>(fn: (arg: A) => T | Promise<T>, arg?: A) =>
      target.evaluate(fn as (arg: unknown) => T | Promise<T>, arg as unknown),
    async waitFor<T, A>(what: string, fn: (arg: A) => T | Promise<T>, arg?: A, timeoutMs = 20_000) {
      const handle = await wrapWait(
        page,
        what,
        target.waitForFunction(fn as (arg: unknown) => T | Promise<T>, arg as unknown, {
          timeout: timeoutMs,
          polling: 100,
        }),
      );
      return (await handle.jsonValue()) as Truthy<T>;
    },
  };
}

function firefoxEvaluator(page: TestPage, target: PpPage | PpFrame): Evaluator {
  return {
    evaluate: <T, A>(fn: (arg: A) => T | Promise<T>, arg?: A) =>
      target.evaluate(fn as (arg: unknown) => Promise<T>, arg) as Promise<T>,
    async waitFor<T, A>(what: string, fn: (arg: A) => T | Promise<T>, arg?: A, timeoutMs = 30_000) {
      const handle = await wrapWait(
        page,
        what,
        target.waitForFunction(
          fn as (arg: unknown) => unknown,
          { timeout: timeoutMs, polling: 100 },
          arg as unknown,
        ),
      );
      return (await handle.jsonValue()) as Truthy<T>;
    },
  };
}

class ChromiumPage implements TestPage {
  readonly browser = 'chromium';
  readonly problems: string[];
  constructor(
    readonly page: PwPage,
    readonly context: BrowserContext,
    ignore: readonly RegExp[],
  ) {
    this.problems = chromiumProblems(page, ignore);
  }
  async goto(url: string) {
    await this.page.goto(url);
  }
  evaluate<T, A>(fn: (arg: A) => T | Promise<T>, arg?: A): Promise<T> {
    return chromiumEvaluator(this, this.page).evaluate(fn, arg);
  }
  waitFor<T, A>(
    what: string,
    fn: (arg: A) => T | Promise<T>,
    arg?: A,
    timeoutMs?: number,
  ): Promise<Truthy<T>> {
    return chromiumEvaluator(this, this.page).waitFor(what, fn, arg, timeoutMs);
  }
  async frame(urlPart: string): Promise<Evaluator> {
    await this.page.waitForFunction(
      (part) => [...document.querySelectorAll('iframe')].some((f) => f.src.includes(part)),
      urlPart,
    );
    for (let i = 0; i < 100; i++) {
      const frame = this.page.frames().find((f) => f.url().includes(urlPart));
      if (frame) return chromiumEvaluator(this, frame);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`no frame at ${urlPart}`);
  }
  async click(selector: string) {
    await this.page.locator(selector).click();
  }
  async fill(selector: string, text: string) {
    await this.page.locator(selector).fill(text);
  }
  async select(selector: string, value: string) {
    await this.page.locator(selector).selectOption(value);
  }
  async press(key: string) {
    await this.page.keyboard.press(key);
  }
  async setViewport(width: number, height: number) {
    await this.page.setViewportSize({ width, height });
  }
  async screenshot(name: string, options: { fullPage?: boolean } = {}) {
    await this.page.screenshot({ path: shotPath(this.browser, name), ...options });
  }
  async close() {
    await this.context.close();
  }
}

class FirefoxPage implements TestPage {
  readonly browser = 'firefox';
  readonly problems: string[];
  constructor(
    readonly page: PpPage,
    readonly context: PpContext,
    ignore: readonly RegExp[],
  ) {
    this.problems = firefoxProblems(page, ignore);
  }
  async goto(url: string) {
    await this.page.goto(url);
  }
  evaluate<T, A>(fn: (arg: A) => T | Promise<T>, arg?: A): Promise<T> {
    return firefoxEvaluator(this, this.page).evaluate(fn, arg);
  }
  waitFor<T, A>(
    what: string,
    fn: (arg: A) => T | Promise<T>,
    arg?: A,
    timeoutMs?: number,
  ): Promise<Truthy<T>> {
    return firefoxEvaluator(this, this.page).waitFor(what, fn, arg, timeoutMs);
  }
  async frame(urlPart: string): Promise<Evaluator> {
    for (let i = 0; i < 200; i++) {
      const frame = this.page.frames().find((f) => f.url().includes(urlPart));
      if (frame) return firefoxEvaluator(this, frame);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`no frame at ${urlPart}`);
  }
  async click(selector: string) {
    await this.page.click(selector);
  }
  async fill(selector: string, text: string) {
    await this.page.$eval(selector, (el) => ((el as HTMLInputElement).value = ''));
    await this.page.type(selector, text);
  }
  async select(selector: string, value: string) {
    await this.page.select(selector, value);
  }
  async press(key: string) {
    await this.page.keyboard.press(key as Parameters<PpPage['keyboard']['press']>[0]);
  }
  async setViewport(width: number, height: number) {
    await this.page.setViewport({ width, height });
  }
  async screenshot(name: string, options: { fullPage?: boolean } = {}) {
    await this.page.screenshot({
      path: shotPath(this.browser, name),
      ...options,
    });
  }
  async close() {
    await this.context.close();
  }
}

export async function startChromium(): Promise<TestBrowser> {
  const browser: PwBrowser = await launchChromium();
  return {
    name: 'chromium',
    async newPage(ignore = []) {
      const context = await browser.newContext();
      return new ChromiumPage(await context.newPage(), context, ignore);
    },
    version: () => Promise.resolve(browser.version()),
    close: () => browser.close(),
  };
}

export async function startFirefox(): Promise<TestBrowser> {
  const browser: PpBrowser = await launchFirefox();
  return {
    name: 'firefox',
    async newPage(ignore = []) {
      const context = await browser.createBrowserContext();
      return new FirefoxPage(await context.newPage(), context, ignore);
    },
    version: () => browser.version(),
    close: () => browser.close(),
  };
}

export function startBrowser(name: BrowserName): Promise<TestBrowser> {
  return name === 'chromium' ? startChromium() : startFirefox();
}
