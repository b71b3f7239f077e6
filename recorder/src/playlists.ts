/**
 * The playlists of a recording, read and written with hls-parser (never by string
 * concatenation). ffmpeg writes one EVENT playlist per part (`p<N>.m3u8`, its init
 * `p<N>-init.mp4`, segments `p<N>-<seq>.m4s`); the recording's `index.m3u8` joins the parts:
 * `EXT-X-DISCONTINUITY` and a new `EXT-X-MAP` from the second part on, an EVENT playlist while
 * live and a VOD playlist (`ENDLIST`) once finalized.
 */
import HLS from 'hls-parser';

const { MediaInitializationSection, MediaPlaylist, Segment } = HLS.types;

export interface PartSegment {
  /** File name relative to the recording folder, e.g. `p1-00003.m4s`. */
  uri: string;
  duration: number;
  programDateTime?: Date;
}

/** What ffmpeg's playlist of one part says so far. */
export interface PartPlaylist {
  /** The init section's file name (`p1-init.mp4`), once ffmpeg wrote it. */
  init: string | undefined;
  segments: PartSegment[];
  /** ffmpeg finished the part (`#EXT-X-ENDLIST`). */
  ended: boolean;
}

/** Parses one part's playlist as ffmpeg wrote it. Throws on text that is not a media playlist. */
export function parsePartPlaylist(text: string): PartPlaylist {
  const playlist = HLS.parse(text);
  if (playlist.isMasterPlaylist) throw new TypeError('a part playlist must be a media playlist');
  const media = playlist;
  const segments = media.segments.map((s) => ({
    uri: baseName(s.uri),
    duration: s.duration,
    ...(s.programDateTime ? { programDateTime: s.programDateTime } : {}),
  }));
  const init = media.segments.find((s) => s.map)?.map?.uri;
  return { init: init && baseName(init), segments, ended: media.endlist };
}

/**
 * The recording's playlist: every part with segments, in order. `final` makes it a VOD
 * playlist with ENDLIST; otherwise an EVENT playlist a player can start anywhere in.
 */
export function recordingPlaylist(parts: readonly PartPlaylist[], final: boolean): string {
  const segments: InstanceType<typeof Segment>[] = [];
  let discontinuitySequence = 0;
  let first = true;
  for (const part of parts) {
    if (!part.init || part.segments.length === 0) continue;
    const map = new MediaInitializationSection({ uri: part.init });
    part.segments.forEach((s, i) => {
      const discontinuity = !first && i === 0;
      if (discontinuity) discontinuitySequence += 1;
      segments.push(
        new Segment({
          uri: s.uri,
          duration: s.duration,
          map,
          discontinuity,
          discontinuitySequence,
          mediaSequenceNumber: segments.length,
          ...(s.programDateTime ? { programDateTime: s.programDateTime } : {}),
        }),
      );
    });
    first = false;
  }
  const playlist = new MediaPlaylist({
    version: 7,
    independentSegments: true,
    targetDuration: Math.max(1, Math.ceil(Math.max(0, ...segments.map((s) => s.duration)))),
    mediaSequenceBase: 0,
    playlistType: final ? 'VOD' : 'EVENT',
    endlist: final,
    segments,
  });
  return HLS.stringify(playlist);
}

/** Total duration of the parts' segments, in seconds. */
export function playlistDuration(parts: readonly PartPlaylist[]): number {
  return parts.reduce((sum, p) => sum + p.segments.reduce((s, seg) => s + seg.duration, 0), 0);
}

function baseName(uri: string): string {
  return uri.slice(uri.lastIndexOf('/') + 1);
}

/**
 * The parts of a recording playlist (`index.m3u8` as stored): consecutive segments under one
 * `EXT-X-MAP` form a part. How a recorder that has no spool of a recording (another machine
 * wrote it) finalizes what the storage holds.
 */
export function splitRecordingPlaylist(text: string): PartPlaylist[] {
  const playlist = HLS.parse(text);
  if (playlist.isMasterPlaylist) throw new TypeError('a recording playlist is a media playlist');
  const parts: PartPlaylist[] = [];
  let current: PartPlaylist | undefined;
  for (const segment of playlist.segments) {
    const init = segment.map?.uri && baseName(segment.map.uri);
    if (!current || current.init !== init || segment.discontinuity) {
      current = { init, segments: [], ended: true };
      parts.push(current);
    }
    current.segments.push({
      uri: baseName(segment.uri),
      duration: segment.duration,
      ...(segment.programDateTime ? { programDateTime: segment.programDateTime } : {}),
    });
  }
  return parts;
}
