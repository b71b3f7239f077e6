export { createPlayerRoutes, STREAM_ID_PATTERN, ASSETS_NOT_BUILT_MESSAGE } from './http/routes.ts';
export type { PlayerRoutesOptions, PublicStreamStatus, Recording } from './http/routes.ts';
export { DEFAULT_DIST_DIR } from './paths.ts';
export type {
  PlaybackStats,
  PlayerMode,
  PlayerState,
  PlayerStats,
  PublisherState,
  WispPlayerApi,
  WispPublisherApi,
} from './web/types.ts';
