/**
 * A StreamSource that pulls streams from other nodes over network pipes (the cascade). The
 * first `acquire` of a stream asks the stream's parent (its ingest, or a relay that carries
 * it; the locator decides) for a pipe, builds the local end, and keeps one `PulledStream`:
 * a router in this process fed by that one pipe, however many leases (fan-out routers,
 * downstream pipes) hang off it. The last release starts a linger (`EDGE_LINGER_MS`);
 * a new viewer within it reuses the pipe.
 *
 * The pulled stream closes, and tells its holders, when the source ends the pipe or its
 * events channel breaks: a killed source process resets the connection at once, a
 * vanished host shows as no heartbeat for `eventsTimeoutMs`.
 *
 * A parent that drains says `draining` on the channel: the pulled stream retires. It keeps
 * flowing for the holders it has, but the next `acquire` pulls the stream anew (from another
 * parent: the locator skips draining nodes), `parentDraining` tells the edge to move its
 * viewers over, and the old pipe is released as soon as its last holder lets go.
 */
import { InternalCallError, TypedEmitter, createLogger, type InternalClient } from '@wisp/core';
import {
  NETWORK_PIPE,
  leaseLiveStream,
  routerCodec,
  type LiveStream,
  type PipeEndpoint,
  type PipeOffer,
  type StreamLease,
  type StreamSource,
  type WorkerPool,
} from '@wisp/core/rtc';
import type { types as ms } from 'mediasoup';

/** Where to pull a stream from. */
export interface PipeParent {
  node: string;
  internalUrl: string;
}

export interface ParentLocator {
  /** The node to pull `streamId` from, or undefined when the stream is not live anywhere. */
  locate(streamId: string): Promise<PipeParent | undefined>;
}

export interface RemoteSourceOptions {
  /** This node's id (sent to the parent). */
  self: string;
  pool: WorkerPool;
  client: InternalClient;
  locator: ParentLocator;
  pipe: {
    listenIp: string;
    announcedIp?: string;
    srtp: 'auto' | 'on' | 'off';
    portRange: { min: number; max: number };
  };
  lingerMs: number;
  /** No event or heartbeat from the parent for this long closes the stream. Default 6000. */
  eventsTimeoutMs?: number;
}

export interface RemoteSourceEvents extends Record<string, unknown> {
  pulled: { streamId: string; parent: string; hops: number };
  dropped: { streamId: string; parent: string; reason: string };
  /** The parent of a pulled stream drains: move its holders to a new `acquire`. */
  parentDraining: { streamId: string; parent: string };
}

/** One stream pulled into this process. */
class PulledStream implements LiveStream {
  readonly streamId: string;
  readonly router: ms.Router;
  readonly producers: ms.Producer[];
  readonly parent: PipeParent;
  readonly pipeId: string;
  /** Pipes between the ingest and this router. */
  readonly hops: number;
  holders = 0;
  linger: NodeJS.Timeout | undefined;
  /** Its parent drains: no new holders; dropped once the last one leaves. */
  retiring = false;
  readonly #listeners = new Set<() => void>();
  readonly #abort = new AbortController();
  #closed = false;

  constructor(fields: {
    streamId: string;
    router: ms.Router;
    producers: ms.Producer[];
    parent: PipeParent;
    pipeId: string;
    hops: number;
  }) {
    this.streamId = fields.streamId;
    this.router = fields.router;
    this.producers = fields.producers;
    this.parent = fields.parent;
    this.pipeId = fields.pipeId;
    this.hops = fields.hops;
    this.router.observer.once('close', () => this.close());
  }

  get closed(): boolean {
    return this.#closed;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  onClosed(listener: () => void): () => void {
    if (this.#closed) {
      listener();
      return () => undefined;
    }
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.linger);
    this.#abort.abort();
    this.router.close();
    for (const listener of [...this.#listeners]) listener();
    this.#listeners.clear();
  }
}

export class RemoteSource extends TypedEmitter<RemoteSourceEvents> implements StreamSource {
  readonly #options: RemoteSourceOptions;
  readonly #streams = new Map<string, PulledStream>();
  readonly #pending = new Map<string, Promise<PulledStream | undefined>>();
  /** Pulls whose parent drains, still held by viewers being moved off them. */
  readonly #retired = new Set<PulledStream>();
  readonly #log = createLogger('RemoteSource');
  #closed = false;

  constructor(options: RemoteSourceOptions) {
    super();
    this.#options = options;
  }

