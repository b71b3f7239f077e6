/**
 * The stream registry: which node holds each live stream (its source, where the publisher
 * is connected) and which nodes carry copies of it (edges and relays pulling it through
 * pipes). Ownership is a lease with a fencing epoch: every claim gets a strictly larger
 * epoch, so a node that lost its stream (to a takeover or by missing its TTL) finds out on
 * its next refresh and stops, and cannot end its successor's ownership by mistake.
 */

/** The current holder of a live stream. */
export interface StreamOwner {
  /** Id of the node the publisher is connected to. */
  node: string;
  /** Fencing token: strictly larger for every claim of the same stream. */
  epoch: number;
}

/** A node carrying a copy of a stream, for building and counting the distribution tree. */
export interface StreamCopy {
  /** Id of the node carrying the copy. */
  node: string;
  /** Id of the node it pulls the stream from (the owner, or another copy: a relay). */
  parent: string;
  /** Viewers watching the stream on this node. */
  viewers: number;
  /** Pipes between the stream's ingest and this copy: 1 when pulled from the owner itself. */
  hops: number;
}

export interface StreamRegistry {
  /**
   * This node now holds the live stream (a new publish or a takeover): returns a new epoch,
   * strictly greater than any earlier epoch of this stream (also greater than epochs of an
   * expired owner). The ownership expires ttlMs later unless refreshed.
   */
  claim(streamId: string, node: string, ttlMs: number): Promise<StreamOwner>;
  /**
   * Refreshes the TTL if `owner` is still current; false when superseded or expired (the
   * node must stop).
   */
  refresh(streamId: string, owner: StreamOwner, ttlMs: number): Promise<boolean>;
  /** Ends ownership if `owner` is current (a newer owner is untouched). Returns whether it did. */
  release(streamId: string, owner: StreamOwner): Promise<boolean>;
  /** The current owner, or undefined when the stream is not live (never claimed, released, expired). */
  owner(streamId: string): Promise<StreamOwner | undefined>;
  /** Live streams owned by any node (for counting and listing), in stream id order. */
  owners(): Promise<Map<string, StreamOwner>>;
  /**
   * A node carrying a copy of the stream (edge or relay): parent = the node it pulls from.
   * Expires after ttlMs unless refreshed by calling again (which also updates the entry).
   */
  putCopy(streamId: string, copy: StreamCopy, ttlMs: number): Promise<void>;
  /** Forgets the copy on `node` at once (the node stopped pulling). */
  removeCopy(streamId: string, node: string): Promise<void>;
  /** Live copies of the stream, sorted by node id. */
  copies(streamId: string): Promise<StreamCopy[]>;
}
