/**
 * The client address a request is limited (and reported to the publish hook) by: the TCP
 * peer, or — only when that peer is a trusted proxy (`TRUST_PROXY`) — the address the
 * proxies put in `X-Forwarded-For`, walked from the right past every trusted hop, the way
 * Express does it (`proxy-addr`, which is Express's own module). With no trusted proxy the
 * header is ignored, so a client cannot dodge its limit by sending one.
 */
import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';

/** Decides whether an address is in a list (`TRUST_PROXY`, `RATE_LIMIT_EXEMPT`). */
export type AddressMatcher = (address: string, hop: number) => boolean;

const NOBODY: AddressMatcher = () => false;

/**
 * Compiles a list of addresses, CIDR ranges and the names `loopback`, `linklocal`,
 * `uniquelocal` (proxy-addr's syntax). Throws a TypeError on an entry that is none of them.
 */
export function addressMatcher(entries: readonly string[]): AddressMatcher {
  if (entries.length === 0) return NOBODY;
  return proxyaddr.compile([...entries]);
}

/** `::ffff:127.0.0.1` (an IPv4 peer of a dual-stack socket) -> `127.0.0.1`. */
export function normalizeAddress(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped ? mapped[1] : address.toLowerCase();
}

/**
 * The client's address from the TCP peer and the `X-Forwarded-For` header, believing the
 * header only as far as the hops are trusted.
 */
export function clientAddress(
  peer: string,
  forwardedFor: string | undefined,
  trust: AddressMatcher,
): string {
  const normalized = normalizeAddress(peer);
  if (trust === NOBODY || forwardedFor === undefined) return normalized;
  // proxy-addr reads the peer and the header from a Node request: give it just those.
  const request = {
    headers: { 'x-forwarded-for': forwardedFor },
    connection: { remoteAddress: normalized },
    socket: { remoteAddress: normalized },
  } as unknown as IncomingMessage;
  return normalizeAddress(proxyaddr(request, trust));
}

/**
 * The key a client's buckets are kept under: its IPv4 address, or the /64 of an IPv6 one
 * (one subscriber usually holds a whole /64, so per-address IPv6 limits would be no limit).
 */
export function limitKeyOf(address: string): string {
  if (!address.includes(':')) return address;
  const groups = expandIpv6(address);
  return groups ? `${groups.slice(0, 4).join(':')}::/64` : address;
}

function expandIpv6(address: string): string[] | undefined {
  const [head, tail] = address.split('::');
  if (address.split('::').length > 2) return undefined;
  const left = head ? head.split(':') : [];
  const right = tail !== undefined && tail !== '' ? tail.split(':') : [];
  if (tail === undefined && left.length !== 8) return undefined;
  const fill = 8 - left.length - right.length;
  if (fill < 0) return undefined;
  return [...left, ...Array<string>(tail === undefined ? 0 : fill).fill('0'), ...right].map((g) =>
    (g || '0').replace(/^0+(?=.)/, ''),
  );
}
