/**
 * Recordings as plain files under one root folder (`DATA_DIR/recordings`): key
 * `rec_abc/p1-00001.m4s` is the file `<dir>/rec_abc/p1-00001.m4s`, so the tree can be served
 * or copied as it is.
 *
 * - Writes are atomic and durable: the bytes go to a temporary file in the same folder, are
 *   fsynced, then renamed over the target, and the folder is fsynced. A reader sees the old or the new object, never a torn one; a
 *   crash leaves at most a dot-named temporary file, which `list` ignores.
 * - The content type is not kept for the usual extensions (contentTypeOf): a type different
 *   from the extension's goes in a sidecar `.<name>.type` file next to the object.
 * - The ETag is made of the file's size, modification time (ns) and inode: every write is a
 *   new file (a new inode), so it changes whenever the bytes do.
 * - A read opens the file once and streams from that descriptor: an object replaced while it
 *   is read is still read whole, in its old version.
 */
import { randomBytes } from 'node:crypto';
import { constants, type BigIntStats } from 'node:fs';
import {
  copyFile,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  unlink,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createLogger, InvalidStateError, type Logger } from '@wisp/core';
import {
  assertRange,
  RangeNotSatisfiableError,
  resolveRange,
  type ByteRange,
  type RecordingStorage,
  type StoredObject,
} from './RecordingStorage.ts';
import { assertKey, normalizePrefix } from './keys.ts';
import { contentTypeOf } from './contentTypes.ts';

export interface DiskStorageOptions {
  /** Root folder of the recordings (e.g. `DATA_DIR/recordings`); created when missing. */
  dir: string;
  log?: Logger;
}

export class DiskStorage implements RecordingStorage {
  readonly kind = 'disk' as const;
  /** Absolute root folder. */
  readonly dir: string;
  readonly #log: Logger;
  #closed = false;

  constructor(options: DiskStorageOptions) {
    this.dir = path.resolve(options.dir);
    this.#log = options.log ?? createLogger('DiskStorage', { dir: this.dir });
  }

  /** The file holding `key` (for a server that wants to serve the tree itself). */
  pathOf(key: string): string {
    assertKey(key);
    return path.join(this.dir, ...key.split('/'));
  }

  async put(key: string, body: Buffer | string, contentType: string): Promise<void> {
    this.#assertOpen();
    const file = this.pathOf(key);
    await this.#replace(file, contentType, async (temp) => {
      await writeFile(temp, body, { flag: 'wx' });
    });
  }

  async putFile(key: string, source: string, contentType: string): Promise<void> {
    this.#assertOpen();
    const file = this.pathOf(key);
    await this.#replace(file, contentType, async (temp) => {
      // A reflink where the file system has them, a kernel-side copy otherwise; never the
      // whole file in memory.
      await copyFile(source, temp, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
    });
  }

  async get(key: string, range?: ByteRange): Promise<StoredObject | undefined> {
    this.#assertOpen();
    const file = this.pathOf(key);
    if (range) assertRange(range);
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    try {
      const stats = await handle.stat({ bigint: true });
      if (!stats.isFile()) {
        await handle.close();
        return undefined;
      }
      const size = Number(stats.size);
      const contentType = await readContentType(file);
      const served = range ? resolveRange(range, size) : undefined;
      if (range && !served) throw new RangeNotSatisfiableError(key, range, size);
      const object: StoredObject = {
        body: emptyOrStream(handle, served ?? (size > 0 ? { start: 0, end: size - 1 } : undefined)),
        size,
        contentType,
        etag: etagOf(stats),
        lastModified: stats.mtime,
      };
      if (served) object.range = served;
      return object;
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
  }

  async list(prefix: string): Promise<string[]> {
    this.#assertOpen();
    const folder = normalizePrefix(prefix);
    const keys: string[] = [];
    await walk(path.join(this.dir, ...folder.split('/').filter(Boolean)), folder, keys);
    return keys.sort();
  }

  async deletePrefix(prefix: string): Promise<void> {
    this.#assertOpen();
    const folder = normalizePrefix(prefix);
    if (folder === '') throw new TypeError('deletePrefix needs a folder, not the whole store');
    const target = path.join(this.dir, ...folder.split('/').filter(Boolean));
    await rm(target, { recursive: true, force: true });
    this.#log.debug({ prefix: folder }, 'deleted folder');
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  #assertOpen(): void {
    if (this.#closed) throw new InvalidStateError('DiskStorage is closed');
  }

  /**
   * Writes a new version of `file` through `fill(temp)`, then fsyncs it, records a
   * non-default content type in the sidecar and renames the temporary file over `file`.
   */
  async #replace(
    file: string,
    contentType: string,
    fill: (temp: string) => Promise<void>,
  ): Promise<void> {
    const folder = path.dirname(file);
    await mkdir(folder, { recursive: true });
    const temp = tempNameFor(file);
    try {
      await fill(temp);
      await fsyncFile(temp);
      await writeContentType(file, contentType);
      await rename(temp, file);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    // The rename itself survives a crash only once the folder is synced.
    await fsyncFile(folder, 'r');
  }
}

/** `.<name>.<random>.tmp` beside `file`: dot-named, so no key can collide with it. */
function tempNameFor(file: string): string {
  return path.join(
    path.dirname(file),
    `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`,
  );
}

function sidecarOf(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.type`);
}

async function writeContentType(file: string, contentType: string): Promise<void> {
  const sidecar = sidecarOf(file);
  if (contentType === contentTypeOf(path.basename(file))) {
    await unlink(sidecar).catch((error: unknown) => {
      if (!isMissing(error)) throw error;
    });
    return;
  }
  const temp = tempNameFor(sidecar);
  await writeFile(temp, contentType, { flag: 'wx' });
  await rename(temp, sidecar);
}

async function readContentType(file: string): Promise<string> {
  try {
    return await readFile(sidecarOf(file), 'utf8');
  } catch (error) {
    if (isMissing(error)) return contentTypeOf(path.basename(file));
    throw error;
  }
}

async function fsyncFile(file: string, flags = 'r+'): Promise<void> {
  const handle = await open(file, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function etagOf(stats: BigIntStats): string {
  return `"${stats.size.toString(16)}-${stats.mtimeNs.toString(16)}-${stats.ino.toString(16)}"`;
}

/** The bytes `span` of the open file, closing it at the end; no bytes for an empty object. */
function emptyOrStream(
  handle: FileHandle,
  span: { start: number; end: number } | undefined,
): Readable {
  if (!span) {
    void handle.close().catch(() => undefined);
    return Readable.from([]);
  }
  return handle.createReadStream({ start: span.start, end: span.end, autoClose: true });
}

/** Appends every object key under `dir` (whose key prefix is `prefix`) to `keys`. */
async function walk(dir: string, prefix: string, keys: string[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (isMissing(error) || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return;
    throw error;
  }
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue; // temporaries and sidecars
    if (entry.isDirectory()) {
      await walk(path.join(dir, entry.name), `${prefix}${entry.name}/`, keys);
    } else if (entry.isFile()) {
      keys.push(`${prefix}${entry.name}`);
    }
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}
