/**
 * Recordings in any S3-compatible object store (AWS S3, MinIO, R2, Ceph, s3rver...): key
 * `rec_abc/p1-00001.m4s` is the object `<prefix><key>` in `bucket`.
 *
 * Written against what S3-compatibles actually implement, not only AWS:
 * - Checksums only where an operation requires one (`requestChecksumCalculation` and
 *   `responseChecksumValidation: 'WHEN_REQUIRED'`). The SDK's default since 3.729 (CRC32 on
 *   every upload) sends streamed bodies `aws-chunked` with a trailer; stores that do not
 *   decode that reject the upload or, like s3rver, store the chunk framing as the object.
 * - One PutObject per file, never multipart (parts must be >= 5 MiB; segments are smaller).
 * - A ranged read is checked against the `Content-Range` the store answers: a larger answer
 *   is cut down (s3rver answers `bytes=0-0` whole), a wrong one is asked again by offset
 *   (s3rver reads `bytes=-n` as `bytes=0-n`).
 * - DeleteObjects in batches of 1000, falling back to one DeleteObject per key on a store
 *   that does not implement it (or wants the Content-MD5 the SDK no longer sends).
 */
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type GetObjectCommandOutput,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { createLogger, InvalidStateError, type Logger } from '@wisp/core';
import { DEFAULT_CONTENT_TYPE } from './contentTypes.ts';
import { assertKey, normalizePrefix } from './keys.ts';
import {
  assertRange,
  describeRange,
  RangeNotSatisfiableError,
  resolveRange,
  type ByteRange,
  type RecordingStorage,
  type StoredObject,
} from './RecordingStorage.ts';

export interface S3StorageOptions {
  bucket: string;
  /** Prepended to every key (`S3_PREFIX`, e.g. `recordings/`); a folder. Default none. */
  prefix?: string;
  /** Default `AWS_REGION`, then `AWS_DEFAULT_REGION`, then `us-east-1`. */
  region?: string;
  /** URL of an S3-compatible store (`S3_ENDPOINT`); unset for AWS. */
  endpoint?: string;
  /** `bucket` in the path, not the host name. Default: true when `endpoint` is set. */
  forcePathStyle?: boolean;
  /** Default: the SDK's provider chain (AWS_ACCESS_KEY_ID..., profiles, instance roles). */
  credentials?: S3ClientConfig['credentials'];
  /** Use DeleteObjects (default true); false: one DeleteObject per key. */
  batchDelete?: boolean;
  /** Keys per ListObjectsV2 page, 1..1000 (default 1000). */
  listPageSize?: number;
  /** Milliseconds to open a connection (default 5000). */
  connectionTimeoutMs?: number;
  /** Milliseconds a request may stay silent (default 30000). */
  requestTimeoutMs?: number;
  /** Attempts per request by the SDK itself (default 3; streamed uploads are never retried). */
  maxAttempts?: number;
  log?: Logger;
}

/** Most keys one DeleteObjects request may carry. */
const DELETE_BATCH = 1000;
/** Parallel DeleteObject requests when batches are not available. */
const DELETE_CONCURRENCY = 8;

export class S3Storage implements RecordingStorage {
  readonly kind = 's3' as const;
  readonly bucket: string;
  /** Normalized key prefix (`''` or ending in `/`). */
  readonly prefix: string;
  readonly client: S3Client;
  readonly #log: Logger;
  readonly #listPageSize: number;
  #batchDelete: boolean;
  #closed = false;

