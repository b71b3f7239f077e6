/** Webhooks (Standard Webhooks, a durable outbox in the state store) and the publish hook. */
export * from './events.ts';
export * from './signing.ts';
export * from './WebhookDispatcher.ts';
export * from './WebhookEmitter.ts';
export * from './PublishHook.ts';
