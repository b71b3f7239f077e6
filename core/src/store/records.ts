/**
 * Pure helpers both state-store adapters share, so they agree on what a valid record is and
 * on the listing order.
 */
import type { StreamRecord } from './StateStore.ts';

const RECORD_FIELDS = ['id', 'name', 'keyHash', 'createdAt', 'updatedAt'] as const;

/** Milliseconds since the epoch of an ISO-8601 timestamp; NaN when it is not one. */
export function timestampMs(iso: string): number {
  return Date.parse(iso);
}

/**
 * Checks the shape of a record handed to a store. A bad record is a bug in the caller, not
 * client input, so this throws a TypeError (mediasoup style) rather than an AppError.
 */
export function assertStreamRecord(record: StreamRecord): void {
  for (const field of RECORD_FIELDS) {
    if (typeof record[field] !== 'string') {
      throw new TypeError(`stream record field "${field}" must be a string`);
    }
  }
  if (record.id === '') throw new TypeError('stream record id must not be empty');
  if (record.keyHash === '') throw new TypeError('stream record keyHash must not be empty');
  if (Number.isNaN(timestampMs(record.createdAt))) {
    throw new TypeError(`stream record createdAt must be an ISO-8601 timestamp`);
  }
}

/**
 * Returns the record when `value` has the shape of a StreamRecord (only its known fields are
 * kept), undefined otherwise. Used when reading records back from storage.
 */
export function toStreamRecord(value: unknown): StreamRecord | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const candidate = value as Record<string, unknown>;
  for (const field of RECORD_FIELDS) {
    if (typeof candidate[field] !== 'string') return undefined;
  }
  const { id, name, keyHash, createdAt, updatedAt } = candidate as unknown as StreamRecord;
  return { id, name, keyHash, createdAt, updatedAt };
}

/**
 * The listing order of every adapter: oldest first by `createdAt` (millisecond precision),
 * ties broken by id, which is also how a Redis sorted set orders equal scores.
 */
export function compareStreamRecords(a: StreamRecord, b: StreamRecord): number {
  const byTime = timestampMs(a.createdAt) - timestampMs(b.createdAt);
  if (byTime !== 0) return byTime;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
