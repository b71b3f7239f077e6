/**
 * The ffmpeg command lines that make real encoded media for the libdatachannel peers (the
 * approach of libdatachannel's `media-sender` example: an encoder writes RTP to a local UDP
 * port and the peer forwards each packet into a track). Processes are run by `mediaTool.ts`.
 */
export {
  spawnMediaTool as spawnFfmpeg,
  stopMediaTool as stopFfmpeg,
  type MediaToolProcess as FfmpegProcess,
} from './mediaTool.ts';

import type { MediaPattern } from './obsLikeOptions.ts';

export interface VideoLayer {
  /** The RTP stream id, "0" for the full-resolution layer as OBS names them. */
  rid: string;
  width: number;
  height: number;
  bitrateKbps: number;
  ssrc: number;
  port: number;
}

export interface AudioOutput {
  ssrc: number;
  port: number;
  bitrateKbps: number;
}

export interface ObsLikeEncodeOptions {
  fps: number;
  /** The source size; layer 0 has it. */
  width: number;
  height: number;
  layers: VideoLayer[];
  audio: AudioOutput | undefined;
  /** The lavfi sources end after this many seconds, a bound on a leaked process. */
  maxDurationSec: number;
  /** The picture and sound (ObsLikePublisherOptions.pattern). Default `testsrc`. */
  pattern?: MediaPattern;
  videoPayloadType: number;
  audioPayloadType: number;
  /** RTP packet size including the 12-byte header. OBS fragments at 1200 payload bytes. */
  packetSize: number;
}

/**
 * ffmpeg arguments for OBS-like media: x264 High profile without B-frames, a keyframe every
 * second, SPS/PPS repeated in-band (the WHIP service forces `repeat_headers`), and Opus, each
 * to RTP on 127.0.0.1 with the payload type and SSRC the SDP offer announced. RTCP sender
 * reports go to the same port (`rtcpport`), so they can be forwarded too.
 */
export function obsLikeFfmpegArgs(options: ObsLikeEncodeOptions): string[] {
  const args = ['-hide_banner', '-loglevel', 'warning', '-nostdin'];
  const video = options.layers.length > 0;
  // Inputs are numbered in order: video (if any) is 0, audio follows it.
  const videoInput = 0;
  const audioInput = video ? 1 : 0;
  if (video) {
    args.push('-re', '-f', 'lavfi', '-i', videoSource(options));
  }
  if (options.audio) {
    args.push('-re', '-f', 'lavfi', '-i', audioSource(options));
  }

  if (options.layers.length > 1) {
    // One source, scaled copies: OBS 32's simulcast layers are scaled outputs of one canvas.
    const n = options.layers.length;
    const splits = options.layers.map((_, i) => `[s${i}]`).join('');
    const scales = options.layers
      .slice(1)
      .map((layer, i) => `[s${i + 1}]scale=${layer.width}:${layer.height}[v${i + 1}]`);
    args.push('-filter_complex', [`[${videoInput}:v]split=${n}${splits}`, ...scales].join(';'));
  }

  options.layers.forEach((layer, i) => {
    const map = options.layers.length > 1 ? (i === 0 ? '[s0]' : `[v${i}]`) : `${videoInput}:v`;
    args.push(
      '-map',
      map,
      '-c:v',
      'libx264',
      '-profile:v',
      'high',
      '-pix_fmt',
      'yuv420p',
      '-bf',
      '0',
      '-g',
      String(options.fps),
      '-tune',
      'zerolatency',
      '-preset',
      'ultrafast',
      '-x264-params',
      'repeat-headers=1',
      '-b:v',
      `${layer.bitrateKbps}k`,
      '-maxrate',
      `${layer.bitrateKbps}k`,
      '-bufsize',
      `${layer.bitrateKbps}k`,
      ...rtpOutput(options.videoPayloadType, layer.ssrc, layer.port, options.packetSize),
    );
  });

  if (options.audio) {
    args.push(
      '-map',
      `${audioInput}:a`,
      '-c:a',
      'libopus',
      '-b:a',
      `${options.audio.bitrateKbps}k`,
      '-ac',
      '2',
      '-ar',
      '48000',
      ...rtpOutput(
        options.audioPayloadType,
        options.audio.ssrc,
        options.audio.port,
        options.packetSize,
      ),
    );
  }
  return args;
}

/** The lavfi video source of a pattern. */
export function videoSource(options: ObsLikeEncodeOptions): string {
  const size = `size=${options.width}x${options.height}:rate=${options.fps}`;
  const duration = `duration=${options.maxDurationSec}`;
  const pattern = options.pattern ?? 'testsrc';
  if (pattern === 'testsrc') return `testsrc2=${size}:${duration}`;
  if ('color' in pattern) return `color=c=${pattern.color}:${size}:${duration}`;
  const { periodSec, flashSec } = pattern.sync;
  return (
    `color=c=black:${size}:${duration},` +
    `drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='lt(mod(t\\,${periodSec})\\,${flashSec})'`
  );
}

/** The lavfi audio source of a pattern: a tone, or beeps with the flashes. */
export function audioSource(options: ObsLikeEncodeOptions): string {
  const tone = `sine=frequency=440:sample_rate=48000:duration=${options.maxDurationSec}`;
  const pattern = options.pattern ?? 'testsrc';
  if (pattern === 'testsrc' || 'color' in pattern) return tone;
  const { periodSec, flashSec } = pattern.sync;
  return `${tone},volume=volume=0:enable='gte(mod(t\\,${periodSec})\\,${flashSec})'`;
}

function rtpOutput(payloadType: number, ssrc: number, port: number, packetSize: number): string[] {
  return [
    '-payload_type',
    String(payloadType),
    // ffmpeg's option is a signed 32-bit int; the same bits go on the wire.
    '-ssrc',
    String(ssrc | 0),
    '-pkt_size',
    String(packetSize),
    '-f',
    'rtp',
    `rtp://127.0.0.1:${port}?rtcpport=${port}`,
  ];
}
