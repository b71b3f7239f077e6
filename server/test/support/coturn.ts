/**
 * A real TURN server for tests: Debian's coturn (installed by `infra/setup.sh --test`),
 * started by the test itself on loopback on free ports with the TURN REST scheme
 * (`use-auth-secret` + `static-auth-secret`), no config file (`-n`), its database, pid file
 * and nothing else in a temporary directory; no CLI, no TLS, no daemon. It relays only to
 * loopback peers, so relayed media never leaves this machine. The package's own service, if
 * the install started one, listens on the default ports and is never used.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface Coturn {
  /** UDP and TCP listening port on 127.0.0.1. */
  port: number;
  realm: string;
  /** `turn:127.0.0.1:<port>?transport=udp`, for ICE_SERVERS. */
  turnUrl: string;
  /** `stun:127.0.0.1:<port>`. */
  stunUrl: string;
  /** Everything coturn logged so far (verbose: a line per request, with the user). */
  log(): string;
  stop(): Promise<void>;
}

/** A port free for both UDP and TCP on 127.0.0.1 (coturn listens on both). */
async function freeUdpTcpPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const tcp = createServer();
    const port = await new Promise<number>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(0, '127.0.0.1', () => resolve((tcp.address() as { port: number }).port));
    });
    const udp = createSocket('udp4');
    const udpFree = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    if (udpFree) await new Promise<void>((resolve) => udp.close(() => resolve()));
    else udp.close();
    if (udpFree) return port;
  }
  throw new Error('no port free for both UDP and TCP');
}

/** A STUN Binding request over UDP; resolves true when a Binding success answers. */
async function stunAnswers(port: number, timeoutMs: number): Promise<boolean> {
  const socket = createSocket('udp4');
  const transactionId = randomBytes(12);
  const request = Buffer.concat([
    Buffer.from([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]),
    transactionId,
  ]);
  try {
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      socket.on('message', (message) => {
        if (message.readUInt16BE(0) === 0x0101 && message.subarray(8, 20).equals(transactionId)) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      socket.send(request, port, '127.0.0.1');
    });
  } finally {
    socket.close();
  }
}

async function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startCoturn(options: { secret: string }): Promise<Coturn> {
  const dir = await mkdtemp(path.join(tmpdir(), 'wisp-coturn-'));
  const port = await freeUdpTcpPort();
  // Relay ports from a window above mediasoup's test range (40000-49999); coturn retries
  // another port of the window when one is taken.
  const minPort = 50_000 + Math.floor(Math.random() * 100) * 100;
  const realm = 'wisp.test';
  const args = [
    '-n', // no configuration file: everything is on this command line
    '--listening-ip=127.0.0.1',
    `--listening-port=${port}`,
    '--relay-ip=127.0.0.1',
    `--min-port=${minPort}`,
    `--max-port=${minPort + 99}`,
    '--no-rfc5780', // no alternative port
    '--alt-listening-port=0',
    '--no-tls',
    '--no-dtls',
    '--no-cli',
    '--use-auth-secret',
    `--static-auth-secret=${options.secret}`,
    `--realm=${realm}`,
    '--fingerprint',
    // Relay to this machine only: coturn refuses loopback peers unless told otherwise, and
    // everything else is denied outright.
    '--allow-loopback-peers',
    '--denied-peer-ip=0.0.0.0-255.255.255.255',
    '--allowed-peer-ip=127.0.0.0-127.255.255.255',
    `--db=${path.join(dir, 'turndb')}`,
    `--pidfile=${path.join(dir, 'turnserver.pid')}`,
    '--log-file=stdout',
    '--simple-log',
    '--verbose',
  ];
  const child = spawn('turnserver', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited(child);
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (spawnError) {
      await stop();
      throw new Error(
        `cannot run turnserver (setup --test installs coturn): ${spawnError.message}`,
      );
    }
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`turnserver exited with ${child.exitCode}:\n${output.slice(-2000)}`);
    }
    if ((await tcpAccepts(port)) && (await stunAnswers(port, 300))) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`turnserver did not come up on port ${port}:\n${output.slice(-2000)}`);
    }
  }
  return {
    port,
    realm,
    turnUrl: `turn:127.0.0.1:${port}?transport=udp`,
    stunUrl: `stun:127.0.0.1:${port}`,
    log: () => output,
    stop,
  };
}

export interface AllocationAttempt {
  ok: boolean;
  exitCode: number | null;
  output: string;
}

/**
 * Asks coturn for real allocations with these credentials, with coturn's own client
 * (`turnutils_uclient -y`: two clients allocate relays and send to each other through them).
 * `ok` only when both allocations succeeded and the data went through.
 */
export async function tryAllocation(
  coturn: Coturn,
  username: string,
  credential: string,
): Promise<AllocationAttempt> {
  const args = ['-y', '-c', '-n', '3', '-p', String(coturn.port)];
  args.push('-u', username, '-w', credential, '-L', '127.0.0.1', '127.0.0.1');
  return new Promise((resolve) => {
    execFile('turnutils_uclient', args, { timeout: 20_000 }, (error, stdout, stderr) => {
      const exitCode = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      const output = `${stdout}${stderr}`;
      resolve({ ok: exitCode === 0 && /tot_recv_bytes ~ [1-9]/.test(output), exitCode, output });
    });
  });
}
