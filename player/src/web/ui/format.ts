/** Words and numbers the views show: one place, so the pages and the element agree. */
import type { PlayerMode, PlayerState } from '../core/Player.ts';
import { PlaybackError } from '../core/PlaybackSource.ts';
import type { PlayerStats } from '../core/stats.ts';

/** The status line for a player state (the text tests and screen readers get). */
export function stateMessage(state: PlayerState, mode: PlayerMode, error?: Error): string {
  switch (state) {
    case 'idle':
    case 'connecting':
      return mode === 'replay' ? 'Loading the recording…' : 'Connecting…';
    case 'waiting':
      return 'Waiting for the stream to go live…';
    case 'reconnecting':
      return mode === 'replay' ? 'Loading the recording again…' : 'Reconnecting…';
    case 'playing':
      return mode === 'replay' ? 'Replay' : 'Live';
    case 'ended':
      return 'The recording ended.';
    case 'stopped':
      return 'Stopped.';
    case 'error':
      return errorMessage(error);
  }
}

export function errorMessage(error: Error | undefined): string {
  if (!(error instanceof PlaybackError)) return 'Something went wrong.';
  switch (error.code) {
    case 'not-found':
      return 'Stream not found.';
    case 'refused':
      return `Cannot play this stream: ${error.message}`;
    case 'unsupported':
      return 'This browser cannot play this recording.';
    case 'recording-not-found':
      return 'This recording is not available.';
    case 'gave-up':
      return 'Cannot reach the server.';
    default:
      return `Playback failed: ${error.message}`;
  }
}

export interface StatRow {
  key: string;
  label: string;
  /** The raw number (for tests and tooltips), when there is one. */
  value: number | undefined;
  text: string;
}

const round = (value: number, digits = 0): string => value.toFixed(digits);

/** The overlay's rows; rows whose number the browser does not give show a dash. */
export function statRows(stats: PlayerStats): StatRow[] {
  const ms = (value: number | undefined) => (value === undefined ? '–' : `${round(value)} ms`);
  const rows: StatRow[] = [];
  const add = (key: string, label: string, value: number | undefined, text: string) =>
    rows.push({ key, label, value, text });
  if (stats.source === 'hls') {
    add('bufferSeconds', 'Buffer', stats.bufferSeconds, `${round(stats.bufferSeconds ?? 0, 1)} s`);
    add(
      'levelBitrateKbps',
      'Bitrate',
      stats.levelBitrateKbps,
      stats.levelBitrateKbps === undefined ? '–' : `${round(stats.levelBitrateKbps)} kbit/s`,
    );
  } else {
    add('latencyMs', 'Latency (est.)', stats.latencyMs, ms(stats.latencyMs));
    add('jitterBufferMs', 'Jitter buffer', stats.jitterBufferMs, ms(stats.jitterBufferMs));
    add('rttMs', 'Round trip', stats.rttMs, ms(stats.rttMs));
    add(
      'bitrateKbps',
      'Bitrate',
      stats.bitrateKbps,
      stats.bitrateKbps === undefined ? '–' : `${round(stats.bitrateKbps)} kbit/s`,
    );
  }
  const size = stats.frameWidth && stats.frameHeight;
  add(
    'frameHeight',
    'Resolution',
    size ? stats.frameHeight : undefined,
    size ? `${stats.frameWidth}×${stats.frameHeight}` : '–',
  );
  add('fps', 'Frame rate', stats.fps, stats.fps === undefined ? '–' : `${round(stats.fps)} fps`);
  if (stats.source !== 'hls') {
    const loss = stats.lossPercent === undefined ? '' : ` (${round(stats.lossPercent, 1)} %)`;
    add('packetsLost', 'Packets lost', stats.packetsLost, `${stats.packetsLost}${loss}`);
    add('jitterMs', 'Jitter', stats.jitterMs, ms(stats.jitterMs));
  }
  add('framesDropped', 'Frames dropped', stats.framesDropped, String(stats.framesDropped));
  const codec = [stats.codec, stats.audioCodec].filter(Boolean).join(' + ');
  add('codec', 'Codec', undefined, codec || '–');
  return rows;
}
