/**
 * A minimal STUN Binding client (RFC 8489 / RFC 8445 §7.1) to show that a server candidate is
 * reachable and answers ICE connectivity checks for given credentials, and that it stops
 * answering once the session is gone. Not an ICE agent: one request, one answer.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { crc32 } from 'node:zlib';

const MAGIC_COOKIE = 0x2112a442;
const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const BINDING_ERROR = 0x0111;
const ATTR_USERNAME = 0x0006;
const ATTR_MESSAGE_INTEGRITY = 0x0008;
const ATTR_ERROR_CODE = 0x0009;
const ATTR_PRIORITY = 0x0024;
const ATTR_ICE_CONTROLLING = 0x802a;
const ATTR_FINGERPRINT = 0x8028;

function attribute(type: number, value: Buffer): Buffer {
  const padded = Buffer.alloc(4 + Math.ceil(value.length / 4) * 4);
  padded.writeUInt16BE(type, 0);
  padded.writeUInt16BE(value.length, 2);
  value.copy(padded, 4);
  return padded;
}

function header(bodyLength: number, transactionId: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(BINDING_REQUEST, 0);
  h.writeUInt16BE(bodyLength, 2);
  h.writeUInt32BE(MAGIC_COOKIE, 4);
  transactionId.copy(h, 8);
  return h;
}

/** A Binding request from a controlling agent, with MESSAGE-INTEGRITY and FINGERPRINT. */
export function bindingRequest(options: {
  /** The server's (answer's) ufrag and pwd, the client's (offer's) ufrag. */
  serverUfrag: string;
  serverPwd: string;
  clientUfrag: string;
  transactionId?: Buffer;
}): { packet: Buffer; transactionId: Buffer } {
  const transactionId = options.transactionId ?? randomBytes(12);
  const priority = Buffer.alloc(4);
  priority.writeUInt32BE(1853824767, 0);
  let body = Buffer.concat([
    attribute(ATTR_USERNAME, Buffer.from(`${options.serverUfrag}:${options.clientUfrag}`)),
    attribute(ATTR_PRIORITY, priority),
    attribute(ATTR_ICE_CONTROLLING, randomBytes(8)),
  ]);
  // MESSAGE-INTEGRITY: HMAC-SHA1 over the message with the length already counting it.
  const hmac = createHmac('sha1', options.serverPwd)
    .update(Buffer.concat([header(body.length + 24, transactionId), body]))
    .digest();
  body = Buffer.concat([body, attribute(ATTR_MESSAGE_INTEGRITY, hmac)]);
  // FINGERPRINT: CRC-32 of the message (length counting it) XOR 0x5354554e.
  const fingerprint = Buffer.alloc(4);
  fingerprint.writeUInt32BE(
    (crc32(Buffer.concat([header(body.length + 8, transactionId), body])) ^ 0x5354554e) >>> 0,
    0,
  );
  body = Buffer.concat([body, attribute(ATTR_FINGERPRINT, fingerprint)]);
  return { packet: Buffer.concat([header(body.length, transactionId), body]), transactionId };
}

export type BindingOutcome =
  | { kind: 'success' }
  | { kind: 'error'; code: number }
  /** The socket reported an ICMP error (port closed). */
  | { kind: 'unreachable' }
  | { kind: 'timeout' };

/**
 * Sends one Binding request (retransmitted a few times, RFC 8489 §6.2.1 style) to
 * `address:port` over UDP and reports the answer with our transaction id, or a timeout.
 */
export async function stunBinding(options: {
  address: string;
  port: number;
  serverUfrag: string;
  serverPwd: string;
  clientUfrag: string;
  timeoutMs?: number;
}): Promise<BindingOutcome> {
  const { packet, transactionId } = bindingRequest(options);
  const socket = createSocket(options.address.includes(':') ? 'udp6' : 'udp4');
  const timeoutMs = options.timeoutMs ?? 1500;
  try {
    return await new Promise<BindingOutcome>((resolve, reject) => {
      const timers: NodeJS.Timeout[] = [];
      const finish = (outcome: BindingOutcome): void => {
        for (const timer of timers) clearTimeout(timer);
        resolve(outcome);
      };
      socket.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'ECONNREFUSED') finish({ kind: 'unreachable' });
        else reject(error);
      });
      socket.on('message', (message) => {
        if (message.length < 20 || message.readUInt32BE(4) !== MAGIC_COOKIE) return;
        if (!message.subarray(8, 20).equals(transactionId)) return;
        const type = message.readUInt16BE(0);
        if (type === BINDING_SUCCESS) {
          finish({ kind: 'success' });
        } else if (type === BINDING_ERROR) {
          let code = 0;
          for (let offset = 20; offset + 4 <= message.length;) {
            const attrType = message.readUInt16BE(offset);
            const length = message.readUInt16BE(offset + 2);
            if (attrType === ATTR_ERROR_CODE && length >= 4) {
              code = (message[offset + 6] & 0x07) * 100 + message[offset + 7];
            }
            offset += 4 + Math.ceil(length / 4) * 4;
          }
          finish({ kind: 'error', code });
        }
      });
      const send = (): void => socket.send(packet, options.port, options.address);
      send();
      for (const at of [100, 300, 700]) if (at < timeoutMs) timers.push(setTimeout(send, at));
      timers.push(setTimeout(() => finish({ kind: 'timeout' }), timeoutMs));
    });
  } finally {
    socket.close();
  }
}
