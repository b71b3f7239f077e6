/**
 * `@wisp/recorder`: recordings of live streams into HLS (docs/recording.md). This entry
 * point never loads mediasoup: the API, the VOD routes, storage and the ffmpeg lookup, for
 * any node that serves HTTP. The recorder role itself is `@wisp/recorder/media`.
 */
export * from './RecordingService.ts';
export * from './http/routes.ts';
export * from './playlists.ts';
export * from './storage/index.ts';
export { checkFfmpeg, resolveFfmpeg, type FfmpegBinaries } from './ffmpeg/resolve.ts';
export { pick } from './assign.ts';
