export * from './config.ts';
export * from './contracts.ts';
export * from './errors.ts';
export * from './events.ts';
export * from './keys.ts';
export * from './logger.ts';
export * from './store/StateStore.ts';
export * from './http.ts';
