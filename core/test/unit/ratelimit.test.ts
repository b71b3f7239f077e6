import { describe, expect, it } from 'vitest';
import {
  TokenBuckets,
  addressMatcher,
  classify,
  clientAddress,
  limitKeyOf,
  retryAfter,
} from '../../src/index.ts';

function clock() {
  let now = 1000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('TokenBuckets', () => {
  const limit = { ratePerSecond: 2, burst: 3 };

  it('lets a burst through, then refuses with the seconds until a token is back', () => {
    const time = clock();
    const buckets = new TokenBuckets({ now: time.now });
    for (let i = 0; i < 3; i++) expect(buckets.take('a', limit).allowed).toBe(true);
    const refused = buckets.take('a', limit);
    expect(refused).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: 1 });
  });

  it('refills continuously at the rate, never above the burst', () => {
    const time = clock();
    const buckets = new TokenBuckets({ now: time.now });
    for (let i = 0; i < 3; i++) buckets.take('a', limit);
    time.advance(499);
    expect(buckets.take('a', limit).allowed).toBe(false);
    time.advance(1);
    expect(buckets.take('a', limit).allowed).toBe(true);
    expect(buckets.take('a', limit).allowed).toBe(false);
    time.advance(60_000);
    expect(buckets.peek('a', limit).remaining).toBe(3);
    for (let i = 0; i < 3; i++) expect(buckets.take('a', limit).allowed).toBe(true);
    expect(buckets.take('a', limit).allowed).toBe(false);
  });

  it('keeps keys apart', () => {
    const buckets = new TokenBuckets({ now: clock().now });
    for (let i = 0; i < 3; i++) buckets.take('a', limit);
    expect(buckets.take('a', limit).allowed).toBe(false);
    expect(buckets.take('b', limit).allowed).toBe(true);
  });

  it('rounds Retry-After up to whole seconds, at least 1', () => {
    expect(retryAfter(1, 0.2)).toBe(5);
    expect(retryAfter(0.5, 0.2)).toBe(3);
    expect(retryAfter(1, 1000)).toBe(1);
    expect(retryAfter(1, 0.3)).toBe(4);
    const time = clock();
    const slow = { ratePerSecond: 0.2, burst: 1 };
    const buckets = new TokenBuckets({ now: time.now });
    buckets.take('a', slow);
    time.advance(1500);
    expect(buckets.take('a', slow).retryAfterSeconds).toBe(4); // 3.5 s left
  });

  it('gives refunded tokens back, capped at the burst', () => {
    const buckets = new TokenBuckets({ now: clock().now });
    buckets.take('a', limit);
    buckets.refund('a', limit, 5);
    expect(buckets.peek('a', limit).remaining).toBe(3);
  });

  it('forgets buckets that are full again, and holds at most maxKeys', () => {
    const time = clock();
    const buckets = new TokenBuckets({ now: time.now, maxKeys: 10 });
    for (let i = 0; i < 20; i++) buckets.take(`k${i}`, limit);
    expect(buckets.size).toBe(10);
    time.advance(61_000);
    buckets.take('fresh', limit);
    expect(buckets.size).toBe(1);
  });
});

describe('client address', () => {
  it('ignores X-Forwarded-For when no proxy is trusted', () => {
    expect(clientAddress('10.0.0.1', '203.0.113.9', addressMatcher([]))).toBe('10.0.0.1');
  });

  it('believes X-Forwarded-For from a trusted proxy, walking past trusted hops only', () => {
    const trust = addressMatcher(['loopback', '10.0.0.0/8']);
    expect(clientAddress('127.0.0.1', '203.0.113.9', trust)).toBe('203.0.113.9');
    // The client made up the first entry; the trusted proxy appended what it saw.
    expect(clientAddress('127.0.0.1', '1.2.3.4, 203.0.113.9, 10.1.1.1', trust)).toBe('203.0.113.9');
    // A peer that is not trusted: its header is not believed.
    expect(clientAddress('192.0.2.7', '203.0.113.9', trust)).toBe('192.0.2.7');
  });

  it('maps IPv4-mapped IPv6 peers to IPv4', () => {
    expect(clientAddress('::ffff:127.0.0.2', undefined, addressMatcher([]))).toBe('127.0.0.2');
    expect(clientAddress('::ffff:127.0.0.1', '198.51.100.1', addressMatcher(['127.0.0.1']))).toBe(
      '198.51.100.1',
    );
  });

  it('rejects entries that are not addresses', () => {
    expect(() => addressMatcher(['not-an-address'])).toThrow();
  });

  it('keys IPv6 clients by /64', () => {
    expect(limitKeyOf('192.0.2.1')).toBe('192.0.2.1');
    expect(limitKeyOf('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(limitKeyOf('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(limitKeyOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(limitKeyOf('::1')).toBe('0:0:0:0::/64');
  });
});

describe('classify', () => {
  it.each([
    ['POST', '/whip', 'whip'],
    ['POST', '/whep/abc', 'whep'],
    ['PATCH', '/whip/s1', 'session'],
    ['PATCH', '/whep/abc/s1', 'session'],
    ['POST', '/whep/abc/s1/layer', 'session'],
    ['DELETE', '/whip/s1', undefined],
    ['DELETE', '/whep/abc/s1', undefined],
    ['GET', '/api/streams', 'api'],
    ['OPTIONS', '/api/openapi.json', 'api'],
    ['GET', '/watch/abc', undefined],
    ['GET', '/metrics', undefined],
    ['POST', '/internal/pipes', undefined],
  ])('%s %s -> %s', (method, path, expected) => {
    expect(classify(method, path)).toBe(expected);
  });
});
