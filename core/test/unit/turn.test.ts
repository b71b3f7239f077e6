/**
 * TURN REST credentials (core/src/turn.ts) against a reference computed independently: the
 * openssl command-line tool (`openssl dgst -sha1 -hmac`), not node:crypto.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { IceServerConfig } from '../../src/config.ts';
import { iceServersFor, turnRestCredentials, turnRestPassword } from '../../src/turn.ts';

/** base64(HMAC-SHA1(secret, username)) as openssl computes it. */
function opensslPassword(secret: string, username: string): string {
  const digest = execFileSync('openssl', ['dgst', '-sha1', '-hmac', secret, '-binary'], {
    input: username,
  });
  return digest.toString('base64');
}

describe('turnRestPassword', () => {
  const cases: [secret: string, username: string][] = [
    ['north', '1700000000:8f5a0f5e-6c1d-4c89-b1a4-5f7a2b3c4d5e'],
    ['s3cr3t with spaces', '1735689600:stream-abc_DEF'],
    ['x', '0:x'],
    // Non-ASCII bytes in the secret: both sides hash its UTF-8 encoding.
    ['clé-ünïcode-☃', '4102444800:Vq3kJt9uXy0bQw2e'],
    ['a'.repeat(100), '1700000000:long-secret-is-hashed-first'],
  ];

  it.each(cases)('matches openssl for secret %j, username %j', (secret, username) => {
    expect(turnRestPassword(secret, username)).toBe(opensslPassword(secret, username));
  });

  it('depends on the secret and on every character of the username', () => {
    const base = turnRestPassword('secret', '1700000000:abc');
    expect(turnRestPassword('secret2', '1700000000:abc')).not.toBe(base);
    expect(turnRestPassword('secret', '1700000001:abc')).not.toBe(base);
    expect(turnRestPassword('secret', '1700000000:abd')).not.toBe(base);
  });
});

describe('turnRestCredentials', () => {
  it('puts the expiry first, a colon, then the id (coturn splits at the first colon)', () => {
    const creds = turnRestCredentials('secret', 'session-1', 1_800_000_000);
    expect(creds).toEqual({
      username: '1800000000:session-1',
      credential: opensslPassword('secret', '1800000000:session-1'),
      expiresAt: 1_800_000_000,
    });
    // Base64 never holds what Link parsers split on (conformance D3).
    expect(creds.credential).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });

  it('refuses ids that would break a Link header and expiries that are not unix seconds', () => {
    for (const id of ['', 'a,b', 'a;b', 'a"b', 'a b', 'a\\b']) {
      expect(() => turnRestCredentials('secret', id, 1_800_000_000)).toThrow(TypeError);
    }
    expect(() => turnRestCredentials('secret', 'id', 1.5)).toThrow(TypeError);
    expect(() => turnRestCredentials('secret', 'id', -1)).toThrow(TypeError);
  });
});

describe('iceServersFor', () => {
  const NOW = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
  const NOW_S = Math.floor(NOW / 1000);
  const STUN: IceServerConfig = { url: 'stun:stun.example.net:3478' };
  const REST: IceServerConfig[] = [
    STUN,
    { url: 'turn:turn.example.net:3478?transport=udp', secret: 'hunter2', ttlSeconds: 3600 },
    { url: 'turns:turn.example.net:5349', secret: 'hunter2', ttlSeconds: 3600 },
  ];
  const STATIC: IceServerConfig[] = [
    STUN,
    { url: 'turn:turn.example.net:3478', username: 'u', credential: 'p' },
  ];

  it('gives callers without a grant the STUN servers only, whatever the TURN setup', () => {
    expect(iceServersFor(REST, undefined, NOW)).toEqual([STUN]);
    expect(iceServersFor(STATIC, undefined, NOW)).toEqual([STUN]);
    expect(iceServersFor([{ url: 'turn:bare.example.net' }], undefined, NOW)).toEqual([]);
  });

  it('computes credentials for the grantee that expire TURN_TTL seconds from now', () => {
    const servers = iceServersFor(REST, 'sess-42', NOW);
    const username = `${NOW_S + 3600}:sess-42`;
    const credential = opensslPassword('hunter2', username);
    expect(servers).toEqual([
      STUN,
      { url: 'turn:turn.example.net:3478?transport=udp', username, credential },
      { url: 'turns:turn.example.net:5349', username, credential },
    ]);
    // The secret itself never leaves the server.
    expect(JSON.stringify(servers)).not.toContain('hunter2');
  });

  it('gives every grantee and every moment its own credentials', () => {
    const [, a] = iceServersFor(REST, 'sess-a', NOW);
    const [, b] = iceServersFor(REST, 'sess-b', NOW);
    const [, later] = iceServersFor(REST, 'sess-a', NOW + 60_000);
    expect(a.credential).not.toBe(b.credential);
    expect(later.username).toBe(`${NOW_S + 60 + 3600}:sess-a`);
    expect(later.credential).not.toBe(a.credential);
  });

  it('hands static credentials out as configured (the weaker option)', () => {
    expect(iceServersFor(STATIC, 'sess-1', NOW)).toEqual(STATIC);
  });
});
