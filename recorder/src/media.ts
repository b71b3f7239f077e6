/** `@wisp/recorder/media`: the recorder role (mediasoup PlainTransports into ffmpeg). */
export { Recorder, type RecorderOptions } from './Recorder.ts';
export { Recording, type RecordingOptions } from './Recording.ts';
export { PartWriter, type PartWriterOptions } from './PartWriter.ts';
export * from './ffmpeg/args.ts';
export { FfmpegProcess } from './ffmpeg/FfmpegProcess.ts';
