/**
 * Human-readable output of the swarm: the one-line progress report, the summary block, and a
 * status line that rewrites itself in place on a terminal.
 */
import type { Distribution } from './stats.ts';
import type { SwarmProgress, SwarmSummary } from './types.ts';

/** `[  12s] viewers 38/50 connected, 2 joining, 1 failed | 702 kbps/viewer (min 650) | loss 0.00%` */
export function formatProgressLine(progress: Omit<SwarmProgress, 'line'>): string {
  const { counts } = progress;
  const seconds = String(Math.round(progress.elapsedMs / 1000)).padStart(3);
  const parts = [`viewers ${counts.connected}/${counts.target} connected`];
  if (counts.joining > 0) parts.push(`${counts.joining} joining`);
  if (counts.disconnected > 0) parts.push(`${counts.disconnected} disconnected`);
  if (counts.failed > 0) parts.push(`${counts.failed} failed`);
  const rate =
    progress.medianKbps === undefined
      ? 'no media yet'
      : `${Math.round(progress.medianKbps)} kbps/viewer (min ${Math.round(progress.minKbps ?? 0)})`;
  const loss =
    progress.totalLossPct === undefined ? 'loss n/a' : `loss ${progress.totalLossPct.toFixed(2)}%`;
  return `[${seconds}s] ${parts.join(', ')} | ${counts.receiving} receiving, ${rate} | ${loss}`;
}

/** The summary as aligned text lines, for a terminal or a log. */
export function formatSummary(summary: SwarmSummary): string[] {
  const { counts } = summary;
  const lines = [
    `swarm summary after ${(summary.elapsedMs / 1000).toFixed(1)} s`,
    `  viewers: ${counts.started} started (${summary.byKind.ndc} ndc, ${summary.byKind.wrtc} wrtc), ` +
      `${counts.connected} connected, ${counts.disconnected} disconnected, ` +
      `${counts.failed} failed, ${counts.closed} closed`,
    `  ${'metric'.padEnd(26)}${['n', 'min', 'p50', 'p95', 'max'].map((h) => h.padStart(9)).join('')}`,
  ];
  const row = (label: string, d: Distribution | undefined, digits = 0): string =>
    d === undefined
      ? `  ${label.padEnd(26)}${'-'.padStart(9)}`
      : `  ${label.padEnd(26)}${String(d.count).padStart(9)}${[d.min, d.p50, d.p95, d.max]
          .map((v) => v.toFixed(digits).padStart(9))
          .join('')}`;
  lines.push(
    row('WHEP POST (ms)', summary.postMs),
    row('connect (ms)', summary.connectMs),
    row('first packet (ms)', summary.firstPacketMs),
    row('first decoded frame (ms)', summary.firstFrameMs),
    row('bitrate, last 1 s (kbps)', summary.bitrateKbps),
    row('bitrate, average (kbps)', summary.averageKbps),
    row('loss (%)', summary.lossPct, 2),
  );
  lines.push(
    `  total loss: ${summary.totalLossPct === undefined ? 'unknown' : `${summary.totalLossPct.toFixed(3)}%`}`,
  );
  for (const [error, n] of Object.entries(summary.errors)) lines.push(`  ${n} x ${error}`);
  return lines;
}

/**
 * One status line that is rewritten in place when the stream is a terminal, and printed as
 * separate lines otherwise (logs, pipes).
 */
export class StatusLine {
  readonly #stream: NodeJS.WriteStream;
  #active = false;

  constructor(stream: NodeJS.WriteStream = process.stdout) {
    this.#stream = stream;
  }

  update(line: string): void {
    if (!this.#stream.isTTY) {
      this.#stream.write(`${line}\n`);
      return;
    }
    const width = this.#stream.columns > 1 ? this.#stream.columns - 1 : 120;
    // Carriage return, erase the line, write the new text cut to the terminal width.
    this.#stream.write(`\r\x1b[2K${line.slice(0, width)}`);
    this.#active = true;
  }

  /** Ends the status line so that later output starts on a fresh line. */
  done(): void {
    if (this.#active) this.#stream.write('\n');
    this.#active = false;
  }
}
