import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

const root: PinoLogger = pino({
  level: 'info',
  base: undefined,
  timestamp: pino.stdTimeFunctions.isoTime,
});

/**
 * Loggers created at module load, before the config is read. pino children copy their
 * level when created, so configureLogging() updates these explicitly; per-object loggers are
 * created later from the configured root.
 */
const moduleLoggers = new Set<PinoLogger>();

/** Sets the level of every logger (from `LOG_LEVEL`, via the config). */
export function configureLogging(level: string): void {
  root.level = level;
  for (const logger of moduleLoggers) logger.level = level;
}

/**
 * A named logger with bound context, e.g. `createLogger('WhipSession', { streamId })`.
 * Info level is one line per lifecycle transition, never per packet.
 */
export function createLogger(name: string, bindings: Record<string, unknown> = {}): Logger {
  return root.child({ name, ...bindings });
}

/** A logger for module scope (`const log = moduleLogger('http')`). */
export function moduleLogger(name: string): Logger {
  const logger = createLogger(name);
  moduleLoggers.add(logger);
  return logger;
}
