/** HTTP bodies of the public API (docs/api.md). Extend, don't rename. */

export interface CreateStreamRequest {
  name: string;
}

/** A stream as the API shows it. `streamKey` appears only on create and rotate. */
export interface StreamView {
  id: string;
  name: string;
  whipUrl: string;
  whepUrl: string;
  playerUrl: string;
  live: boolean;
  createdAt: string;
  updatedAt: string;
  streamKey?: string;
}

/**
 * What the control plane needs to know about live state, provided by whoever owns the
 * publishers (the ingest in one process; the stream registry in a cluster).
 */
export interface LiveStatusProvider {
  isLive(streamId: string): boolean | Promise<boolean>;
}

/** What the ingest needs from the control plane: resolve a stream key to a stream id. */
export interface StreamKeyResolver {
  /** Returns the stream id for a valid key, undefined otherwise. Constant-time on the key. */
  resolveStreamKey(key: string): Promise<string | undefined>;
}

/** What the egress needs: does this stream id exist at all (to tell 404 from 409). */
export interface StreamDirectory {
  streamExists(streamId: string): Promise<boolean>;
}
