/**
 * Whether a published track works for viewers, decided from what the SFU counted. The case it
 * exists for: a publisher whose video payload the SFU cannot parse (mediasoup 3.8.4 and VP8
 * without PictureID) is accepted with 201, its packets arrive, but no keyframe is ever
 * recognised, and every consumer drops the video while waiting for one.
 */
import type { TrackMediaState } from '@wisp/core';
import type { MediaKind } from '@wisp/core/rtc';

/** How long video may flow without a keyframe before the track is `no-keyframe`. */
export const DEFAULT_NO_KEYFRAME_AFTER_MS = 5000;

/**
 * Video codecs whose keyframes mediasoup recognises (its `Codecs::Tools::CanBeKeyFrame`).
 * Consumers of these wait for a keyframe; consumers of any other codec forward at once.
 */
const KEYFRAME_CODECS = new Set(['video/vp8', 'video/vp9', 'video/h264']);

export function detectsKeyframes(kind: MediaKind, mimeType: string): boolean {
  return kind === 'video' && KEYFRAME_CODECS.has(mimeType.toLowerCase());
}

export interface TrackCounts {
  /** Whether the SFU detects keyframes of this track's codec (`detectsKeyframes`). */
  detectsKeyframes: boolean;
  packetsReceived: number;
  keyframesReceived: number;
  /** When packets were first seen (ms, any clock `now` uses too); undefined before. */
  firstPacketAt: number | undefined;
}

export function trackState(
  counts: TrackCounts,
  now: number,
  noKeyframeAfterMs = DEFAULT_NO_KEYFRAME_AFTER_MS,
): TrackMediaState {
  if (counts.detectsKeyframes && counts.keyframesReceived > 0) return 'ok';
  if (counts.packetsReceived === 0 || counts.firstPacketAt === undefined) return 'waiting';
  if (!counts.detectsKeyframes) return 'ok';
  return now - counts.firstPacketAt >= noKeyframeAfterMs ? 'no-keyframe' : 'waiting';
}
