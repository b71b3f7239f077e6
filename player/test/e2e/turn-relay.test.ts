/**
 * The watch page in real Chromium plays through a real TURN server: coturn on loopback
 * (server/test/support/coturn.ts) with the platform's TURN_SECRET, the page forced to relay
 * candidates only. Nothing but the ice-server Links the page reads itself can connect it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WrtcPublisher } from '@wisp/loadtest';
import { startCoturn, type Coturn } from '../../../server/test/support/coturn.ts';
import { startPlatform } from '../../../server/test/support/platform.ts';
import type { TestPlatform } from '../../../server/test/support/platform.ts';
import { buildPlayer } from '../../build.ts';
import { DEFAULT_DIST_DIR } from '../../src/index.ts';
import type { WispPlayerApi } from '../../src/index.ts';
import { collectPageProblems, launchChromium } from '../support/browser.ts';
import { waitForPlayerState, waitForVideoToAdvance } from '../support/pages.ts';

const SECRET = randomBytes(24).toString('base64url');

let coturn: Coturn;
let t: TestPlatform;
let browser: Browser;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  if (!existsSync(join(DEFAULT_DIST_DIR, 'watch.js'))) await buildPlayer();
  coturn = await startCoturn({ secret: SECRET });
  t = await startPlatform({
    ICE_SERVERS: coturn.turnUrl,
    TURN_SECRET: SECRET,
    // Media on loopback only: coturn relays to loopback peers only.
    RTC_LISTEN_IP: '127.0.0.1',
    MEDIASOUP_WORKERS: '1',
  });
  browser = await launchChromium();
});

afterAll(async () => {
  while (closers.length) await closers.pop()!().catch(() => undefined);
  await browser?.close();
  await t?.stop();
  await coturn?.stop();
});

it('the watch page plays a stream through coturn with relay candidates only', async () => {
  const stream = await t.createStream('turn relay');
  const publisher = await WrtcPublisher.start({
    whipUrl: stream.whipUrl,
    streamKey: stream.streamKey,
  });
  closers.push(() => publisher.close());
  await publisher.waitConnected(10_000);

  const page = await browser.newPage();
  const problems = collectPageProblems(page);
  // A viewer behind a firewall that lets only the TURN server through, as far as ICE goes.
  await page.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    const created: RTCPeerConnection[] = [];
    (window as unknown as { created: RTCPeerConnection[] }).created = created;
    window.RTCPeerConnection = class extends Native {
      constructor(config?: RTCConfiguration) {
        super({ ...config, iceTransportPolicy: 'relay' });
        created.push(this);
      }
    };
  });
  await page.goto(stream.playerUrl);
  await waitForPlayerState(page, 'playing');
  await waitForVideoToAdvance(page, 1);
  const stats = await page.evaluate(() =>
    (window as unknown as { wispPlayer: WispPlayerApi }).wispPlayer.stats(),
  );
  expect(stats.framesDecoded).toBeGreaterThan(0);

  const pair = await page.evaluate(async () => {
    const [pc] = (window as unknown as { created: RTCPeerConnection[] }).created;
    const report = await pc.getStats();
    const entries = new Map<string, Record<string, unknown>>();
    report.forEach((entry: Record<string, unknown>) => entries.set(entry.id as string, entry));
    const transport = [...entries.values()].find((e) => e.type === 'transport');
    const selected = entries.get(transport?.selectedCandidatePairId as string);
    return {
      local: entries.get(selected?.localCandidateId as string)?.candidateType,
      remote: entries.get(selected?.remoteCandidateId as string)?.candidateType,
    };
  });
  expect(pair.local).toBe('relay');
  // The allocation was made with the credentials of the page's OPTIONS (issued for the stream).
  expect(coturn.log()).toMatch(
    new RegExp(`user <\\d+:${stream.id}>: incoming packet ALLOCATE processed, success`),
  );
  expect(problems).toEqual([]);
  await page.close();
});
