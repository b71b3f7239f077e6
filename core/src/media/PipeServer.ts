/**
 * The source side of a network pipe: a node that carries a live stream (the ingest, or an
 * edge that pulled it: a relay) feeds it to another node over a mediasoup PipeTransport.
 * mediasoup's `pipeToRouter` does this for two routers of one host; across hosts the two
 * ends run it by hand over the internal HTTP API:
 *
 * 1. `open()`: the puller asks for the stream. The server takes a lease on it, creates a
 *    PipeTransport (RTX on, SRTP when asked) and one consumer per track, **paused**, and
 *    answers with its address, SRTP key and the tracks' RTP parameters (a PipeOffer).
 * 2. The puller creates its router and PipeTransport, connects it to that address and
 *    produces the tracks, then `connect()`s this end to its own address: the consumers are
 *    resumed, which makes mediasoup request a keyframe from the publisher at once.
 * 3. The pipe lives as long as the puller holds its events channel open (see
 *    server/src/internalRoutes.ts) and the stream is live; whichever ends first closes it.
 *    A pipe not connected within `connectTimeoutMs` closes too.
 */
import { randomUUID } from 'node:crypto';
import type { types as ms } from 'mediasoup';
import { NotFoundError, ValidationError } from '../errors.ts';
import { TypedEmitter } from '../events.ts';
import { createLogger } from '../logger.ts';
import type { MediaKind } from '../sdp/index.ts';
import type { StreamLease, StreamSource } from './LiveStream.ts';
import { NETWORK_PIPE } from './WorkerPool.ts';

export interface PipeTrackOffer {
  /** The track's id at the source (the producer id in the source's router). */
  id: string;
  kind: MediaKind;
  /** What the pipe sends: produce exactly this on the other end. */
  rtpParameters: ms.RtpParameters;
  paused: boolean;
}

/** The answer to a pipe request (POST /internal/streams/:id/pipes). */
export interface PipeOffer {
  pipeId: string;
  streamId: string;
  ip: string;
  port: number;
  srtpParameters?: ms.SrtpParameters;
  /** Pipes between the publisher's ingest and the source's router (0 at the ingest). */
  hops: number;
  tracks: PipeTrackOffer[];
}

/** Where the puller's end listens (POST /internal/pipes/:id/connect). */
export interface PipeEndpoint {
  ip: string;
  port: number;
  srtpParameters?: ms.SrtpParameters;
}

export interface PipeServerOptions {
  /** Streams this node carries (its ingest, its pulled copies). */
  source: StreamSource;
  /** `PIPE_LISTEN_IP` / `PIPE_ANNOUNCED_IP`. */
  listenIp: string;
  announcedIp?: string;
  /** UDP ports pipes take (`RTC_MIN_PORT`..`RTC_MAX_PORT`). */
  portRange: { min: number; max: number };
  /** A pipe whose puller has not connected by then is closed. Default 10000 ms. */
  connectTimeoutMs?: number;
}

export interface PipeEvents extends Record<string, unknown> {
  closed: { reason: string };
}

