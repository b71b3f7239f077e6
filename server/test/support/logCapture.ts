/**
 * Reads what the platform logs, in-process: every line the pino loggers of @wisp/core write
 * (they share the root logger's destination) is also parsed and kept here, so a test can
 * assert that an operator would see a warning. Lines still go to the real destination. Only
 * levels enabled by LOG_LEVEL are written, so capture warnings with the tests' `warn`.
 */
import { pino } from 'pino';
import { createLogger } from '@wisp/core';

export interface LogLine extends Record<string, unknown> {
  level: number;
  name?: string;
  msg?: string;
}

export interface LogCapture {
  /** Parsed lines written since the capture started. */
  readonly lines: readonly LogLine[];
  /** Lines at `warn` (40) or above whose fields include all of `fields`. */
  warnings(fields?: Record<string, unknown>): LogLine[];
  stop(): void;
}

interface Destination {
  write: (this: Destination, chunk: string) => unknown;
}

export function captureLogs(): LogCapture {
  const destination = (createLogger('logCapture') as unknown as Record<symbol, Destination>)[
    pino.symbols.streamSym
  ];
  if (!destination) throw new Error('the pino destination was not found');
  const original = destination.write;
  const ownWrite = Object.prototype.hasOwnProperty.call(destination, 'write');
  const lines: LogLine[] = [];
  destination.write = function write(this: Destination, chunk: string) {
    for (const text of chunk.split('\n')) {
      if (!text.trim()) continue;
      try {
        lines.push(JSON.parse(text) as LogLine);
      } catch {
        // Not JSON (a pretty-printing transport): nothing to assert on.
      }
    }
    return original.call(this, chunk);
  };
  return {
    lines,
    warnings(fields = {}) {
      return lines.filter(
        (line) =>
          line.level >= 40 && Object.entries(fields).every(([key, value]) => line[key] === value),
      );
    },
    stop() {
      if (ownWrite) destination.write = original;
      else delete (destination as Partial<Destination>).write;
    },
  };
}