  async acquire(streamId: string): Promise<StreamLease | undefined> {
    if (this.#closed) return undefined;
    let pulled: PulledStream | undefined = this.#streams.get(streamId);
    if (!pulled || pulled.closed) {
      let pending = this.#pending.get(streamId);
      if (!pending) {
        pending = this.#pull(streamId).finally(() => this.#pending.delete(streamId));
        this.#pending.set(streamId, pending);
      }
      pulled = await pending;
    }
    if (!pulled || pulled.closed) return undefined;
    return this.#lease(pulled);
  }

  /** The streams pulled into this process, for the stream registry. */
  pulled(): { streamId: string; parent: string; hops: number; holders: number }[] {
    // A retiring copy is not listed: the stream registry shows the pull that replaces it.
    return [...this.#streams.values()]
      .filter((p) => !p.closed)
      .map((p) => ({
        streamId: p.streamId,
        parent: p.parent.node,
        hops: p.hops,
        holders: p.holders,
      }));
  }

  get streamCount(): number {
    return this.#streams.size;
  }

  #lease(pulled: PulledStream): StreamLease {
    pulled.holders++;
    clearTimeout(pulled.linger);
    pulled.linger = undefined;
    return leaseLiveStream(pulled, {
      hops: pulled.hops,
      onRelease: () => {
        pulled.holders--;
        if (pulled.holders > 0 || pulled.closed) return;
        if (pulled.retiring) this.#drop(pulled, 'parent draining, nobody left on it');
        else pulled.linger = setTimeout(() => this.#drop(pulled, 'unused'), this.#options.lingerMs);
      },
    });
  }

  async #pull(streamId: string): Promise<PulledStream | undefined> {
    const parent = await this.#options.locator.locate(streamId);
    if (!parent) return undefined;
    const { client, pool, pipe } = this.#options;
    const srtp = pipe.srtp === 'on' || (pipe.srtp === 'auto' && !isLoopback(pipe.listenIp));
    let offer: PipeOffer;
    try {
      offer = await client.call<PipeOffer>(
        parent.internalUrl,
        'POST',
        `/internal/streams/${encodeURIComponent(streamId)}/pipes`,
        { node: this.#options.self, srtp },
      );
    } catch (error) {
      // Not live there (any more), or the node is gone: the stream is not available.
      this.#log.warn(
        { streamId, parent: parent.node, err: (error as Error).message },
        'pipe request refused',
      );
      if (error instanceof InternalCallError) return undefined;
      throw error;
    }
    const release = () =>
      client
        .call(parent.internalUrl, 'DELETE', `/internal/pipes/${offer.pipeId}`)
        .catch(() => undefined);
    let router: ms.Router | undefined;
    try {
      router = await pool.createRouter(
        offer.tracks.flatMap((track) =>
          track.rtpParameters.codecs
            .filter((c) => !/\/rtx$/i.test(c.mimeType))
            .map((c) => routerCodec(track.kind, c, c.payloadType)),
        ),
        { streamId, role: 'pulled', parent: parent.node },
      );
      const transport = await router.createPipeTransport({
        listenInfo: {
          protocol: 'udp',
          ip: pipe.listenIp,
          ...(pipe.announcedIp ? { announcedAddress: pipe.announcedIp } : {}),
          portRange: pipe.portRange,
        },
        enableRtx: true,
        enableSrtp: offer.srtpParameters !== undefined,
        appData: { ...NETWORK_PIPE },
      });
      await transport.connect({
        ip: offer.ip,
        port: offer.port,
        ...(offer.srtpParameters ? { srtpParameters: offer.srtpParameters } : {}),
      });
      const producers: ms.Producer[] = [];
      for (const track of offer.tracks) {
        producers.push(
          await transport.produce({
            kind: track.kind,
            rtpParameters: track.rtpParameters,
            paused: track.paused,
            // No delay here: requests pass straight up the cascade, and the ingest's producer
            // alone coalesces them (KEYFRAME_REQUEST_DELAY_MS) to spare the encoder. Delaying
            // at every hop as well deferred a new viewer's request once per hop: two hops
            // away the median first frame took 518 ms instead of 221 ms (bench:cluster).
            keyFrameRequestDelay: 0,
            appData: { sourceTrackId: track.id },
          }),
        );
      }
      const pulled = new PulledStream({
        streamId,
        router,
        producers,
        parent,
        pipeId: offer.pipeId,
        hops: offer.hops + 1,
      });
      // The events channel first, so the pipe is tied to this process before media flows.
      const events = await this.#openEvents(parent, offer.pipeId, pulled.signal);
      const endpoint: PipeEndpoint = {
        ip: transport.tuple.localAddress,
        port: transport.tuple.localPort,
        ...(transport.srtpParameters ? { srtpParameters: transport.srtpParameters } : {}),
      };
      await client.call(
        parent.internalUrl,
        'POST',
        `/internal/pipes/${offer.pipeId}/connect`,
        endpoint,
      );
      if (this.#closed) {
        pulled.close();
        return undefined;
      }
      this.#streams.set(streamId, pulled);
      pulled.onClosed(() => {
        if (this.#streams.get(streamId) === pulled) this.#streams.delete(streamId);
      });
      void this.#watch(pulled, events);
      this.#log.info(
        {
          streamId,
          parent: parent.node,
          hops: pulled.hops,
          srtp,
          // Every simulcast layer crosses the pipe; the edge's consumers pick one per viewer.
          encodings: Object.fromEntries(
            offer.tracks.map((t) => [t.kind, t.rtpParameters.encodings?.length ?? 0]),
          ),
        },
        'stream pulled',
      );
      this.emit('pulled', { streamId, parent: parent.node, hops: pulled.hops });
      return pulled;
    } catch (error) {
      router?.close();
      void release();
      this.#log.warn({ streamId, parent: parent.node, err: error }, 'pull failed');
      if (error instanceof InternalCallError) return undefined;
      throw error;
    }
  }

  /** Opens the parent's events channel for the pipe: a long-lived response body. */
  async #openEvents(
    parent: PipeParent,
    pipeId: string,
    signal: AbortSignal,
  ): Promise<ReadableStreamDefaultReader<Uint8Array>> {
    const url = `${parent.internalUrl}/internal/pipes/${pipeId}/events`;
    let response: Response;
    try {
      response = await fetch(url, {
        headers: await this.#options.client.headers(),
        signal,
      });
    } catch (error) {
      throw new InternalCallError(`GET ${url} failed: ${(error as Error).message}`);
    }
    if (!response.ok || !response.body) {
      throw new InternalCallError(`GET ${url}: ${response.status}`, response.status);
    }
    return response.body.getReader();
  }