/** One open pipe to another node. */
export class ServedPipe extends TypedEmitter<PipeEvents> {
  readonly id = randomUUID();
  readonly streamId: string;
  /** The node that pulls. */
  readonly node: string;
  readonly transport: ms.PipeTransport;
  readonly consumers: ms.Consumer[] = [];
  readonly #lease: StreamLease;
  #connected = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(lease: StreamLease, node: string, transport: ms.PipeTransport, timeoutMs: number) {
    super();
    this.streamId = lease.streamId;
    this.node = node;
    this.transport = transport;
    this.#lease = lease;
    lease.onClosed(() => this.close('stream-offline'));
    transport.observer.once('close', () => this.close('stream-offline'));
    this.#timer = setTimeout(() => this.close('connect-timeout'), timeoutMs);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get connected(): boolean {
    return this.#connected;
  }

  async connect(endpoint: PipeEndpoint): Promise<void> {
    if (this.#closed) throw new NotFoundError('the pipe is closed');
    if (this.#connected) throw new ValidationError('the pipe is already connected');
    await this.transport.connect(endpoint);
    this.#connected = true;
    clearTimeout(this.#timer);
    for (const consumer of this.consumers) await consumer.resume();
  }

  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.transport.close();
    this.#lease.release();
    this.emit('closed', { reason });
    this.removeAllListeners();
  }
}

export class PipeServer {
  readonly #options: PipeServerOptions;
  readonly #pipes = new Map<string, ServedPipe>();
  readonly #log = createLogger('PipeServer');
  #closed = false;

  constructor(options: PipeServerOptions) {
    this.#options = options;
  }

  /** Opens a pipe of `streamId` for `node`; 404 when the stream is not live here. */
  async open(streamId: string, request: { node: string; srtp: boolean }): Promise<PipeOffer> {
    if (this.#closed) throw new NotFoundError('this node is shutting down');
    const lease = await this.#options.source.acquire(streamId);
    if (!lease || lease.closed) throw new NotFoundError('the stream is not live on this node');
    let transport: ms.PipeTransport | undefined;
    try {
      transport = await lease.router.createPipeTransport({
        listenInfo: {
          protocol: 'udp',
          ip: this.#options.listenIp,
          ...(this.#options.announcedIp ? { announcedAddress: this.#options.announcedIp } : {}),
          portRange: this.#options.portRange,
        },
        enableRtx: true,
        enableSrtp: request.srtp,
        appData: { streamId, pipeTo: request.node, ...NETWORK_PIPE },
      });
      const pipe = new ServedPipe(
        lease,
        request.node,
        transport,
        this.#options.connectTimeoutMs ?? 10_000,
      );
      const tracks: PipeTrackOffer[] = [];
      for (const track of lease.tracks) {
        const consumer = await transport.consume({ producerId: track.id });
        // Nothing flows before the puller's end exists; resumed on connect (keyframe then).
        await consumer.pause();
        pipe.consumers.push(consumer);
        tracks.push({
          id: track.id,
          kind: track.kind,
          rtpParameters: consumer.rtpParameters,
          paused: consumer.producerPaused,
        });
      }
      if (lease.closed) throw new NotFoundError('the stream went offline');
      this.#pipes.set(pipe.id, pipe);
      pipe.once('closed', ({ reason }) => {
        this.#pipes.delete(pipe.id);
        this.#log.info({ streamId, pipeId: pipe.id, node: request.node, reason }, 'pipe closed');
      });
      this.#log.info({ streamId, pipeId: pipe.id, node: request.node }, 'pipe opened');
      const { localAddress, localPort } = transport.tuple;
      return {
        pipeId: pipe.id,
        streamId,
        ip: localAddress,
        port: localPort,
        ...(transport.srtpParameters ? { srtpParameters: transport.srtpParameters } : {}),
        hops: lease.hops,
        tracks,
      };
    } catch (error) {
      transport?.close();
      lease.release();
      throw error;
    }
  }

  get(pipeId: string): ServedPipe {
    const pipe = this.#pipes.get(pipeId);
    if (!pipe) throw new NotFoundError('no such pipe');
    return pipe;
  }

  async connect(pipeId: string, endpoint: PipeEndpoint): Promise<void> {
    await this.get(pipeId).connect(endpoint);
  }

  closePipe(pipeId: string, reason = 'released'): void {
    this.get(pipeId).close(reason);
  }

  /** Open pipes of a stream: how many nodes this one feeds with it. */
  downstream(streamId: string): number {
    let count = 0;
    for (const pipe of this.#pipes.values()) if (pipe.streamId === streamId) count++;
    return count;
  }

  get pipeCount(): number {
    return this.#pipes.size;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const pipe of [...this.#pipes.values()]) pipe.close('shutdown');
  }
}
