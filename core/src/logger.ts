import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

let root: PinoLogger | undefined;

/** Configures the root logger once at start (level from config). Later calls replace it. */
export function configureLogging(level: string): void {
  root = pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime });
}

function rootLogger(): PinoLogger {
  root ??= pino({ level: 'info', base: undefined, timestamp: pino.stdTimeFunctions.isoTime });
  return root;
}

/**
 * A named logger with bound context, e.g. `createLogger('WhipSession', { streamId })`.
 * Info level is one line per lifecycle transition, never per packet.
 */
export function createLogger(name: string, bindings: Record<string, unknown> = {}): Logger {
  return rootLogger().child({ name, ...bindings });
}
