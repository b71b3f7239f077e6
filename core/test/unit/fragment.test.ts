import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.ts';
import { parseTrickleFragment } from '../../src/sdp/fragment.ts';
import { expectAppError } from './expectAppError.ts';

const crlf = (...lines: string[]) => lines.map((l) => `${l}\r\n`).join('');

const HOST = 'a=candidate:1 1 udp 2122260223 192.0.2.10 61764 typ host';

/** TF1 (conformance §0.4): a trickle fragment per RFC 8840 / RFC 9725 §4.3.2. */
const TF1 = crlf(
  'a=group:BUNDLE 0 1',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'a=mid:0',
  'a=ice-ufrag:EsAw',
  'a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y',
  HOST,
  'a=end-of-candidates',
);

/** TF2: TF1 with new credentials and the offer's ice-options (an ICE restart). */
const TF2 = crlf(
  'a=ice-options:trickle ice2',
  'a=group:BUNDLE 0 1',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'a=mid:0',
  'a=ice-ufrag:N3wU',
  'a=ice-pwd:n3wPasswordOfTwentyFour',
  HOST,
  'a=end-of-candidates',
);

describe('parseTrickleFragment: shapes clients send (H9)', () => {
  it('parses TF1', () => {
    expect(parseTrickleFragment(TF1)).toEqual({
      iceUfrag: 'EsAw',
      icePwd: 'bP+XJMM09aR8AiX1jdukzR6Y',
      candidates: [
        {
          foundation: '1',
          component: 1,
          transport: 'udp',
          priority: 2122260223,
          address: '192.0.2.10',
          port: 61764,
          type: 'host',
          usable: true,
        },
      ],
      endOfCandidates: true,
    });
  });

  it('parses TF2 with new credentials and ice-options', () => {
    const fragment = parseTrickleFragment(TF2);
    expect(fragment.iceUfrag).toBe('N3wU');
    expect(fragment.icePwd).toBe('n3wPasswordOfTwentyFour');
    expect(fragment.iceOptions).toBe('trickle ice2');
    expect(fragment.candidates).toHaveLength(1);
  });

  it('parses the medooze shape: credentials at session level before m=', () => {
    const fragment = parseTrickleFragment(
      crlf(
        'a=ice-ufrag:EsAw',
        'a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y',
        'm=video 9 UDP/TLS/RTP/SAVPF 0',
        'a=mid:1',
        HOST,
      ),
    );
    expect(fragment.iceUfrag).toBe('EsAw');
    expect(fragment.icePwd).toBe('bP+XJMM09aR8AiX1jdukzR6Y');
    expect(fragment.candidates.map((c) => c.address)).toEqual(['192.0.2.10']);
    expect(fragment.endOfCandidates).toBe(false);
  });

  it('parses the simple-whip-client shape (m=audio 9 RTP/AVP 0, no a=mid)', () => {
    const fragment = parseTrickleFragment(
      crlf('a=ice-ufrag:EsAw', 'a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y', 'm=audio 9 RTP/AVP 0', HOST),
    );
    expect(fragment.candidates).toHaveLength(1);
    expect(fragment.candidates[0].usable).toBe(true);
  });

  it('accepts LF-only line endings', () => {
    expect(parseTrickleFragment(TF1.replace(/\r\n/g, '\n'))).toEqual(parseTrickleFragment(TF1));
  });

  it('accepts a fragment with only a=end-of-candidates', () => {
    expect(parseTrickleFragment('a=end-of-candidates\r\n')).toEqual({
      candidates: [],
      endOfCandidates: true,
    });
  });

  it('accepts a body without a final line break', () => {
    expect(parseTrickleFragment(HOST).candidates).toHaveLength(1);
  });

  it('parses an IPv6 candidate (colons in the address)', () => {
    const [candidate] = parseTrickleFragment(
      'a=candidate:2 1 UDP 2122262783 2001:db8::1 50000 typ host generation 0\r\n',
    ).candidates;
    expect(candidate).toMatchObject({ address: '2001:db8::1', transport: 'udp', usable: true });
  });

  it('parses TCP and reflexive candidates with trailing attributes', () => {
    const fragment = parseTrickleFragment(
      crlf(
        'a=candidate:3 1 tcp 1518280447 192.0.2.10 9 typ host tcptype active',
        'a=candidate:4 1 udp 1686052607 203.0.113.7 61764 typ srflx raddr 192.0.2.10 rport 61764 generation 0 ufrag EsAw network-id 1',
      ),
    );
    expect(fragment.candidates.map((c) => [c.transport, c.type, c.port, c.usable])).toEqual([
      ['tcp', 'host', 9, true],
      ['udp', 'srflx', 61764, true],
    ]);
  });
});

describe('parseTrickleFragment: unusable candidates are kept, flagged, and not errors (H5)', () => {
  it('flags mDNS, FQDN and unknown-transport candidates and keeps the valid one usable', () => {
    const fragment = parseTrickleFragment(
      crlf(
        'a=ice-ufrag:EsAw',
        'a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y',
        'a=candidate:5 1 udp 2122260223 abcd1234.local 61764 typ host',
        'a=candidate:6 1 udp 2122260223 unresolvable.invalid 61764 typ host',
        'a=candidate:7 1 sctp 2122260223 192.0.2.10 61764 typ host',
        HOST,
      ),
    );
    expect(fragment.candidates.map((c) => [c.address, c.transport, c.usable])).toEqual([
      ['abcd1234.local', 'udp', false],
      ['unresolvable.invalid', 'udp', false],
      ['192.0.2.10', 'sctp', false],
      ['192.0.2.10', 'udp', true],
    ]);
  });
});

describe('parseTrickleFragment: malformed bodies -> ValidationError (400, G3)', () => {
  it.each([
    ['garbage', 'garbage\r\n'],
    ['a non-candidate candidate line', 'a=candidate:not a candidate\r\n'],
    ['an empty body', ''],
    ['blank lines only', '\r\n \r\n'],
    ['a candidate without "typ"', 'a=candidate:1 1 udp 2122260223 192.0.2.10 61764 kind host\r\n'],
    ['a non-numeric priority', 'a=candidate:1 1 udp high 192.0.2.10 61764 typ host\r\n'],
    ['a port above 65535', 'a=candidate:1 1 udp 2122260223 192.0.2.10 70000 typ host\r\n'],
    ['an ice-pwd shorter than 22 characters', crlf('a=ice-ufrag:EsAw', 'a=ice-pwd:short', HOST)],
    [
      'an ice-ufrag shorter than 4 characters',
      crlf('a=ice-ufrag:abc', 'a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y'),
    ],
    ['an empty ice-ufrag', 'a=ice-ufrag:\r\n'],
  ])('rejects %s', (_name, body) => {
    expectAppError(() => parseTrickleFragment(body), ValidationError, 400);
  });
});
