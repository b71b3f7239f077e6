/**
 * Parsing of `application/trickle-ice-sdpfrag` bodies (RFC 8840, RFC 9725 §4.3). Accepts the
 * shapes deployed clients send (conformance §H9): ufrag/pwd at session or media level, any
 * m-line, LF-only line ends, a lone end-of-candidates. Candidates we can't use (mDNS, FQDN,
 * unknown transports) are kept but flagged; malformed lines throw ValidationError.
 */
import { ValidationError } from '../errors.ts';

export interface TrickleCandidate {
  foundation: string;
  component: number;
  transport: string;
  priority: number;
  address: string;
  port: number;
  type: string;
  /** False for candidates we can't use (mDNS .local, FQDN, unknown transport). */
  usable: boolean;
}

export interface TrickleFragment {
  iceUfrag?: string;
  icePwd?: string;
  iceOptions?: string;
  candidates: TrickleCandidate[];
  endOfCandidates: boolean;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseCandidate(value: string): TrickleCandidate {
  const parts = value.trim().split(/\s+/);
  if (parts.length < 8 || parts[6]?.toLowerCase() !== 'typ') {
    throw new ValidationError(`malformed candidate "a=candidate:${value}"`);
  }
  const [foundation, component, transport, priority, address, port, , type] = parts as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const componentNumber = Number(component);
  const priorityNumber = Number(priority);
  const portNumber = Number(port);
  if (
    !Number.isInteger(componentNumber) ||
    !Number.isInteger(priorityNumber) ||
    !Number.isInteger(portNumber) ||
    portNumber < 0 ||
    portNumber > 65535
  ) {
    throw new ValidationError(`malformed candidate "a=candidate:${value}"`);
  }
  const lowerTransport = transport.toLowerCase();
  const isIp = IPV4.test(address) || address.includes(':');
  return {
    foundation,
    component: componentNumber,
    transport: lowerTransport,
    priority: priorityNumber,
    address,
    port: portNumber,
    type: type.toLowerCase(),
    usable: isIp && (lowerTransport === 'udp' || lowerTransport === 'tcp'),
  };
}

export function parseTrickleFragment(body: string): TrickleFragment {
  const fragment: TrickleFragment = { candidates: [], endOfCandidates: false };
  const lines = body.split(/\r?\n/).map((l) => l.trim());
  let sawLine = false;
  for (const line of lines) {
    if (!line) continue;
    sawLine = true;
    if (!/^[a-z]=/.test(line)) throw new ValidationError(`malformed sdpfrag line "${line}"`);
    if (!line.startsWith('a=')) continue; // m=, c=, ... lines carry nothing we need.
    const [name, ...rest] = line.slice(2).split(':');
    const value = rest.join(':');
    switch (name) {
      case 'ice-ufrag':
        fragment.iceUfrag = value;
        break;
      case 'ice-pwd':
        fragment.icePwd = value;
        break;
      case 'ice-options':
        fragment.iceOptions = value;
        break;
      case 'candidate':
        fragment.candidates.push(parseCandidate(value));
        break;
      case 'end-of-candidates':
        fragment.endOfCandidates = true;
        break;
      default:
        break; // a=mid, a=group, ... are allowed and not needed.
    }
  }
  if (!sawLine) throw new ValidationError('empty sdpfrag body');
  if (
    fragment.iceUfrag !== undefined &&
    (fragment.iceUfrag.length < 4 || fragment.iceUfrag.length > 256)
  ) {
    throw new ValidationError('ice-ufrag must be 4-256 characters');
  }
  if (
    fragment.icePwd !== undefined &&
    (fragment.icePwd.length < 22 || fragment.icePwd.length > 256)
  ) {
    throw new ValidationError('ice-pwd must be 22-256 characters');
  }
  return fragment;
}
