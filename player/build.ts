/**
 * Bundles the player pages with esbuild into `player/dist/` and enforces the bundle-size
 * budget in `player/budget.json`: per output file, a maximum of raw and of gzip bytes (every
 * output needs an entry; a bare number is a raw-only budget). Nothing is written when the
 * build fails or a budget is exceeded, and files are replaced by rename, so a running server
 * never serves a half-written bundle.
 *
 * One bundle per page, no shared chunks: a page loads exactly one script, and the live path
 * (watch.js, embed.js) stays small because hls.js is its own entry (`hls.js`), which the
 * player imports at run time only when a recording plays.
 *
 * CLI: `npm run build -w @wisp/player` (= `node --import tsx build.ts` in `player/`).
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { DEFAULT_DIST_DIR } from './src/paths.ts';

const PLAYER_DIR = fileURLToPath(new URL('./', import.meta.url));

export const DEFAULT_BUDGET_FILE = join(PLAYER_DIR, 'budget.json');

const ENTRY_POINTS = {
  watch: join(PLAYER_DIR, 'src/web/watch.ts'),
  publish: join(PLAYER_DIR, 'src/web/publish.ts'),
  admin: join(PLAYER_DIR, 'src/web/admin.ts'),
  embed: join(PLAYER_DIR, 'src/web/embed.ts'),
  hls: join(PLAYER_DIR, 'src/web/hls.ts'),
  player: join(PLAYER_DIR, 'src/web/player.css'),
};

/** Maximum sizes of one output file. */
export interface FileBudget {
  raw: number;
  gzip?: number;
}

export interface BuildOptions {
  /** Default: `player/dist`. */
  outDir?: string;
  /** Default: `player/budget.json`. */
  budgetFile?: string;
}

export interface BuiltAsset {
  file: string;
  bytes: number;
  gzipBytes: number;
  /** The budget; source maps have none. */
  budget: FileBudget | undefined;
}

export class BudgetExceededError extends Error {
  readonly assets: BuiltAsset[];

  constructor(message: string, assets: BuiltAsset[]) {
    super(message);
    this.name = 'BudgetExceededError';
    this.assets = assets;
  }
}

/** Builds both pages and returns what was written. Throws if a budget is exceeded. */
export async function buildPlayer(options: BuildOptions = {}): Promise<BuiltAsset[]> {
  const outDir = options.outDir ?? DEFAULT_DIST_DIR;
  const budget = await readBudget(options.budgetFile ?? DEFAULT_BUDGET_FILE);
  const result = await build({
    entryPoints: ENTRY_POINTS,
    outdir: outDir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    charset: 'utf8',
    legalComments: 'none',
    write: false,
    logLevel: 'silent',
  });

  const assets = result.outputFiles.map((output): BuiltAsset => {
    const file = basename(output.path);
    return {
      file,
      bytes: output.contents.byteLength,
      gzipBytes: gzipSync(output.contents).byteLength,
      budget: budget[file],
    };
  });
  const problems = assets.flatMap((asset) => {
    if (asset.file.endsWith('.map')) return [];
    if (asset.budget === undefined) return [`${asset.file} has no budget in budget.json`];
    const over: string[] = [];
    if (asset.bytes > asset.budget.raw) {
      over.push(`${asset.file} is ${asset.bytes} bytes, over its budget of ${asset.budget.raw}`);
    }
    if (asset.budget.gzip !== undefined && asset.gzipBytes > asset.budget.gzip) {
      over.push(
        `${asset.file} is ${asset.gzipBytes} bytes gzipped, over its budget of ${asset.budget.gzip}`,
      );
    }
    return over;
  });
  if (problems.length > 0) throw new BudgetExceededError(problems.join('; '), assets);

  await mkdir(outDir, { recursive: true });
  for (const output of result.outputFiles) {
    const temporary = `${output.path}.${process.pid}.tmp`;
    await writeFile(temporary, output.contents);
    await rename(temporary, output.path);
  }
  // Outputs of older builds (a renamed entry) would otherwise be served forever.
  const current = new Set(assets.map((asset) => asset.file));
  for (const entry of await readdir(outDir)) {
    if (!current.has(entry)) await rm(join(outDir, entry), { force: true, recursive: true });
  }
  return assets;
}

async function readBudget(file: string): Promise<Record<string, FileBudget>> {
  const parsed = JSON.parse(await readFile(file, 'utf8')) as unknown;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new TypeError(`${file} must be a JSON object of file name -> {raw, gzip} bytes`);
  }
  const positive = (value: unknown): value is number =>
    typeof value === 'number' && Number.isFinite(value) && value > 0;
  const budget: Record<string, FileBudget> = {};
  for (const [name, entry] of Object.entries(parsed as Record<string, unknown>)) {
    if (name.startsWith('$')) continue; // "$comment" and the like
    if (positive(entry)) {
      budget[name] = { raw: entry };
      continue;
    }
    const { raw, gzip } = (entry ?? {}) as { raw?: unknown; gzip?: unknown };
    if (!positive(raw) || (gzip !== undefined && !positive(gzip))) {
      throw new TypeError(
        `${file}: the budget of ${name} must be {"raw": bytes, "gzip": bytes} (positive numbers)`,
      );
    }
    budget[name] = gzip === undefined ? { raw } : { raw, gzip };
  }
  return budget;
}

/** One line per asset: size, gzip size and share of the budget. */
export function formatReport(assets: BuiltAsset[]): string {
  const width = Math.max(...assets.map((asset) => asset.file.length));
  return assets
    .map((asset) => {
      const budget = asset.budget;
      const percent = (part: number, whole: number) => `${((part / whole) * 100).toFixed(0)}%`;
      const share =
        budget === undefined
          ? ''
          : `  ${percent(asset.bytes, budget.raw)} of ${budget.raw}` +
            (budget.gzip === undefined
              ? ''
              : `, gzip ${percent(asset.gzipBytes, budget.gzip)} of ${budget.gzip}`);
      return `${asset.file.padEnd(width)}  ${String(asset.bytes).padStart(7)} B  gzip ${String(asset.gzipBytes).padStart(6)} B${share}`;
    })
    .join('\n');
}

async function main(): Promise<void> {
  try {
    const assets = await buildPlayer();
    process.stdout.write(`player bundles in ${DEFAULT_DIST_DIR}\n${formatReport(assets)}\n`);
  } catch (error) {
    if (error instanceof BudgetExceededError) {
      process.stderr.write(`${formatReport(error.assets)}\n`);
    }
    process.stderr.write(
      `player build failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
