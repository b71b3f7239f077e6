/**
 * `@wisp/core`: the kernel every process loads: config, logger, errors, typed events,
 * contracts, keys, the state store and the cluster registries. It never loads mediasoup; the
 * media side is `@wisp/core/rtc`.
 */
export * from './config.ts';
export * from './contracts.ts';
export * from './errors.ts';
export * from './events.ts';
export * from './keys.ts';
export * from './logger.ts';
export * from './store/StateStore.ts';
export * from './store/WebhookOutbox.ts';
export * from './http.ts';
export * from './store/index.ts';
export * from './mutex.ts';
export * from './tickets.ts';
export * from './viewerTokens.ts';
export * from './internalClient.ts';
export * from './whipwhep.ts';
export * from './cluster/index.ts';
export * from './turn.ts';
export * from './metrics.ts';
export * from './webhooks/index.ts';
export * from './ratelimit/index.ts';
