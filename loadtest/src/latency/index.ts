export * from './stamp.ts';
export * from './stats.ts';
export * from './directSignals.ts';
export * from './platform.ts';
export * from './probe.ts';
export * from './scenario.ts';
