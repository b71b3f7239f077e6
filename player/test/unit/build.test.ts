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

async function budgetFile(name: string, budget: Record<string, number>): Promise<string> {
  const file = join(root, `${name}.json`);
  await writeFile(file, JSON.stringify(budget));
  return file;
}

describe('buildPlayer', () => {
  it('writes minified bundles with source maps and reports their sizes', async () => {
    const outDir = join(root, 'ok');
    const assets = await buildPlayer({
      outDir,
      budgetFile: await budgetFile('ok', {
        'watch.js': 100_000,
        'publish.js': 100_000,
        'player.css': 100_000,
      }),
    });
    expect((await readdir(outDir)).sort()).toEqual([
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
  }, 30_000);

  it('fails without writing anything when a bundle is over budget', async () => {
    const outDir = join(root, 'over');
    const error = await buildPlayer({
      outDir,
      budgetFile: await budgetFile('over', {
        'watch.js': 100,
        'publish.js': 100_000,
        'player.css': 100_000,
      }),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect((error as Error).message).toMatch(/watch\.js is \d+ bytes, over its budget of 100/);
    expect(existsSync(outDir)).toBe(false);
  }, 30_000);

  it('fails when an output has no budget', async () => {
    const budget = await budgetFile('partial', { 'watch.js': 100_000, 'publish.js': 100_000 });
    await expect(
      buildPlayer({ outDir: join(root, 'partial'), budgetFile: budget }),
    ).rejects.toThrow(/player\.css has no budget/);
  }, 30_000);
});
