/**
 * Spawning and stopping the media tools (ffmpeg, gst-launch-1.0) that make real encoded
 * media for the libdatachannel peers: an encoder writes RTP to a local UDP port and the peer
 * forwards each packet into a track (libdatachannel's `media-sender` example).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Logger } from '@wisp/core';
import { PeerTimeoutError } from './errors.ts';

/** Every media tool this process started and has not reaped yet. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Last-resort cleanup: if the test process exits without closing its peers (a crashed test, a
 * forgotten `close()`), its media tool children are killed synchronously on the way out. A
 * SIGKILL of this process cannot run hooks; the bounded duration of the sources (ffmpeg's
 * lavfi `duration`, GStreamer's `num-buffers`) bounds those children.
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

export interface MediaToolProcess {
  readonly child: ChildProcess;
  /** Resolves when the process has exited, with its code or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines the tool wrote to stderr, for error messages. */
  stderrTail(): string;
}

/** Starts `command` (a path or a name on PATH) with stdin and stdout ignored. */
export function spawnMediaTool(command: string, args: string[], logger: Logger): MediaToolProcess {
  installExitHook();
  const tool = path.basename(command);
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  const tail: string[] = [];
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    for (const line of chunk.split('\n')) {
      if (!line.trim()) continue;
      tail.push(line);
      if (tail.length > 20) tail.shift();
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
    child.once('error', (error) => {
      live.delete(child);
      logger.error({ err: error, tool }, 'media tool could not be started');
      resolve({ code: null, signal: null });
    });
  });
  logger.debug({ pid: child.pid, tool, args: args.join(' ') }, 'media tool started');
  return { child, exited, stderrTail: () => tail.join('\n') };
}

/**
 * Stops a child: SIGTERM, then SIGKILL after `graceMs`. Resolves once it has exited; rejects
 * only if even SIGKILL did not end it within another `graceMs`.
 */
export async function stopMediaTool(process_: MediaToolProcess, graceMs = 2000): Promise<void> {
  const { child } = process_;
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
    await process_.exited;
    return;
  }
  child.kill('SIGTERM');
  if (await exitsWithin(process_, graceMs)) return;
  child.kill('SIGKILL');
  if (await exitsWithin(process_, graceMs)) return;
  throw new PeerTimeoutError(
    `${path.basename(child.spawnfile)} (pid ${child.pid}) to exit`,
    2 * graceMs,
  );
}

async function exitsWithin(process_: MediaToolProcess, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([process_.exited.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
