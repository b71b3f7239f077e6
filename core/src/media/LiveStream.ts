import type { types as ms } from 'mediasoup';

/**
 * A stream that is live on this process: the router holding the publisher's producers. Edges
 * (and later the recorder) pipe from it. It closes when the publisher leaves; listeners are
 * told once.
 */
export interface LiveStream {
  readonly streamId: string;
  readonly router: ms.Router;
  /** The publisher's producers, at most one per kind. */
  readonly producers: readonly ms.Producer[];
  readonly closed: boolean;
  /** Calls `listener` once when the stream closes; returns an unsubscribe function. */
  onClosed(listener: () => void): () => void;
}

/** Finds live streams by id (the ingest in one process; pipes from remote ingests later). */
export interface LiveStreamSource {
  getLiveStream(streamId: string): LiveStream | undefined;
}
