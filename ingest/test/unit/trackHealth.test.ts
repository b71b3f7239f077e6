import { describe, expect, it } from 'vitest';
import {
  DEFAULT_NO_KEYFRAME_AFTER_MS,
  detectsKeyframes,
  trackState,
  type TrackCounts,
} from '../../src/trackHealth.ts';

const video = (counts: Partial<TrackCounts>): TrackCounts => ({
  detectsKeyframes: true,
  packetsReceived: 0,
  keyframesReceived: 0,
  firstPacketAt: undefined,
  ...counts,
});

describe('detectsKeyframes', () => {
  it('is true for the video codecs mediasoup parses for keyframes, in any case', () => {
    expect(detectsKeyframes('video', 'video/VP8')).toBe(true);
    expect(detectsKeyframes('video', 'video/vp9')).toBe(true);
    expect(detectsKeyframes('video', 'video/H264')).toBe(true);
  });

  it('is false for audio and for video codecs the SFU forwards without looking', () => {
    expect(detectsKeyframes('audio', 'audio/opus')).toBe(false);
    expect(detectsKeyframes('video', 'video/H265')).toBe(false);
    expect(detectsKeyframes('video', 'video/AV1')).toBe(false);
  });
});

describe('trackState', () => {
  const limit = 5000;

  it('waits while nothing arrived', () => {
    expect(trackState(video({}), 1_000_000, limit)).toBe('waiting');
    expect(trackState(video({ detectsKeyframes: false }), 1_000_000, limit)).toBe('waiting');
  });

  it('waits through the grace period, then reports no-keyframe', () => {
    const counts = video({ packetsReceived: 300, firstPacketAt: 10_000 });
    expect(trackState(counts, 10_000, limit)).toBe('waiting');
    expect(trackState(counts, 10_000 + limit - 1, limit)).toBe('waiting');
    expect(trackState(counts, 10_000 + limit, limit)).toBe('no-keyframe');
    expect(trackState(counts, 10_000 + 60_000, limit)).toBe('no-keyframe');
  });

  it('is ok as soon as one keyframe came, however late', () => {
    const counts = video({ packetsReceived: 300, keyframesReceived: 1, firstPacketAt: 0 });
    expect(trackState(counts, 1, limit)).toBe('ok');
    expect(trackState(counts, 600_000, limit)).toBe('ok');
  });

  it('counts a keyframe seen before the packet counters caught up', () => {
    expect(trackState(video({ keyframesReceived: 1 }), 0, limit)).toBe('ok');
  });

  it('is ok once packets flow for tracks without keyframe detection', () => {
    const audio = video({ detectsKeyframes: false, packetsReceived: 50, firstPacketAt: 0 });
    expect(trackState(audio, 0, limit)).toBe('ok');
    expect(trackState(audio, 600_000, limit)).toBe('ok');
  });

  it('defaults the grace period to five seconds', () => {
    expect(DEFAULT_NO_KEYFRAME_AFTER_MS).toBe(5000);
    const counts = video({ packetsReceived: 1, firstPacketAt: 0 });
    expect(trackState(counts, 4999)).toBe('waiting');
    expect(trackState(counts, 5000)).toBe('no-keyframe');
  });
});
