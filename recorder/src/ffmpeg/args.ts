/**
 * ffmpeg command lines of the recorder (docs/recording.md): RTP in through SDP files, fMP4
 * HLS out. One source is copied when its video is H.264 (what OBS sends: keyframes come
 * when the recorder asks for them, every segment) and encoded to H.264 otherwise (VP8, VP9,
 * AV1); Opus is always encoded to AAC. Several sources are composited (grid or
 * picture-in-picture) on a 1280x720 canvas and encoded.
 */
import path from 'node:path';

export type Layout = 'grid' | 'pip';

export interface RecordInput {
  /** The SDP file ffmpeg reads this source from. */
  sdp: string;
  /** The video track's codec name (`H264`, `VP8`...), when the source has video. */
  video?: string;
  audio: boolean;
}

export interface RecordArgsOptions {
  inputs: readonly RecordInput[];
  /** How several inputs are laid out; ignored for one. */
  layout: Layout;
  segmentSeconds: number;
  /** The recording's spool folder and this part's number (files `p<N>...`). */
  dir: string;
  part: number;
}

export const CANVAS = { width: 1280, height: 720, fps: 30 } as const;

/** Whether one input's video can be copied into HLS as it is. */
export function canCopyVideo(codec: string | undefined): boolean {
  return codec?.toUpperCase() === 'H264';
}

export function recordArgs(options: RecordArgsOptions): string[] {
  const { inputs, segmentSeconds, dir, part } = options;
  if (inputs.length === 0) throw new TypeError('a recording needs at least one input');
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'warning', '-y'];
  for (const input of inputs) {
    args.push(
      '-protocol_whitelist',
      'file,udp,rtp',
      // RTP carries no container timestamps: make them from the RTP clock.
      '-fflags',
      '+genpts',
      // NACK/FIR and receiver reports go back to the sender (mediasoup).
      '-sdp_flags',
      'rtcp_to_source',
      // Keyframes are several hundred packets: room for them on loopback.
      '-buffer_size',
      String(4 * 1024 * 1024),
      '-reorder_queue_size',
      '500',
      // ffmpeg gives up on an input that sends nothing for twice this (seconds).
      '-listen_timeout',
      '15',
      '-i',
      input.sdp,
    );
  }
  const encodeVideo = [
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-pix_fmt',
    'yuv420p',
    '-crf',
    '23',
    '-maxrate',
    '4000k',
    '-bufsize',
    '8000k',
    '-g',
    String(CANVAS.fps * 2),
    '-sc_threshold',
    '0',
    '-force_key_frames',
    `expr:gte(t,n_forced*${segmentSeconds})`,
  ];
  const encodeAudio = ['-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2'];
  if (inputs.length === 1) {
    const [input] = inputs;
    if (input.video) {
      args.push('-map', '0:v:0');
      if (canCopyVideo(input.video)) args.push('-c:v', 'copy');
      else args.push('-fps_mode', 'passthrough', ...encodeVideo);
    }
    if (input.audio) args.push('-map', '0:a:0', ...encodeAudio);
  } else {
    const graph = compositeGraph(inputs, options.layout);
    args.push('-filter_complex', graph.filter);
    if (graph.video) args.push('-map', graph.video, ...encodeVideo, '-r', String(CANVAS.fps));
    if (graph.audio) args.push('-map', graph.audio, ...encodeAudio);
  }
  const prefix = `p${part}`;
  args.push(
    '-f',
    'hls',
    '-hls_time',
    String(segmentSeconds),
    '-hls_list_size',
    '0',
    '-hls_playlist_type',
    'event',
    '-hls_segment_type',
    'fmp4',
    '-hls_fmp4_init_filename',
    `${prefix}-init.mp4`,
    '-hls_segment_filename',
    path.join(dir, `${prefix}-%05d.m4s`),
    '-hls_flags',
    'independent_segments+temp_file+program_date_time',
    path.join(dir, `${prefix}.m3u8`),
  );
  return args;
}

/** The filter graph of a composition: video `[v]` and audio `[a]` outputs. */
export function compositeGraph(
  inputs: readonly RecordInput[],
  layout: Layout,
): { filter: string; video?: string; audio?: string } {
  const filters: string[] = [];
  const videos = inputs.map((input, i) => (input.video ? i : -1)).filter((i) => i >= 0);
  const audios = inputs.map((input, i) => (input.audio ? i : -1)).filter((i) => i >= 0);
  const { width: W, height: H, fps } = CANVAS;
  let video: string | undefined;
  if (videos.length === 1) {
    filters.push(`[${videos[0]}:v]fps=${fps},${fit(W, H)}[v]`);
    video = '[v]';
  } else if (videos.length > 1 && layout === 'grid') {
    const cols = Math.ceil(Math.sqrt(videos.length));
    const rows = Math.ceil(videos.length / cols);
    const w = even(W / cols);
    const h = even(H / rows);
    const positions: string[] = [];
    videos.forEach((input, k) => {
      filters.push(`[${input}:v]fps=${fps},${fit(w, h)}[t${k}]`);
      positions.push(`${(k % cols) * w}_${Math.floor(k / cols) * h}`);
    });
    const stacked = videos.map((_, k) => `[t${k}]`).join('');
    filters.push(
      `${stacked}xstack=inputs=${videos.length}:layout=${positions.join('|')}:fill=black,` +
        `pad=${W}:${H}:0:0:black[v]`,
    );
    video = '[v]';
  } else if (videos.length > 1) {
    // Picture-in-picture: the first source fills the canvas, the others are quarter-size
    // insets along the bottom, from the right.
    const w = even(W / 4);
    const h = even(H / 4);
    const margin = 24;
    filters.push(`[${videos[0]}:v]fps=${fps},${fit(W, H)}[m0]`);
    videos.slice(1).forEach((input, k) => {
      filters.push(`[${input}:v]fps=${fps},${fit(w, h)}[i${k}]`);
    });
    let base = '[m0]';
    videos.slice(1).forEach((_, k) => {
      const x = W - (k + 1) * (w + margin);
      const y = H - h - margin;
      const out = k === videos.length - 2 ? '[v]' : `[m${k + 1}]`;
      filters.push(`${base}[i${k}]overlay=${x}:${y}${out}`);
      base = out;
    });
    video = '[v]';
  }
  let audio: string | undefined;
  if (audios.length === 1) {
    filters.push(`[${audios[0]}:a]aresample=48000[a]`);
    audio = '[a]';
  } else if (audios.length > 1) {
    const mixed = audios.map((i) => `[${i}:a]`).join('');
    filters.push(`${mixed}amix=inputs=${audios.length}:normalize=0:dropout_transition=0[a]`);
    audio = '[a]';
  }
  return { filter: filters.join(';'), video, audio };
}

/** Scale into `w`x`h` keeping the aspect ratio, centred on black. */
function fit(w: number, h: number): string {
  return (
    `scale=${w}:${h}:force_original_aspect_ratio=decrease,` +
    `pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2:black,setsar=1`
  );
}

function even(value: number): number {
  return Math.floor(value / 2) * 2;
}