  /** Reads the events channel until it ends, breaks or goes quiet; then drops the stream. */
  async #watch(
    pulled: PulledStream,
    reader: ReadableStreamDefaultReader<Uint8Array>,
  ): Promise<void> {
    const timeoutMs = this.#options.eventsTimeoutMs ?? 6000;
    const decoder = new TextDecoder();
    let reason = 'source ended the pipe';
    let quiet: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(quiet);
      quiet = setTimeout(() => {
        reason = `no heartbeat from ${pulled.parent.node} for ${timeoutMs} ms`;
        void reader.cancel().catch(() => undefined);
      }, timeoutMs);
    };
    arm();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        arm();
        const text = decoder.decode(value, { stream: true });
        if (/^event: draining$/m.test(text)) this.#retire(pulled);
        if (/^event: closed$/m.test(text)) {
          reason = 'stream offline at the source';
          break;
        }
      }
    } catch (error) {
      if (!pulled.closed) reason = `events channel broke: ${(error as Error).message}`;
    } finally {
      clearTimeout(quiet);
    }
    this.#drop(pulled, reason, false);
  }

  /** The parent drains: new holders get a new pull; the holders of this one are told. */
  #retire(pulled: PulledStream): void {
    if (pulled.retiring || pulled.closed) return;
    pulled.retiring = true;
    if (this.#streams.get(pulled.streamId) === pulled) this.#streams.delete(pulled.streamId);
    this.#retired.add(pulled);
    pulled.onClosed(() => this.#retired.delete(pulled));
    this.#log.info(
      { streamId: pulled.streamId, parent: pulled.parent.node, holders: pulled.holders },
      'parent draining: the stream will be pulled from another node',
    );
    if (pulled.holders === 0) {
      this.#drop(pulled, 'parent draining');
      return;
    }
    this.emit('parentDraining', { streamId: pulled.streamId, parent: pulled.parent.node });
  }

  #drop(pulled: PulledStream, reason: string, notifyParent = true): void {
    if (pulled.closed) return;
    pulled.close();
    if (notifyParent) {
      void this.#options.client
        .call(pulled.parent.internalUrl, 'DELETE', `/internal/pipes/${pulled.pipeId}`)
        .catch(() => undefined);
    }
    this.#log.info(
      { streamId: pulled.streamId, parent: pulled.parent.node, reason },
      'stream dropped',
    );
    // A retired copy that a new pull replaced: the registry entry is the new one's.
    if (pulled.retiring && this.#streams.has(pulled.streamId)) return;
    this.emit('dropped', { streamId: pulled.streamId, parent: pulled.parent.node, reason });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const pulled of [...this.#streams.values(), ...this.#retired]) {
      this.#drop(pulled, 'shutdown');
    }
    this.removeAllListeners();
  }
}

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}