  constructor(options: S3StorageOptions) {
    if (!options.bucket) throw new TypeError('S3Storage needs a bucket');
    this.bucket = options.bucket;
    this.prefix = normalizePrefix(options.prefix?.replace(/^\/+/, '') ?? '');
    this.#batchDelete = options.batchDelete ?? true;
    this.#listPageSize = options.listPageSize ?? 1000;
    if (!Number.isInteger(this.#listPageSize) || this.#listPageSize < 1) {
      throw new TypeError('listPageSize must be a positive integer');
    }
    this.#log =
      options.log ??
      createLogger('S3Storage', {
        bucket: this.bucket,
        prefix: this.prefix,
        endpoint: options.endpoint,
      });
    const sdkLog = this.#log.child({ name: 'aws-sdk' });
    this.client = new S3Client({
      region:
        options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
      ...(options.credentials ? { credentials: options.credentials } : {}),
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: options.maxAttempts ?? 3,
      requestHandler: {
        connectionTimeout: options.connectionTimeoutMs ?? 5000,
        requestTimeout: options.requestTimeoutMs ?? 30_000,
      },
      // The SDK logs every command at info and warns on each failed streamed upload: keep
      // that at debug; callers log failures once, with context.
      logger: {
        trace: () => undefined,
        debug: (...args: unknown[]) => sdkLog.debug({ sdk: args }, 'aws-sdk'),
        info: (...args: unknown[]) => sdkLog.debug({ sdk: args }, 'aws-sdk'),
        warn: (...args: unknown[]) => sdkLog.debug({ sdk: args }, 'aws-sdk warning'),
        error: (...args: unknown[]) => sdkLog.debug({ sdk: args }, 'aws-sdk error'),
      },
    });
  }

  /** The object key in the bucket for a storage key: `prefix + key`. */
  objectKeyOf(key: string): string {
    assertKey(key);
    return this.prefix + key;
  }

  async put(key: string, body: Buffer | string, contentType: string): Promise<void> {
    this.#assertOpen();
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.objectKeyOf(key),
        Body: bytes,
        ContentLength: bytes.byteLength,
        ContentType: contentType,
      }),
    );
  }

  async putFile(key: string, path: string, contentType: string): Promise<void> {
    this.#assertOpen();
    const objectKey = this.objectKeyOf(key);
    // Opened before the request, so a missing file fails here and not inside the SDK.
    const handle = await open(path, 'r');
    const { size } = await handle.stat().catch(async (error: unknown) => {
      await handle.close();
      throw error;
    });
    const body = handle.createReadStream({ autoClose: true });
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: objectKey,
          Body: body,
          ContentLength: size,
          ContentType: contentType,
        }),
      );
    } finally {
      body.destroy();
    }
  }

  async get(key: string, range?: ByteRange): Promise<StoredObject | undefined> {
    this.#assertOpen();
    const objectKey = this.objectKeyOf(key);
    if (!range) {
      const response = await this.#getObject(objectKey);
      return response && toStoredObject(response, response.ContentLength ?? 0);
    }
    assertRange(range);
    if ('suffix' in range && range.suffix === 0) {
      // Unsatisfiable whatever the size; only the size is needed, for Content-Range.
      const size = await this.#sizeOf(objectKey);
      if (size === undefined) return undefined;
      throw new RangeNotSatisfiableError(key, range, size);
    }
    let response: GetObjectCommandOutput | undefined;
    try {
      response = await this.#getObject(objectKey, describeRange(range));
    } catch (error) {
      if (!isInvalidRange(error)) throw error;
      const size = actualObjectSize(error) ?? (await this.#sizeOf(objectKey));
      if (size === undefined) return undefined;
      throw new RangeNotSatisfiableError(key, range, size);
    }
    if (!response) return undefined;
    const first = coveredRange(response, range, key);
    if (first) return first;
    // The store answered bytes that do not hold the range (s3rver reads `bytes=-n` as
    // `bytes=0-n`): ask for this version's bytes by offset.
    destroyBody(response);
    const size = parseContentRange(response.ContentRange)?.size ?? response.ContentLength ?? 0;
    const wanted = resolveRange(range, size)!;
    const exact = `bytes=${wanted.start}-${wanted.end}`;
    this.#log.debug(
      { key, asked: describeRange(range), answered: response.ContentRange },
      'range asked again by offset',
    );
    const again = await this.#getObject(objectKey, exact, response.ETag);
    if (!again) return undefined;
    const second = coveredRange(again, wanted, key);
    if (second) return second;
    destroyBody(again);
    throw new Error(
      `S3 store answered ${exact} of ${objectKey} with ${again.ContentRange ?? 'the whole object'}`,
    );
  }

  async list(prefix: string): Promise<string[]> {
    this.#assertOpen();
    const folder = this.prefix + normalizePrefix(prefix);
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: folder,
          MaxKeys: this.#listPageSize,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      for (const object of page.Contents ?? []) {
        // Keys ending in `/` are folder markers some tools create, not objects.
        if (object.Key && !object.Key.endsWith('/'))
          keys.push(object.Key.slice(this.prefix.length));
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      if (page.IsTruncated && !token) {
        throw new Error(`S3 listing of ${folder} is truncated but has no continuation token`);
      }
    } while (token);
    return keys.sort();
  }

  async deletePrefix(prefix: string): Promise<void> {
    this.#assertOpen();
    const folder = normalizePrefix(prefix);
    if (folder === '') throw new TypeError('deletePrefix needs a folder, not the whole store');
    const keys = (await this.list(folder)).map((key) => this.prefix + key);
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      if (this.#batchDelete) {
        try {
          await this.#deleteBatch(batch);
          continue;
        } catch (error) {
          if (!batchDeleteUnsupported(error)) throw error;
          this.#log.warn(
            { err: error },
            'the store refuses DeleteObjects; deleting one object at a time from now on',
          );
          this.#batchDelete = false;
        }
      }
      await forEachLimit(batch, DELETE_CONCURRENCY, async (Key) => {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
      });
    }
    this.#log.debug({ prefix: folder, objects: keys.length }, 'deleted folder');
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.client.destroy();
    }
    return Promise.resolve();
  }

  #assertOpen(): void {
    if (this.#closed) throw new InvalidStateError('S3Storage is closed');
  }

  /** GetObject; undefined when the key does not exist. */
  async #getObject(
    objectKey: string,
    range?: string,
    ifMatch?: string,
  ): Promise<GetObjectCommandOutput | undefined> {
    try {
      return await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: objectKey,
          ...(range ? { Range: range } : {}),
          ...(ifMatch ? { IfMatch: ifMatch } : {}),
        }),
      );
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async #sizeOf(objectKey: string): Promise<number | undefined> {
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }),
      );
      return head.ContentLength ?? 0;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async #deleteBatch(keys: string[]): Promise<void> {
    const result = await this.client.send(
      new DeleteObjectsCommand({
        Bucket: this.bucket,
        Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
      }),
    );
    const errors = (result.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
    if (errors.length > 0) {
      const first = errors[0];
      throw new Error(
        `S3 could not delete ${errors.length} object(s), e.g. ${first.Key}: ${first.Code} ${first.Message}`,
      );
    }
  }
}

