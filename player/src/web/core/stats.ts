/**
 * What the stats overlay shows, computed from `RTCPeerConnection.getStats()` snapshots
 * (per-interval deltas of the cumulative counters, design-notes §3.3) or from the media
 * element for HLS. Pure functions over plain objects, so they are unit tested with fixtures.
 */

/** One entry of a stats report, as a plain object. */
export type StatsEntry = { id: string; type: string } & Record<string, unknown>;

export interface StatsSnapshot {
  /** When it was taken, in ms (performance.now()). */
  at: number;
  entries: ReadonlyMap<string, StatsEntry>;
}

/** The numbers of the overlay; fields are absent when the browser does not report them. */
export interface PlayerStats {
  source: 'webrtc' | 'hls' | 'none';
  /** Cumulative, video. */
  framesDecoded: number;
  framesDropped: number;
  /** Cumulative, audio + video. */
  bytesReceived: number;
  packetsLost: number;
  packetsReceived: number;
  frameWidth: number;
  frameHeight: number;
  fps?: number;
  /** Over the last interval, audio + video. */
  bitrateKbps?: number;
  /**
   * Estimated playout latency: jitter-buffer delay per emitted video frame plus RTT/2. The
   * true glass-to-glass figure also includes capture, encode and the publisher's path.
   */
  latencyMs?: number;
  jitterBufferMs?: number;
  rttMs?: number;
  jitterMs?: number;
  /** Share of the packets expected over the last interval that were lost, in percent. */
  lossPercent?: number;
  freezeCount?: number;
  /** `VP8`, `H264`, ... */
  codec?: string;
  audioCodec?: string;
  /** HLS: seconds buffered ahead of the playhead. */
  bufferSeconds?: number;
  /** HLS: bitrate of the playing level, in kbit/s. */
  levelBitrateKbps?: number;
}

export const EMPTY_STATS: PlayerStats = {
  source: 'none',
  framesDecoded: 0,
  framesDropped: 0,
  bytesReceived: 0,
  packetsLost: 0,
  packetsReceived: 0,
  frameWidth: 0,
  frameHeight: 0,
};

/** A snapshot of a live stats report (RTCStatsReport is a maplike of RTCStats). */
export function takeSnapshot(
  report: { forEach(callback: (value: RTCStats) => void): void },
  at: number,
): StatsSnapshot {
  const entries = new Map<string, StatsEntry>();
  report.forEach((value) => {
    entries.set(value.id, { ...(value as unknown as StatsEntry) });
  });
  return { at, entries };
}

