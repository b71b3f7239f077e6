/** HTTP bodies of the public API (docs/api.md). Extend, don't rename. */
import type { StreamVisibility } from './store/StateStore.ts';

export interface CreateStreamRequest {
  name: string;
  /** Record this stream's broadcasts; absent: the platform default (`RECORDINGS`). */
  record?: boolean;
  /** `public` (the default) or `private`: watching needs a viewer token. */
  visibility?: StreamVisibility;
}

/** `PATCH /api/streams/:id`: only the members given change; `record: null` = the default. */
export interface UpdateStreamRequest {
  name?: string;
  record?: boolean | null;
  visibility?: StreamVisibility;
}

/** `POST /api/streams/:id/viewer-tokens`. */
export interface CreateViewerTokenRequest {
  /** How long the token is valid, in seconds; absent: one hour. */
  ttlSeconds?: number;
}

/** A viewer token for a private stream, and the URLs that carry it. */
export interface ViewerTokenView {
  streamId: string;
  /** The JWT: `Authorization: Bearer <token>` on `POST /whep/:id`, or `?token=`. */
  token: string;
  /** ISO-8601: when the token stops being accepted for new sessions. */
  expiresAt: string;
  /** `{PUBLIC_URL}/watch/:id?token=<token>`: the link to hand a viewer. */
  playerUrl: string;
  /** `{PUBLIC_URL}/embed/:id?token=<token>`: the iframe form. */
  embedUrl: string;
}

/** A stream as the API shows it. `streamKey` appears only on create and rotate. */
export interface StreamView {
  id: string;
  name: string;
  whipUrl: string;
  whepUrl: string;
  playerUrl: string;
  live: boolean;
  /** Whether broadcasts are recorded: the stream's own setting, else the platform default. */
  record: boolean;
  /** `public`: anyone with the link watches; `private`: a viewer token is needed. */
  visibility: StreamVisibility;
  createdAt: string;
  updatedAt: string;
  /** What the SFU receives from the publisher; only while `live`. */
  media?: StreamMediaView;
  /** The node the stream is published to; only while `live`. */
  ingestNode?: string;
  /**
   * The tree the stream takes through the cluster, only while `live`: one entry per node
   * carrying a copy, with the node it pulls from and its viewers there.
   */
  distribution?: StreamDistribution[];
  streamKey?: string;
}

/**
 * How one published track is doing, as the SFU sees it:
 * - `waiting`: no packet yet, or video packets for less than the grace period (5 s by
 *   default) without a keyframe;
 * - `ok`: packets arrive and, for a video codec whose keyframes the SFU detects (VP8, VP9,
 *   H.264), at least one keyframe came;
 * - `no-keyframe`: video packets for longer than the grace period but never a keyframe the
 *   SFU could parse. Viewers get no picture: every consumer waits for a keyframe first.
 */
export type TrackMediaState = 'waiting' | 'ok' | 'no-keyframe';

export interface TrackMediaView {
  kind: 'audio' | 'video';
  /** The track's mid in the publisher's offer. */
  mid: string;
  /** The codec's MIME type, e.g. `video/VP8`. */
  codec: string;
  state: TrackMediaState;
  /** RTP packets and bytes received, over every simulcast layer. */
  packetsReceived: number;
  bytesReceived: number;
  /** Keyframes the SFU recognised; null for audio and codecs it does not inspect (AV1). */
  keyframesReceived: number | null;
}

/** A live stream's media, sampled about once a second. */
export interface StreamMediaView {
  tracks: TrackMediaView[];
}

/**
 * What the control plane needs to know about live state, provided by whoever owns the
 * publishers (the ingest in one process; the stream registry in a cluster).
 */
export interface LiveStatusProvider {
  isLive(streamId: string): boolean | Promise<boolean>;
  /** The live stream's media as the SFU receives it; undefined when not live or unknown. */
  mediaStatus?(
    streamId: string,
  ): StreamMediaView | undefined | Promise<StreamMediaView | undefined>;
  /** Where the live stream is: its ingest node and the nodes carrying copies. */
  placement?(
    streamId: string,
  ): Promise<{ ingestNode: string; distribution: StreamDistribution[] } | undefined>;
}

export interface StreamDistribution {
  node: string;
  parent: string;
  viewers: number;
}

/** A node as `GET /api/nodes` shows it. */
export interface NodeView {
  id: string;
  roles: string[];
  /** Public base URL: the origin of the session Locations the node hands out. */
  url: string;
  region: string;
  state: 'serving' | 'draining';
  relay: boolean;
  /** Operating-system process id. */
  pid: number;
  load: { viewers: number; streams: number; egressKbps: number; cpu: number };
  /** Milliseconds since the node's last heartbeat. */
  lastSeenMs: number;
}

/** What the ingest needs from the control plane: resolve a stream key to a stream id. */
export interface StreamKeyResolver {
  /** Returns the stream id for a valid key, undefined otherwise. Constant-time on the key. */
  resolveStreamKey(key: string): Promise<string | undefined>;
}

/** What the egress needs: does this stream id exist at all (to tell 404 from 409). */
export interface StreamDirectory {
  streamExists(streamId: string): Promise<boolean>;
  /** Who may watch the stream; undefined when it does not exist. */
  streamVisibility(streamId: string): Promise<StreamVisibility | undefined>;
}
