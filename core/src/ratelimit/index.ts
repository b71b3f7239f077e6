export * from './RateLimiter.ts';
export * from './TokenBuckets.ts';
export * from './clientAddress.ts';
