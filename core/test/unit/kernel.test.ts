/**
 * The kernel (`@wisp/core`) must not load mediasoup: a front door or control process imports
 * it without starting or even loading the media library. Checked in a fresh Node process.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

async function mediasoupModulesAfterImporting(specifier: string): Promise<number> {
  const script =
    `await import(${JSON.stringify(specifier)});` +
    "const { createRequire } = await import('node:module');" +
    'const cache = createRequire(import.meta.url).cache;' +
    "console.log(Object.keys(cache).filter((k) => k.includes('/mediasoup/')).length);";
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    {
      cwd: new URL('../../../server', import.meta.url).pathname,
    },
  );
  return Number(stdout.trim());
}

describe('@wisp/core and @wisp/core/rtc', () => {
  it('the kernel loads no mediasoup module; rtc does', async () => {
    expect(await mediasoupModulesAfterImporting('@wisp/core')).toBe(0);
    expect(await mediasoupModulesAfterImporting('@wisp/core/rtc')).toBeGreaterThan(0);
  }, 30_000);
});
