/**
 * A real, small filesystem for full-disk tests: a tmpfs of a given size mounted on a fresh
 * directory (needs root and mount(8), as CI has; `smallDiskAvailable` says whether they are
 * here). `fill()` takes every free byte with a filler file, so the next write fails with the
 * kernel's own ENOSPC; `free()` gives the room back.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, open, rm, rmdir, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const smallDiskAvailable = process.getuid?.() === 0 && process.platform === 'linux';

export interface SmallDisk {
  dir: string;
  /** Bytes still free. */
  freeBytes(): Promise<number>;
  /** Writes a filler file until the disk is full (the last write's ENOSPC is expected). */
  fill(): Promise<void>;
  /** Removes the filler. */
  free(): Promise<void>;
  /** Unmounts and removes the mount point. */
  remove(): Promise<void>;
}

export async function mountSmallDisk(sizeBytes: number): Promise<SmallDisk> {
  const dir = await mkdtemp(path.join(tmpdir(), 'wisp-small-disk-'));
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'tmpfs', dir]);
  const filler = path.join(dir, '.filler');
  const freeBytes = async () => {
    const stats = await statfs(dir);
    return stats.bavail * stats.bsize;
  };
  return {
    dir,
    freeBytes,
    async fill() {
      const handle = await open(filler, 'a');
      const chunk = Buffer.alloc(64 * 1024);
      try {
        for (;;) {
          try {
            await handle.write(chunk);
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
            // The last partial chunk: fill the remaining bytes one page at a time.
            if (chunk.length === 1) break;
            const left = await freeBytes();
            if (left === 0) break;
            await handle.write(Buffer.alloc(Math.min(left, 4096))).catch(() => undefined);
            if ((await freeBytes()) === 0) break;
          }
        }
      } finally {
        await handle.close();
      }
    },
    async free() {
      await rm(filler, { force: true });
    },
    async remove() {
      await run('umount', ['-l', dir]).catch(() => undefined);
      await rmdir(dir).catch(() => undefined);
    },
  };
}
