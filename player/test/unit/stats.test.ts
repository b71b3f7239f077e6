import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  bufferAhead,
  computeHlsStats,
  computeLiveStats,
  roundTripMs,
  type StatsEntry,
  type StatsSnapshot,
} from '../../src/web/core/stats.ts';
import { statRows } from '../../src/web/ui/format.ts';

type RawSnapshot = { at: number; entries: StatsEntry[] };
const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/stats-chromium.json', import.meta.url), 'utf8'),
) as Record<'previous' | 'current' | 'firefox', RawSnapshot>;

function snapshot(raw: RawSnapshot): StatsSnapshot {
  return { at: raw.at, entries: new Map(raw.entries.map((e) => [e.id, e])) };
}

describe('computeLiveStats', () => {
  const stats = computeLiveStats(snapshot(fixture.current), snapshot(fixture.previous));

  it('latency = jitter-buffer delay per emitted frame over the interval + RTT/2', () => {
    // (31.5 - 30) s / (630 - 600) frames = 50 ms; RTT of the selected pair 40 ms.
    expect(stats.jitterBufferMs).toBeCloseTo(50);
    expect(stats.rttMs).toBeCloseTo(40);
    expect(stats.latencyMs).toBeCloseTo(70);
  });

  it('bitrate over the interval, audio and video', () => {
    // (250000 + 6000) bytes in 1 s.
    expect(stats.bitrateKbps).toBeCloseTo(2048);
  });

  it('loss over the interval and in total, jitter, size, frame rate, codecs', () => {
    // 4 lost of 246 received + 4 lost.
    expect(stats.lossPercent).toBeCloseTo(1.6);
    expect(stats.packetsLost).toBe(14);
    expect(stats.jitterMs).toBeCloseTo(6);
    expect(stats).toMatchObject({
      source: 'webrtc',
      frameWidth: 1280,
      frameHeight: 720,
      fps: 30,
      framesDecoded: 630,
      framesDropped: 2,
      bytesReceived: 1356000,
      codec: 'VP8',
      audioCodec: 'opus',
    });
  });

  it('without an earlier snapshot: cumulative averages and no rates', () => {
    const alone = computeLiveStats(snapshot(fixture.current));
    expect(alone.bitrateKbps).toBeUndefined();
    expect(alone.lossPercent).toBeUndefined();
    expect(alone.jitterBufferMs).toBeCloseTo((31.5 / 630) * 1000);
  });

  it("reads Firefox's shape: the selected pair's average RTT, no codec ids", () => {
    const firefox = snapshot(fixture.firefox);
    expect(roundTripMs(firefox)).toBeCloseTo(10);
    const stats = computeLiveStats(firefox);
    expect(stats.jitterBufferMs).toBeCloseTo(100);
    expect(stats.latencyMs).toBeCloseTo(105);
    expect(stats.codec).toBeUndefined();
    expect(stats.frameHeight).toBe(480);
  });

  it('an empty report gives zeros, not NaN', () => {
    const stats = computeLiveStats({ at: 0, entries: new Map() });
    expect(stats).toMatchObject({ framesDecoded: 0, bytesReceived: 0, packetsLost: 0 });
    expect(stats.latencyMs).toBeUndefined();
  });
});

describe('HLS stats', () => {
  it('buffer ahead of the playhead within its range', () => {
    expect(bufferAhead({ currentTime: 3, buffered: [[0, 10]] })).toBe(7);
    expect(
      bufferAhead({
        currentTime: 12,
        buffered: [
          [0, 10],
          [11.95, 20],
        ],
      }),
    ).toBe(8);
    expect(bufferAhead({ currentTime: 30, buffered: [[0, 10]] })).toBe(0);
  });

  it('size, frames and the level', () => {
    const stats = computeHlsStats(
      {
        currentTime: 1,
        buffered: [[0, 4]],
        videoWidth: 640,
        videoHeight: 360,
        totalVideoFrames: 90,
        droppedVideoFrames: 1,
      },
      { bitrate: 1_500_000, codec: 'avc1.64001f', frameRate: 30 },
      123,
    );
    expect(stats).toMatchObject({
      source: 'hls',
      bufferSeconds: 3,
      frameWidth: 640,
      frameHeight: 360,
      framesDecoded: 90,
      framesDropped: 1,
      levelBitrateKbps: 1500,
      codec: 'avc1.64001f',
      fps: 30,
      bytesReceived: 123,
    });
  });
});

describe('overlay rows', () => {
  it('shows every number with its unit, and a dash for what the browser does not report', () => {
    const rows = statRows(computeLiveStats(snapshot(fixture.current), snapshot(fixture.previous)));
    const text = Object.fromEntries(rows.map((r) => [r.key, r.text]));
    expect(text).toMatchObject({
      latencyMs: '70 ms',
      bitrateKbps: '2048 kbit/s',
      frameHeight: '1280×720',
      fps: '30 fps',
      packetsLost: '14 (1.6 %)',
      jitterMs: '6 ms',
      codec: 'VP8 + opus',
    });
    const empty = statRows(computeLiveStats({ at: 0, entries: new Map() }));
    expect(empty.find((r) => r.key === 'latencyMs')?.text).toBe('–');
  });
});
