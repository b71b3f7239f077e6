import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BudgetExceededError, buildPlayer } from '../../build.ts';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'wisp-player-build-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const ROOMY = { raw: 1_000_000, gzip: 500_000 };
const ALL = {
  'watch.js': ROOMY,
  'embed.js': ROOMY,
  'publish.js': ROOMY,
  'admin.js': ROOMY,
  'hls.js': ROOMY,
  'player.css': ROOMY,
};

async function budgetFile(name: string, budget: Record<string, unknown>): Promise<string> {
  const file = join(root, `${name}.json`);
  await writeFile(file, JSON.stringify(budget));
  return file;
}

describe('buildPlayer', () => {
  it('writes minified bundles with source maps and reports their sizes', async () => {
    const outDir = join(root, 'ok');
    const assets = await buildPlayer({
      outDir,
      budgetFile: await budgetFile('ok', { $comment: 'ignored', ...ALL }),
    });
    expect((await readdir(outDir)).sort()).toEqual([
      'admin.js',
      'admin.js.map',
      'embed.js',
      'embed.js.map',
      'hls.js',
      'hls.js.map',
      'player.css',
      'player.css.map',
      'publish.js',
      'publish.js.map',
      'watch.js',
      'watch.js.map',
    ]);
    const watch = assets.find((asset) => asset.file === 'watch.js')!;
    expect(watch.bytes).toBeGreaterThan(1000);
    expect(watch.gzipBytes).toBeLessThan(watch.bytes);
    // hls.js is its own file: the live page does not carry it.
    const hls = assets.find((asset) => asset.file === 'hls.js')!;
    expect(hls.bytes).toBeGreaterThan(100_000);
    expect(watch.bytes).toBeLessThan(hls.bytes / 4);
  }, 60_000);

  it('fails without writing anything when a bundle is over budget', async () => {
    const outDir = join(root, 'over');
    const error = await buildPlayer({
      outDir,
      budgetFile: await budgetFile('over', {
        ...ALL,
        'watch.js': 100,
        'embed.js': { raw: 1_000_000, gzip: 100 },
      }),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect((error as Error).message).toMatch(/watch\.js is \d+ bytes, over its budget of 100/);
    expect((error as Error).message).toMatch(
      /embed\.js is \d+ bytes gzipped, over its budget of 100/,
    );
    expect(existsSync(outDir)).toBe(false);
  }, 60_000);

  it('fails when an output has no budget', async () => {
    const partial: Record<string, unknown> = { ...ALL };
    delete partial['player.css'];
    const budget = await budgetFile('partial', partial);
    await expect(
      buildPlayer({ outDir: join(root, 'partial'), budgetFile: budget }),
    ).rejects.toThrow(/player\.css has no budget/);
  }, 60_000);

  it('refuses a malformed budget', async () => {
    const budget = await budgetFile('bad', { ...ALL, 'watch.js': { gzip: 10 } });
    await expect(buildPlayer({ outDir: join(root, 'bad'), budgetFile: budget })).rejects.toThrow(
      /budget of watch\.js must be/,
    );
  });
});
