/** Validation of API input: pure functions that throw ValidationError (400). */
import {
  DEFAULT_VIEWER_TOKEN_TTL_SECONDS,
  MAX_VIEWER_TOKEN_TTL_SECONDS,
  ValidationError,
  type CreateStreamRequest,
  type StreamVisibility,
  type UpdateStreamRequest,
} from '@wisp/core';

/** Longest accepted stream name, in Unicode code points after trimming. */
export const MAX_STREAM_NAME_LENGTH = 100;

/** Longest stream key worth hashing; real keys are 46 characters (`sk_` + 43). */
export const MAX_STREAM_KEY_LENGTH = 512;

/** Control characters (C0, DEL, C1) and lone UTF-16 surrogates, which no name needs. */
const FORBIDDEN_IN_NAME = /[\p{Cc}\p{Cs}]/u;

/** Stream ids are base64url (see generateStreamId); anything else cannot exist. */
const STREAM_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Returns the trimmed name, or throws ValidationError when it is not an acceptable name. */
export function normalizeStreamName(value: unknown): string {
  if (typeof value !== 'string') throw new ValidationError('"name" must be a string');
  const name = value.trim();
  const length = [...name].length;
  if (length === 0) throw new ValidationError('"name" must not be empty');
  if (length > MAX_STREAM_NAME_LENGTH) {
    throw new ValidationError(`"name" must be at most ${MAX_STREAM_NAME_LENGTH} characters`);
  }
  if (FORBIDDEN_IN_NAME.test(name)) {
    throw new ValidationError('"name" must not contain control characters');
  }
  return name;
}

/** Parses the body of `POST /api/streams`. Unknown members are ignored. */
export function parseCreateStreamRequest(body: unknown): CreateStreamRequest {
  const members = jsonObject(body);
  const request: CreateStreamRequest = { name: normalizeStreamName(members.name) };
  if (members.record !== undefined) {
    if (typeof members.record !== 'boolean') {
      throw new ValidationError('"record" must be true or false');
    }
    request.record = members.record;
  }
  if (members.visibility !== undefined) request.visibility = parseVisibility(members.visibility);
  return request;
}

/** Parses the body of `PATCH /api/streams/:id`. Unknown members are ignored. */
export function parseUpdateStreamRequest(body: unknown): UpdateStreamRequest {
  const members = jsonObject(body);
  const request: UpdateStreamRequest = {};
  if (members.name !== undefined) request.name = normalizeStreamName(members.name);
  if (members.record !== undefined) {
    if (typeof members.record !== 'boolean' && members.record !== null) {
      throw new ValidationError('"record" must be true, false or null (the default)');
    }
    request.record = members.record;
  }
  if (members.visibility !== undefined) request.visibility = parseVisibility(members.visibility);
  if (
    request.name === undefined &&
    request.record === undefined &&
    request.visibility === undefined
  ) {
    throw new ValidationError('nothing to change: give "name", "record" or "visibility"');
  }
  return request;
}

function parseVisibility(value: unknown): StreamVisibility {
  if (value !== 'public' && value !== 'private') {
    throw new ValidationError('"visibility" must be "public" or "private"');
  }
  return value;
}

/**
 * The lifetime asked for in `POST /api/streams/:id/viewer-tokens`: the body may be empty
 * (one hour) or `{"ttlSeconds": n}` with n from 1 s to 30 days.
 */
export function parseViewerTokenTtl(body: unknown): number {
  const value = body === undefined ? undefined : jsonObject(body).ttlSeconds;
  if (value === undefined) return DEFAULT_VIEWER_TOKEN_TTL_SECONDS;
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < 1 ||
    value > MAX_VIEWER_TOKEN_TTL_SECONDS
  ) {
    throw new ValidationError(
      `"ttlSeconds" must be a whole number of seconds from 1 to ${MAX_VIEWER_TOKEN_TTL_SECONDS}`,
    );
  }
  return value;
}

function jsonObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError('request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

/** Whether `id` has the shape of a stream id, so lookups of junk never reach the store. */
export function isStreamId(id: string): boolean {
  return STREAM_ID.test(id);
}
