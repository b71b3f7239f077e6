/**
 * Pure helpers both state-store adapters share, so they agree on what a valid record is and
 * on the listing order.
 */
import type {
  RecordingRecord,
  StreamChanges,
  StreamRecord,
  StreamVisibility,
} from './StateStore.ts';

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
  if (record.record !== undefined && typeof record.record !== 'boolean') {
    throw new TypeError('stream record field "record" must be a boolean');
  }
  if (record.visibility !== undefined && !isStreamVisibility(record.visibility)) {
    throw new TypeError('stream record field "visibility" must be "public" or "private"');
  }
}

export function isStreamVisibility(value: unknown): value is StreamVisibility {
  return value === 'public' || value === 'private';
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
  const record: StreamRecord = { id, name, keyHash, createdAt, updatedAt };
  // Redis hashes hold strings: "1"/"0"; the JSON file holds booleans.
  const flag = candidate.record;
  if (flag === true || flag === '1') record.record = true;
  if (flag === false || flag === '0') record.record = false;
  if (candidate.visibility === 'public' || candidate.visibility === 'private') {
    record.visibility = candidate.visibility;
  }
  return record;
}

/** `record` with `changes` applied (and a new `updatedAt`); validates the changes. */
export function applyStreamChanges(record: StreamRecord, changes: StreamChanges): StreamRecord {
  const next: StreamRecord = { ...record, updatedAt: new Date().toISOString() };
  if (changes.name !== undefined) {
    if (typeof changes.name !== 'string' || changes.name === '') {
      throw new TypeError('stream name must be a non-empty string');
    }
    next.name = changes.name;
  }
  if (changes.record === null) delete next.record;
  else if (changes.record !== undefined) {
    if (typeof changes.record !== 'boolean') throw new TypeError('record must be a boolean');
    next.record = changes.record;
  }
  if (changes.visibility !== undefined) {
    if (!isStreamVisibility(changes.visibility)) {
      throw new TypeError('visibility must be "public" or "private"');
    }
    next.visibility = changes.visibility;
  }
  return next;
}

const RECORDING_STATUSES = ['recording', 'finalizing', 'ready', 'failed'];

/** Checks the shape of a recording handed to a store (a caller bug: TypeError). */
export function assertRecordingRecord(record: RecordingRecord): void {
  if (!toRecordingRecord(record)) throw new TypeError('malformed recording record');
}

/** The record when `value` has the shape of a RecordingRecord (known fields only). */
export function toRecordingRecord(value: unknown): RecordingRecord | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const strings = ['id', 'node', 'startedAt', 'updatedAt'] as const;
  if (strings.some((field) => typeof v[field] !== 'string' || v[field] === '')) return undefined;
  if (v.kind !== 'broadcast' && v.kind !== 'composition') return undefined;
  if (!RECORDING_STATUSES.includes(v.status as string)) return undefined;
  if (!Array.isArray(v.streamIds) || v.streamIds.length === 0) return undefined;
  if (v.streamIds.some((id) => typeof id !== 'string')) return undefined;
  if (typeof v.parts !== 'number' || !Number.isInteger(v.parts) || v.parts < 0) return undefined;
  if (Number.isNaN(timestampMs(v.startedAt as string))) return undefined;
  const record: RecordingRecord = {
    id: v.id as string,
    kind: v.kind,
    streamIds: [...(v.streamIds as string[])],
    status: v.status as RecordingRecord['status'],
    node: v.node as string,
    startedAt: v.startedAt as string,
    parts: v.parts,
    updatedAt: v.updatedAt as string,
  };
  if (typeof v.name === 'string') record.name = v.name;
  if (v.layout === 'grid' || v.layout === 'pip') record.layout = v.layout;
  if (typeof v.endedAt === 'string') record.endedAt = v.endedAt;
  if (typeof v.durationSeconds === 'number') record.durationSeconds = v.durationSeconds;
  if (typeof v.error === 'string') record.error = v.error;
  return record;
}

/** Newest first by `startedAt`, ties by id (descending): the listing order of every adapter. */
export function compareRecordingsNewestFirst(a: RecordingRecord, b: RecordingRecord): number {
  const byTime = timestampMs(b.startedAt) - timestampMs(a.startedAt);
  if (byTime !== 0) return byTime;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export function isUnfinished(record: RecordingRecord): boolean {
  return record.status === 'recording' || record.status === 'finalizing';
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
