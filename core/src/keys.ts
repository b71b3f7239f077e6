import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

/** A new stream key: 32 random bytes (256 bits), base64url, with a recognisable prefix. */
export function generateStreamKey(): string {
  return `sk_${randomBytes(32).toString('base64url')}`;
}

/**
 * The stored form of a stream key. Keys are 256-bit random secrets, so an unsalted SHA-256
 * is enough (no dictionary to attack) and lets the store index by hash.
 */
export function hashStreamKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Constant-time comparison of two secrets of any length (hashes both first). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

/** A new stream id: short, URL-safe, unguessable enough to not be enumerable (96 bits). */
export function generateStreamId(): string {
  return randomBytes(12).toString('base64url');
}

/** A session id for WHIP/WHEP resources: UUIDv4 (122 random bits, conformance F6). */
export function generateSessionId(): string {
  return randomUUID();
}

/**
 * Extracts the token of an `Authorization: Bearer <token>` header. Tolerates case, extra
 * whitespace, and a doubled prefix: users paste "Bearer <key>" into OBS's Bearer Token field,
 * which OBS sends as "Bearer Bearer <key>" (field-notes §2, item 6). Returns undefined when the
 * header is missing or not a bearer.
 */
export function parseBearer(header: string | undefined | null): string | undefined {
  if (!header) return undefined;
  const match = /^\s*bearer\s+(?:bearer\s+)?(\S+)\s*$/i.exec(header);
  return match?.[1];
}
