/**
 * One ffmpeg child process: its stderr kept (the last lines) for the log and the recording's
 * error, a graceful stop (SIGINT: ffmpeg finishes its outputs, so the HLS playlist gets its
 * last segment and ENDLIST) that escalates to SIGKILL, and a wait for the UDP ports it must
 * bind before RTP is sent to it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createLogger, type Logger } from '@wisp/core';

export interface FfmpegExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines ffmpeg wrote to stderr. */
  stderr: string;
  /** The exit was asked for (`stop()`). */
  requested: boolean;
}

const STDERR_LINES = 40;

export class FfmpegProcess {
  readonly pid: number | undefined;
  readonly exited: Promise<FfmpegExit>;
  readonly #child: ChildProcess;
  readonly #lines: string[] = [];
  readonly #log: Logger;
  #requested = false;
  #done = false;

  constructor(binary: string, args: readonly string[], log: Logger = createLogger('ffmpeg')) {
    this.#log = log;
    this.#child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.pid = this.#child.pid;
    let partial = '';
    this.#child.stderr!.setEncoding('utf8');
    this.#child.stderr!.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) this.#line(line);
    });
    this.exited = new Promise((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.#done) return;
        this.#done = true;
        if (partial) this.#line(partial);
        resolve({ code, signal, stderr: this.stderr, requested: this.#requested });
      };
      this.#child.once('error', (error) => {
        this.#line(`spawn failed: ${error.message}`);
        finish(null, null);
      });
      this.#child.once('close', finish);
    });
  }

  get stderr(): string {
    return this.#lines.join('\n');
  }

  get running(): boolean {
    return !this.#done;
  }

  /**
   * Asks ffmpeg to finish, then kills it after `graceMs`. Resolves with the exit.
   *
   * One SIGINT makes ffmpeg stop between packets and write its trailers (the last segment,
   * ENDLIST), but an input that sends nothing any more (the stream just ended) keeps it
   * blocked in its read: `wake` is called right after the signal to send it one more packet
   * (RtpRelay.wake). A second SIGINT, after `wakeMs`, aborts the read itself, which also
   * loses the segment in progress: the fallback.
   */
  async stop(options: { wake?: () => void; wakeMs?: number; graceMs?: number } = {}) {
    const { graceMs = 5000, wakeMs = 1500 } = options;
    if (!this.#done) {
      this.#requested = true;
      this.#child.kill('SIGINT');
      const wake = setTimeout(() => options.wake?.(), 30);
      const again = setTimeout(() => {
        this.#log.warn({ pid: this.pid }, 'ffmpeg still reading: interrupting it');
        this.#child.kill('SIGINT');
      }, wakeMs);
      const timer = setTimeout(() => {
        this.#log.warn({ pid: this.pid }, 'ffmpeg did not finish in time: killed');
        this.#child.kill('SIGKILL');
      }, graceMs);
      await this.exited;
      clearTimeout(wake);
      clearTimeout(again);
      clearTimeout(timer);
    }
    return this.exited;
  }

  /** Kills at once (what a crash would do). */
  kill(): void {
    if (!this.#done) {
      this.#requested = true;
      this.#child.kill('SIGKILL');
    }
  }

  /**
   * Resolves once this process has bound every UDP port in `ports` (read from
   * /proc/net/udp{,6}); rejects if it exits first or after `timeoutMs`.
   */
  async waitForUdpPorts(ports: readonly number[], timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.#done) throw new Error(`ffmpeg exited before binding its ports: ${this.stderr}`);
      const bound = await boundUdpPorts();
      if (ports.every((p) => bound.has(p))) return;
      if (Date.now() > deadline)
        throw new Error(`ffmpeg did not bind UDP ports ${ports.join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  #line(line: string): void {
    if (line.trim() === '') return;
    this.#lines.push(line);
    if (this.#lines.length > STDERR_LINES) this.#lines.shift();
  }
}

/** Local UDP ports bound on this machine (any process). */
async function boundUdpPorts(): Promise<Set<number>> {
  const ports = new Set<number>();
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      const port = local?.split(':').pop();
      if (port) ports.add(Number.parseInt(port, 16));
    }
  }
  return ports;
}
