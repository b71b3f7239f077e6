/**
 * One stream's fan-out on this edge. Viewers' payload types differ between clients (Chrome
 * and Firefox number VP8 and Opus differently) and mediasoup sends a consumer's codec
 * with the router's payload type, so viewers are grouped by payload-type mapping: each group
 * gets fan-out routers created with the viewers' payload types, fed from the stream's lease
 * (`lease.pipeTo`, in-process pipes from the lease's router). A group opens another router
 * (least-loaded worker) every `viewersPerRouter` viewers, which spreads one large audience
 * over all cores. However many fan-out routers there are, the stream reaches this process
 * once: through the one lease.
 *
 * The EdgeStream closes when its stream goes offline (closing every viewer) or when its last
 * viewer leaves (releasing the lease).
 */
import type { types as ms } from 'mediasoup';
import { InvalidStateError, TypedEmitter, clientParameterError, createLogger } from '@wisp/core';
import {
  routerCodec,
  type CloseReason,
  type StreamLease,
  type StreamTrack,
  type WorkerPool,
} from '@wisp/core/rtc';
import type { ViewPlan } from './planView.ts';
import type { WhepSession } from './WhepSession.ts';

interface FanoutRouter {
  router: ms.Router;
  /** Track id -> the id of its producer in this router. */
  producerIds: ReadonlyMap<string, string>;
  viewers: number;
  /** False for the lease's own router (served directly): never closed by the edge. */
  owned: boolean;
}

/** A viewer's place on a fan-out router, held while its session is being set up. */
export interface Reservation {
  router: ms.Router;
  /** Track id -> the producer to consume in `router`. */
  producerIds: ReadonlyMap<string, string>;
  /** The session now holds the place until it closes. */
  attach(session: WhepSession): void;
  /** Setup failed: give the place back. Idempotent; a no-op after attach. */
  release(): void;
}

export interface EdgeStreamEvents extends Record<string, unknown> {
  closed: { reason: CloseReason };
}

export class EdgeStream extends TypedEmitter<EdgeStreamEvents> {
  readonly streamId: string;
  readonly lease: StreamLease;
  readonly #pool: WorkerPool;
  readonly #viewersPerRouter: number;
  readonly #groups = new Map<string, FanoutRouter[]>();
  readonly #sessions = new Set<WhepSession>();
  readonly #log;
  readonly #offSource: () => void;
  /** Viewers plus reservations in progress; the stream closes when it drops to zero. */
  #members = 0;
  #closed = false;

  readonly #serveFromSource: boolean;

  /** The EdgeStream owns `lease` and releases it when it closes. */
  constructor(options: {
    lease: StreamLease;
    pool: WorkerPool;
    viewersPerRouter: number;
    serveFromSource?: boolean;
  }) {
    super();
    this.#serveFromSource = options.serveFromSource ?? false;
    this.streamId = options.lease.streamId;
    this.lease = options.lease;
    this.#pool = options.pool;
    this.#viewersPerRouter = options.viewersPerRouter;
    this.#log = createLogger('EdgeStream', { streamId: this.streamId });
    this.#offSource = options.lease.onClosed(() => this.close('stream-offline'));
  }

