import type { StoreConfig } from '../config.ts';
import { EmbeddedStateStore } from './EmbeddedStateStore.ts';
import { RedisStateStore } from './RedisStateStore.ts';
import type { StateStore } from './StateStore.ts';

export { CorruptStateFileError, EmbeddedStateStore } from './EmbeddedStateStore.ts';
export type { EmbeddedStateStoreOptions } from './EmbeddedStateStore.ts';
export { RedisStateStore } from './RedisStateStore.ts';
export type { RedisStateStoreOptions } from './RedisStateStore.ts';

/**
 * Opens the state store the configuration asks for: Redis when `store.kind` is `redis`
 * (`REDIS_URL` set), otherwise the embedded file store under `dataDir`.
 */
export async function createStateStore(config: {
  store: StoreConfig;
  dataDir: string;
}): Promise<StateStore> {
  switch (config.store.kind) {
    case 'redis': {
      if (!config.store.redisUrl) throw new TypeError('store kind "redis" needs a redisUrl');
      return RedisStateStore.create({
        url: config.store.redisUrl,
        prefix: config.store.redisPrefix,
      });
    }
    case 'embedded':
      return EmbeddedStateStore.create({ dataDir: config.dataDir });
  }
}
