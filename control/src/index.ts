export { StreamService } from './StreamService.ts';
export type { StreamServiceEvents, StreamServiceOptions } from './StreamService.ts';
export { createControlRoutes } from './http/routes.ts';
export { adminAuth } from '@wisp/core';
export type { ControlRoutesOptions } from './http/routes.ts';
export {
  MAX_STREAM_KEY_LENGTH,
  MAX_STREAM_NAME_LENGTH,
  isStreamId,
  normalizeStreamName,
  parseCreateStreamRequest,
} from './validation.ts';