  get tracks(): readonly StreamTrack[] {
    return this.lease.tracks;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get viewerCount(): number {
    return this.#sessions.size;
  }

  /** No viewer and no join in progress: nothing holds the stream open. */
  get idle(): boolean {
    return this.#members === 0;
  }

  get routerCount(): number {
    let count = 0;
    for (const group of this.#groups.values()) count += group.length;
    return count;
  }

  /**
   * Reserves a place for one viewer: a fan-out router for its mapping with room left, created
   * (and fed by pipes) when needed. The reservation counts as a viewer at once, so a viewer
   * leaving meanwhile can't close the router or the stream under a join in progress. Callers
   * serialize reservations per stream; `attach` or `release` ends the reservation.
   */
  async reserve(plan: ViewPlan): Promise<Reservation> {
    this.#members++;
    let fanout: FanoutRouter;
    try {
      fanout = await this.#fanoutFor(plan);
    } catch (error) {
      this.#leave(undefined);
      throw error;
    }
    fanout.viewers++;
    let done = false;
    return {
      router: fanout.router,
      producerIds: fanout.producerIds,
      attach: (session) => {
        if (done) throw new Error('reservation already ended');
        done = true;
        this.#sessions.add(session);
        session.once('closed', () => {
          this.#sessions.delete(session);
          this.#leave(fanout);
        });
      },
      release: () => {
        if (done) return;
        done = true;
        this.#leave(fanout);
      },
    };
  }

  async #fanoutFor(plan: ViewPlan): Promise<FanoutRouter> {
    let group = this.#groups.get(plan.mappingKey);
    if (!group) {
      group = [];
      this.#groups.set(plan.mappingKey, group);
    }
    const free = group.find((f) => f.viewers < this.#viewersPerRouter && !f.router.closed);
    if (free) return free;
    // The first viewers of a matching mapping may use the lease's router itself; once it
    // holds viewersPerRouter of them, fan-out routers take the rest.
    if (this.#serveFromSource && group.length === 0 && this.#sourceMatches(plan)) {
      const direct: FanoutRouter = {
        router: this.lease.router,
        producerIds: new Map(this.lease.tracks.map((t) => [t.id, t.id])),
        viewers: 0,
        owned: false,
      };
      group.push(direct);
      return direct;
    }
    const router = await this.#pool
      .createRouter(
        plan.served.map((s) =>
          routerCodec(s.section.kind, s.producerCodec, s.viewerCodec.payloadType),
        ),
        { streamId: this.streamId, role: 'edge', mapping: plan.mappingKey },
      )
      .catch((error: unknown) => {
        throw clientParameterError(error, "the viewer's payload types");
      });
    let producerIds: Map<string, string>;
    try {
      producerIds = await this.lease.pipeTo(
        router,
        plan.served.map((s) => s.track.id),
      );
    } catch (error) {
      router.close();
      throw error;
    }
    if (this.#closed) {
      // The source went offline while the pipes were being set up.
      router.close();
      throw new InvalidStateError('edge stream closed');
    }
    const fanout: FanoutRouter = { router, producerIds, viewers: 0, owned: true };
    // Re-read the group: it may have been emptied and dropped while this router was created.
    let current = this.#groups.get(plan.mappingKey);
    if (!current) {
      current = [];
      this.#groups.set(plan.mappingKey, current);
    }
    current.push(fanout);
    this.#log.info(
      { mapping: plan.mappingKey, routers: this.routerCount },
      'fan-out router opened',
    );
    return fanout;
  }

  /** Does the lease's router send every served codec with the viewer's payload type? */
  #sourceMatches(plan: ViewPlan): boolean {
    const codecs = this.lease.router.rtpCapabilities.codecs ?? [];
    return plan.served.every((s) =>
      codecs.some(
        (c) =>
          c.preferredPayloadType === s.viewerCodec.payloadType &&
          c.mimeType.toLowerCase() === s.producerCodec.mimeType.toLowerCase(),
      ),
    );
  }

  /** One viewer (or reservation) fewer: close what nobody uses any more. */
  #leave(fanout: FanoutRouter | undefined): void {
    this.#members--;
    if (fanout) {
      fanout.viewers--;
      if (fanout.viewers === 0) this.#closeFanout(fanout);
    }
    if (this.#members === 0) this.close('deleted');
  }

  #closeFanout(fanout: FanoutRouter): void {
    for (const [key, group] of this.#groups) {
      const index = group.indexOf(fanout);
      if (index === -1) continue;
      group.splice(index, 1);
      if (group.length === 0) this.#groups.delete(key);
    }
    if (fanout.owned) fanout.router.close();
  }

  close(reason: CloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#offSource();
    this.lease.release();
    for (const session of [...this.#sessions]) session.close(reason);
    for (const group of this.#groups.values()) {
      for (const f of group) if (f.owned) f.router.close();
    }
    this.#groups.clear();
    this.#log.info({ reason }, 'edge stream closed');
    this.emit('closed', { reason });
    this.removeAllListeners();
  }
}
