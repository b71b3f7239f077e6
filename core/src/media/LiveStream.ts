import type { types as ms } from 'mediasoup';
import type { MediaKind } from '../sdp/index.ts';

/**
 * A stream that is live in this process: a router holding one producer per track. At the
 * ingest it is the publisher's router; at an edge that pulls the stream from another node it
 * is the router the network pipe feeds. It closes when the stream goes offline; listeners are
 * told once.
 */
export interface LiveStream {
  readonly streamId: string;
  readonly router: ms.Router;
  /** The stream's producers in `router`, at most one per kind. */
  readonly producers: readonly ms.Producer[];
  readonly closed: boolean;
  /** Calls `listener` once when the stream closes; returns an unsubscribe function. */
  onClosed(listener: () => void): () => void;
}

/** One track of a live stream, as a consumer of the stream sees it. */
export interface StreamTrack {
  /**
   * The track's id: the id of its producer in the lease's `router`. Ids differ from router to
   * router (mediasoup refuses two producers with one id in a worker), so map, never assume.
   */
  readonly id: string;
  readonly kind: MediaKind;
  /** The track's media codec (its first codec that is not RTX). */
  readonly codec: ms.RtpCodecParameters;
}

/**
 * A hold on a live stream, given by a StreamSource: the stream's tracks on a router in *this*
 * process, from which the holder feeds its own routers. The stream stays available (a remote
 * stream keeps its network pipe) until every lease on it is released; `onClosed` tells the
 * holder when the stream went offline underneath it.
 */
export interface StreamLease {
  readonly streamId: string;
  readonly tracks: readonly StreamTrack[];
  /** The router in this process that holds the tracks. */
  readonly router: ms.Router;
  /** Network pipes between the publisher's ingest and `router`: 0 at the ingest. */
  readonly hops: number;
  /** True once the stream went offline (or the lease was released). */
  readonly closed: boolean;
  /**
   * Feeds the tracks with these ids (default: all) into `router`, another router of this
   * process. Returns track id -> the id of its producer in `router`.
   */
  pipeTo(router: ms.Router, trackIds?: readonly string[]): Promise<Map<string, string>>;
  /** Calls `listener` once when the stream goes offline; returns an unsubscribe function. */
  onClosed(listener: () => void): () => void;
  /** Gives the hold back. Idempotent; `onClosed` listeners are not called for a release. */
  release(): void;
}

/**
 * Where a role gets live streams from: the local ingest in one process; a pipe from the node
 * that carries the stream in a cluster. Resolves undefined when the stream is not live.
 */
export interface StreamSource {
  acquire(streamId: string): Promise<StreamLease | undefined>;
}

/**
 * A lease on a stream that is live in this process, `hops` pipes away from its ingest.
 * `onRelease` runs once when the holder releases it (how a pulled stream counts holders).
 */
export function leaseLiveStream(
  stream: LiveStream,
  options: { hops?: number; onRelease?: () => void } = {},
): StreamLease {
  let released = false;
  const listeners = new Set<() => void>();
  const off = stream.onClosed(() => {
    for (const listener of [...listeners]) listener();
    listeners.clear();
  });
  const tracks: StreamTrack[] = stream.producers.map((producer) => ({
    id: producer.id,
    kind: producer.kind,
    codec: producer.rtpParameters.codecs.find((c) => !/\/rtx$/i.test(c.mimeType))!,
  }));
  return {
    streamId: stream.streamId,
    tracks,
    router: stream.router,
    hops: options.hops ?? 0,
    get closed() {
      return released || stream.closed;
    },
    async pipeTo(router, trackIds) {
      const ids = new Map<string, string>();
      for (const producer of stream.producers) {
        if (trackIds && !trackIds.includes(producer.id)) continue;
        // New ids: mediasoup refuses a second producer with one id in a worker, and the
        // target router may share the source's worker.
        const { pipeProducer } = await stream.router.pipeToRouter({
          producerId: producer.id,
          router,
          keepId: false,
        });
        ids.set(producer.id, pipeProducer!.id);
      }
      return ids;
    },
    onClosed(listener) {
      if (released) return () => undefined;
      if (stream.closed) {
        listener();
        return () => undefined;
      }
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    release() {
      if (released) return;
      released = true;
      listeners.clear();
      off();
      options.onRelease?.();
    },
  };
}
