/**
 * `@wisp/recorder/storage`: where recordings are kept (disk or S3), how they get there from
 * the recorder's spool folder (Uploader), and how they are served (vodResponse). See
 * docs/storage.md.
 */
import { DiskStorage, type DiskStorageOptions } from './DiskStorage.ts';
import type { RecordingStorage } from './RecordingStorage.ts';
import { S3Storage, type S3StorageOptions } from './S3Storage.ts';

export * from './RecordingStorage.ts';
export * from './keys.ts';
export * from './contentTypes.ts';
export * from './DiskStorage.ts';
export * from './S3Storage.ts';
export * from './Uploader.ts';
export * from './serve.ts';

export type StorageOptions =
  ({ kind: 'disk' } & DiskStorageOptions) | ({ kind: 's3' } & S3StorageOptions);

/** Opens the storage the options ask for (`STORAGE=disk|s3`). */
export function createStorage(options: StorageOptions): RecordingStorage {
  switch (options.kind) {
    case 'disk':
      return new DiskStorage(options);
    case 's3':
      return new S3Storage(options);
  }
}
