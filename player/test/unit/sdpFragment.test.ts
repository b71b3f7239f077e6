import { describe, expect, it } from 'vitest';
import {
  applyIceRestartAnswer,
  iceRestartFragment,
  trickleFragment,
} from '../../src/web/core/sdpFragment.ts';

const OFFER = [
  'v=0',
  'o=- 1 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'a=mid:0',
  'a=ice-ufrag:abcd',
  'a=ice-pwd:0123456789abcdefghijkl',
  'a=candidate:1 1 udp 2122260223 192.0.2.10 50000 typ host',
  'm=video 9 UDP/TLS/RTP/SAVPF 96',
  'a=mid:1',
  'a=ice-ufrag:abcd',
  'a=ice-pwd:0123456789abcdefghijkl',
  '',
].join('\r\n');

const ANSWER = [
  'v=0',
  'o=- 1 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=ice-lite',
  'a=group:BUNDLE 0 1',
  'm=audio 40000 UDP/TLS/RTP/SAVPF 111',
  'a=mid:0',
  'a=ice-ufrag:old1',
  'a=ice-pwd:oldpassword',
  'a=fingerprint:sha-256 AA:BB',
  'a=candidate:udp 1 udp 1076302079 192.0.2.1 40000 typ host',
  'a=end-of-candidates',
  'm=video 40000 UDP/TLS/RTP/SAVPF 96',
  'a=mid:1',
  'a=ice-ufrag:old1',
  'a=ice-pwd:oldpassword',
  'a=candidate:udp 1 udp 1076302079 192.0.2.1 40000 typ host',
  'a=end-of-candidates',
  '',
].join('\r\n');

describe('sdpfrag bodies (RFC 8840)', () => {
  it('a trickle carries the credentials, the first section and the new candidates', () => {
    const fragment = trickleFragment(
      OFFER,
      ['candidate:2 1 udp 1 198.51.100.7 6000 typ srflx'],
      true,
    );
    expect(fragment.split('\r\n')).toEqual([
      'a=ice-ufrag:abcd',
      'a=ice-pwd:0123456789abcdefghijkl',
      'm=audio 9 UDP/TLS/RTP/SAVPF 0',
      'a=mid:0',
      'a=candidate:2 1 udp 1 198.51.100.7 6000 typ srflx',
      'a=end-of-candidates',
      '',
    ]);
  });

  it('an ICE restart offer carries the new credentials and the candidates so far', () => {
    const fragment = iceRestartFragment(OFFER);
    expect(fragment).toContain('a=ice-ufrag:abcd\r\n');
    expect(fragment).toContain('a=candidate:1 1 udp 2122260223 192.0.2.10 50000 typ host');
    expect(fragment).not.toContain('end-of-candidates');
  });

  it("the server's restart answer replaces credentials and candidates in every section", () => {
    const fragment = [
      'a=ice-lite',
      'a=group:BUNDLE 0 1',
      'm=audio 9 UDP/TLS/RTP/SAVPF 0',
      'a=mid:0',
      'a=ice-ufrag:new2',
      'a=ice-pwd:newpassword',
      'a=candidate:udp 1 udp 1076302079 192.0.2.1 40002 typ host',
      'a=candidate:tcp 1 tcp 1076276479 192.0.2.1 40003 typ host tcptype passive',
      'a=end-of-candidates',
      '',
    ].join('\r\n');
    const updated = applyIceRestartAnswer(ANSWER, fragment);
    expect(updated).not.toContain('old1');
    expect(updated).not.toContain('40000 typ host');
    expect(updated.match(/a=ice-ufrag:new2/g)).toHaveLength(2);
    expect(updated.match(/a=ice-pwd:newpassword/g)).toHaveLength(2);
    expect(updated.match(/a=candidate:/g)).toHaveLength(4);
    expect(updated.match(/a=end-of-candidates/g)).toHaveLength(2);
    // The rest of the negotiation stays.
    expect(updated).toContain('a=fingerprint:sha-256 AA:BB');
    expect(updated).toContain('a=ice-lite');
    expect(updated.startsWith('v=0\r\n')).toBe(true);
    expect(() => applyIceRestartAnswer(ANSWER, 'a=candidate:x')).toThrow(TypeError);
  });
});