/**
 * The StoredObject for `range` if `response` holds its bytes: exactly (the usual case), or
 * within a larger answer, which is cut down here (s3rver answers `bytes=0-0` with the whole
 * object). Undefined when it does not hold them. Throws RangeNotSatisfiableError.
 */
function coveredRange(
  response: GetObjectCommandOutput,
  range: ByteRange,
  key: string,
): StoredObject | undefined {
  const served = parseContentRange(response.ContentRange);
  const size = served?.size ?? response.ContentLength ?? 0;
  const wanted = resolveRange(range, size);
  if (!wanted) {
    destroyBody(response);
    throw new RangeNotSatisfiableError(key, range, size);
  }
  const answered = served ?? (response.ContentRange ? undefined : { start: 0, end: size - 1 });
  if (!answered || answered.start > wanted.start || answered.end < wanted.end) return undefined;
  const object = toStoredObject(response, size);
  if (answered.start !== wanted.start || answered.end !== wanted.end) {
    object.body = sliceStream(
      object.body,
      wanted.start - answered.start,
      wanted.end - wanted.start + 1,
    );
  }
  return { ...object, range: wanted };
}

/** `length` bytes of `source` after skipping `skip`; the rest of `source` is not read. */
function sliceStream(source: Readable, skip: number, length: number): Readable {
  async function* slice(): AsyncGenerator<Buffer> {
    let offset = 0;
    let left = length;
    for await (const chunk of source) {
      const bytes = Buffer.from(chunk as Uint8Array);
      const from = Math.max(0, skip - offset);
      offset += bytes.length;
      if (from >= bytes.length) continue;
      const part = bytes.subarray(from, from + left);
      left -= part.length;
      yield part;
      if (left === 0) break;
    }
  }
  return Readable.from(slice(), { objectMode: false });
}

function toStoredObject(response: GetObjectCommandOutput, size: number): StoredObject {
  const body = response.Body;
  if (!(body instanceof Readable)) throw new Error('S3 GetObject answered without a Node stream');
  const etag = response.ETag ?? '""';
  return {
    body,
    size,
    contentType: response.ContentType ?? DEFAULT_CONTENT_TYPE,
    etag: etag.startsWith('"') ? etag : `"${etag}"`,
    lastModified: response.LastModified ?? new Date(0),
  };
}

function destroyBody(response: GetObjectCommandOutput): void {
  const body = response.Body;
  if (body instanceof Readable) body.destroy();
}

/** `bytes a-b/size` -> offsets and total size; undefined when absent or unparsable. */
function parseContentRange(
  header: string | undefined,
): { start: number; end: number; size: number } | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header?.trim() ?? '');
  if (!match) return undefined;
  return { start: Number(match[1]), end: Number(match[2]), size: Number(match[3]) };
}

function statusOf(error: unknown): number | undefined {
  return error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
}

function isNotFound(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return false;
  if (error.name === 'NoSuchKey' || error.name === 'NotFound') return true;
  return statusOf(error) === 404 && error.name !== 'NoSuchBucket';
}

function isInvalidRange(error: unknown): boolean {
  return (
    error instanceof S3ServiceException &&
    (error.name === 'InvalidRange' || statusOf(error) === 416)
  );
}

/** AWS and s3rver name the size in their InvalidRange error; the SDK copies it over. */
function actualObjectSize(error: unknown): number | undefined {
  const value = (error as { ActualObjectSize?: unknown }).ActualObjectSize;
  const size = typeof value === 'string' || typeof value === 'number' ? Number(value) : NaN;
  return Number.isSafeInteger(size) && size >= 0 ? size : undefined;
}

/** NotImplemented (501), MethodNotAllowed (405), or a demand for Content-MD5. */
function batchDeleteUnsupported(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return false;
  const status = statusOf(error);
  if (error.name === 'NotImplemented' || status === 501 || status === 405) return true;
  return status === 400 && /content-?md5/i.test(error.message);
}

async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  run: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await run(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
