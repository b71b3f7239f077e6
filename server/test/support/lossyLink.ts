/**
 * A lossy network link of the test's own between edges and one node (this kernel has no
 * netem): an HTTP proxy for the node's internal API that also relays the RTP of every pipe
 * it sees set up. It rewrites the pipe offer (the edge then sends to the relay) and the
 * connect (the node then sends to the relay), so each end still sees one fixed peer address,
 * as a PipeTransport requires, and delays and drops UDP datagrams in both directions.
 * Point the node's `INTERNAL_URL` at `url` (and set its `PIPE_LISTEN_IP` itself).
 */
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';

export interface LossyLinkOptions {
  /** Where the proxy and relays listen (an address both sides reach). */
  listenIp: string;
  /** The node's real internal base URL. */
  target: string;
  delayMs: number;
  /** Probability of dropping each datagram, each direction (0.01 = 1 %). */
  loss: number;
}

export interface LossyLink {
  url: string;
  stats(): { forwarded: number; dropped: number; pipes: number };
  close(): Promise<void>;
}

interface Endpoint {
  ip: string;
  port: number;
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startLossyLink(options: LossyLinkOptions): Promise<LossyLink> {
  const { listenIp, delayMs, loss } = options;
  let forwarded = 0;
  let dropped = 0;
  const sockets: Socket[] = [];
  const relays = new Map<string, { toNode: Socket; toEdge: Socket; edge?: Endpoint }>();

  const bind = (): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const socket = createSocket('udp4');
      socket.once('error', reject);
      socket.bind(0, listenIp, () => resolve(socket));
      sockets.push(socket);
    });
  const send = (socket: Socket, message: Buffer, to: Endpoint | undefined) => {
    if (!to) return;
    if (Math.random() < loss) {
      dropped++;
      return;
    }
    forwarded++;
    setTimeout(() => socket.send(message, to.port, to.ip), delayMs);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const headers: Record<string, string> = {};
    for (const name of ['authorization', 'content-type']) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    let payload: Buffer | undefined = req.method === 'GET' ? undefined : await body(req);
    const connect = /^\/internal\/pipes\/([^/]+)\/connect$/.exec(url);
    if (connect && payload) {
      const relay = relays.get(connect[1]);
      const endpoint = JSON.parse(payload.toString()) as Endpoint;
      if (relay) {
        relay.edge = { ip: endpoint.ip, port: endpoint.port };
        const { port } = relay.toNode.address();
        payload = Buffer.from(JSON.stringify({ ...endpoint, ip: listenIp, port }));
      }
    }
    const response = await fetch(`${options.target}${url}`, {
      method: req.method,
      headers,
      body: payload ? new Uint8Array(payload) : undefined,
    });
    if (/^\/internal\/streams\/[^/]+\/pipes$/.test(url) && response.status === 201) {
      const offer = (await response.json()) as Endpoint & { pipeId: string };
      const toEdge = await bind();
      const toNode = await bind();
      const node = { ip: offer.ip, port: offer.port };
      const relay: { toNode: Socket; toEdge: Socket; edge?: Endpoint } = { toNode, toEdge };
      relays.set(offer.pipeId, relay);
      toEdge.on('message', (message) => send(toNode, message, node));
      toNode.on('message', (message) => send(toEdge, message, relay.edge));
      const rewritten = JSON.stringify({ ...offer, ip: listenIp, port: toEdge.address().port });
      res.writeHead(201, { 'content-type': 'application/json' }).end(rewritten);
      return;
    }
    res.writeHead(response.status, {
      'content-type': response.headers.get('content-type') ?? 'application/octet-stream',
    });
    if (!response.body) return void res.end();
    const stream = Readable.fromWeb(response.body as never);
    req.once('close', () => stream.destroy());
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, listenIp, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://${listenIp}:${port}`,
    stats: () => ({ forwarded, dropped, pipes: relays.size }),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      for (const socket of sockets) socket.close();
    },
  };
}