function num(entry: StatsEntry | undefined, key: string): number | undefined {
  const value = entry?.[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function inbound(snapshot: StatsSnapshot, kind: 'audio' | 'video'): StatsEntry | undefined {
  let found: StatsEntry | undefined;
  for (const entry of snapshot.entries.values()) {
    if (entry.type !== 'inbound-rtp') continue;
    if ((entry.kind ?? entry.mediaType) !== kind) continue;
    // With several (an SFU switching SSRCs), the one that received the most is the current.
    if (!found || (num(entry, 'bytesReceived') ?? 0) > (num(found, 'bytesReceived') ?? 0)) {
      found = entry;
    }
  }
  return found;
}

/** The candidate pair carrying the media: the transport's selected one, else a nominated one. */
export function selectedPair(snapshot: StatsSnapshot): StatsEntry | undefined {
  for (const entry of snapshot.entries.values()) {
    if (entry.type !== 'transport') continue;
    const id = entry.selectedCandidatePairId;
    if (typeof id === 'string' && snapshot.entries.has(id)) return snapshot.entries.get(id);
  }
  let nominated: StatsEntry | undefined;
  for (const entry of snapshot.entries.values()) {
    if (entry.type !== 'candidate-pair' || entry.state !== 'succeeded') continue;
    if (entry.selected === true) return entry; // Firefox marks the pair in use.
    if (entry.nominated === true) nominated ??= entry;
  }
  return nominated;
}

/** Round-trip time in ms: the pair's current one, its average, or the RTCP-based one. */
export function roundTripMs(snapshot: StatsSnapshot): number | undefined {
  const pair = selectedPair(snapshot);
  const current = num(pair, 'currentRoundTripTime');
  if (current !== undefined) return current * 1000;
  const total = num(pair, 'totalRoundTripTime');
  const responses = num(pair, 'responsesReceived');
  if (total !== undefined && responses) return (total / responses) * 1000;
  for (const entry of snapshot.entries.values()) {
    if (entry.type !== 'remote-outbound-rtp') continue;
    const rtt = num(entry, 'roundTripTime');
    if (rtt !== undefined) return rtt * 1000;
  }
  return undefined;
}

function codecName(snapshot: StatsSnapshot, entry: StatsEntry | undefined): string | undefined {
  const id = entry?.codecId;
  const codec = typeof id === 'string' ? snapshot.entries.get(id) : undefined;
  const mime = codec?.mimeType;
  return typeof mime === 'string' ? mime.replace(/^(audio|video)\//i, '') : undefined;
}

/** Δ(a) / Δ(b) between two entries, or the cumulative ratio when there is no earlier one. */
function ratio(
  current: StatsEntry | undefined,
  previous: StatsEntry | undefined,
  numerator: string,
  denominator: string,
): number | undefined {
  const a = num(current, numerator);
  const b = num(current, denominator);
  if (a === undefined || b === undefined) return undefined;
  const a0 = num(previous, numerator);
  const b0 = num(previous, denominator);
  if (a0 !== undefined && b0 !== undefined && b - b0 > 0) return (a - a0) / (b - b0);
  return b > 0 ? a / b : undefined;
}

/**
 * The overlay's numbers from the current snapshot and one taken about a second earlier
 * (without one, rates are left out and the averages are cumulative).
 */
export function computeLiveStats(current: StatsSnapshot, previous?: StatsSnapshot): PlayerStats {
  const video = inbound(current, 'video');
  const audio = inbound(current, 'audio');
  const videoBefore = previous && video ? previous.entries.get(video.id) : undefined;
  const audioBefore = previous && audio ? previous.entries.get(audio.id) : undefined;
  const bytes = (num(video, 'bytesReceived') ?? 0) + (num(audio, 'bytesReceived') ?? 0);
  const lost = (num(video, 'packetsLost') ?? 0) + (num(audio, 'packetsLost') ?? 0);
  const received = (num(video, 'packetsReceived') ?? 0) + (num(audio, 'packetsReceived') ?? 0);
  const stats: PlayerStats = {
    source: 'webrtc',
    framesDecoded: num(video, 'framesDecoded') ?? 0,
    framesDropped: num(video, 'framesDropped') ?? 0,
    bytesReceived: bytes,
    packetsLost: Math.max(0, lost),
    packetsReceived: received,
    frameWidth: num(video, 'frameWidth') ?? 0,
    frameHeight: num(video, 'frameHeight') ?? 0,
  };
  const seconds = previous ? (current.at - previous.at) / 1000 : 0;
  if (previous && seconds > 0) {
    const bytesBefore =
      (num(videoBefore, 'bytesReceived') ?? 0) + (num(audioBefore, 'bytesReceived') ?? 0);
    stats.bitrateKbps = Math.max(0, ((bytes - bytesBefore) * 8) / seconds / 1000);
    const lostBefore =
      (num(videoBefore, 'packetsLost') ?? 0) + (num(audioBefore, 'packetsLost') ?? 0);
    const receivedBefore =
      (num(videoBefore, 'packetsReceived') ?? 0) + (num(audioBefore, 'packetsReceived') ?? 0);
    const expected = received - receivedBefore + Math.max(0, lost - lostBefore);
    if (expected > 0) stats.lossPercent = (Math.max(0, lost - lostBefore) / expected) * 100;
  }
  const fps =
    num(video, 'framesPerSecond') ??
    (videoBefore && seconds > 0
      ? ((num(video, 'framesDecoded') ?? 0) - (num(videoBefore, 'framesDecoded') ?? 0)) / seconds
      : undefined);
  if (fps !== undefined) stats.fps = fps;
  const jitterBuffer = ratio(video, videoBefore, 'jitterBufferDelay', 'jitterBufferEmittedCount');
  if (jitterBuffer !== undefined) stats.jitterBufferMs = jitterBuffer * 1000;
  const rtt = roundTripMs(current);
  if (rtt !== undefined) stats.rttMs = rtt;
  if (stats.jitterBufferMs !== undefined || rtt !== undefined) {
    stats.latencyMs = (stats.jitterBufferMs ?? 0) + (rtt ?? 0) / 2;
  }
  const jitter = num(video, 'jitter') ?? num(audio, 'jitter');
  if (jitter !== undefined) stats.jitterMs = jitter * 1000;
  const freezes = num(video, 'freezeCount');
  if (freezes !== undefined) stats.freezeCount = freezes;
  const codec = codecName(current, video);
  if (codec) stats.codec = codec;
  const audioCodec = codecName(current, audio);
  if (audioCodec) stats.audioCodec = audioCodec;
  return stats;
}

/** The media element's side, for HLS: buffer ahead, size, frame counters. */
export interface MediaElementSample {
  currentTime: number;
  /** [start, end] of each buffered range, in seconds. */
  buffered: [number, number][];
  videoWidth: number;
  videoHeight: number;
  totalVideoFrames?: number;
  droppedVideoFrames?: number;
}

/** Seconds buffered ahead of the playhead (0 when it is outside every range). */
export function bufferAhead(sample: Pick<MediaElementSample, 'currentTime' | 'buffered'>): number {
  const range = sample.buffered.find(
    ([start, end]) => sample.currentTime >= start - 0.1 && sample.currentTime <= end,
  );
  return range ? Math.max(0, range[1] - sample.currentTime) : 0;
}

export function computeHlsStats(
  sample: MediaElementSample,
  level?: { bitrate?: number; codec?: string; frameRate?: number },
  bytesLoaded = 0,
): PlayerStats {
  const stats: PlayerStats = {
    source: 'hls',
    framesDecoded: sample.totalVideoFrames ?? 0,
    framesDropped: sample.droppedVideoFrames ?? 0,
    bytesReceived: bytesLoaded,
    packetsLost: 0,
    packetsReceived: 0,
    frameWidth: sample.videoWidth,
    frameHeight: sample.videoHeight,
    bufferSeconds: bufferAhead(sample),
  };
  if (level?.bitrate) stats.levelBitrateKbps = level.bitrate / 1000;
  if (level?.codec) stats.codec = level.codec;
  if (level?.frameRate) stats.fps = level.frameRate;
  return stats;
}
