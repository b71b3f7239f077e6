/** The recorder's pure parts: playlists, ffmpeg command lines and SDP, assignment. */
import { describe, expect, it } from 'vitest';
import HLS from 'hls-parser';
import { pick } from '../../src/assign.ts';
import { canCopyVideo, compositeGraph, recordArgs } from '../../src/ffmpeg/args.ts';
import { ffmpegSdp } from '../../src/ffmpeg/sdp.ts';
import {
  parsePartPlaylist,
  playlistDuration,
  recordingPlaylist,
  splitRecordingPlaylist,
} from '../../src/playlists.ts';

const PART = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="p1-init.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-12-02T01:00:00.000+0000
#EXTINF:4.000000,
p1-00000.m4s
#EXTINF:3.500000,
/spool/rec_x/p1-00001.m4s
`;

describe('playlists', () => {
  it('reads a part as ffmpeg writes it (file names only)', () => {
    const part = parsePartPlaylist(PART);
    expect(part.init).toBe('p1-init.mp4');
    expect(part.ended).toBe(false);
    expect(part.segments.map((s) => [s.uri, s.duration])).toEqual([
      ['p1-00000.m4s', 4],
      ['p1-00001.m4s', 3.5],
    ]);
    expect(parsePartPlaylist(`${PART}#EXT-X-ENDLIST\n`).ended).toBe(true);
    expect(() => parsePartPlaylist('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nx.m3u8\n')).toThrow();
  });

  it('joins parts with a discontinuity and a new map; VOD when final', () => {
    const p1 = parsePartPlaylist(PART);
    const p2 = {
      init: 'p2-init.mp4',
      segments: [{ uri: 'p2-00000.m4s', duration: 4.2 }],
      ended: true,
    };
    const empty = { init: undefined, segments: [], ended: false };
    const live = recordingPlaylist([p1, empty, p2], false);
    expect(live).toContain('#EXT-X-PLAYLIST-TYPE:EVENT');
    expect(live).not.toContain('#EXT-X-ENDLIST');
    const vod = recordingPlaylist([p1, empty, p2], true);
    const parsed = HLS.parse(vod) as InstanceType<typeof HLS.types.MediaPlaylist>;
    expect(parsed.playlistType).toBe('VOD');
    expect(parsed.endlist).toBe(true);
    expect(parsed.targetDuration).toBe(5);
    expect(parsed.version).toBe(7);
    expect(parsed.segments.map((s) => [s.uri, s.map?.uri, Boolean(s.discontinuity)])).toEqual([
      ['p1-00000.m4s', 'p1-init.mp4', false],
      ['p1-00001.m4s', 'p1-init.mp4', false],
      ['p2-00000.m4s', 'p2-init.mp4', true],
    ]);
    expect(vod.match(/#EXT-X-DISCONTINUITY/g)).toHaveLength(1);
    expect(playlistDuration([p1, p2])).toBeCloseTo(11.7);
    // What a recorder without the spool reads back from the storage.
    const split = splitRecordingPlaylist(vod);
    expect(split.map((p) => [p.init, p.segments.length])).toEqual([
      ['p1-init.mp4', 2],
      ['p2-init.mp4', 1],
    ]);
  });
});

describe('ffmpeg command lines', () => {
  const base = { segmentSeconds: 4, dir: '/spool/rec_a', part: 2, layout: 'grid' as const };

  it('copies H.264 and encodes everything else; Opus always to AAC', () => {
    expect(canCopyVideo('H264')).toBe(true);
    expect(canCopyVideo('VP8')).toBe(false);
    const copy = recordArgs({ ...base, inputs: [{ sdp: 'a.sdp', video: 'H264', audio: true }] });
    expect(copy.join(' ')).toContain('-map 0:v:0 -c:v copy -map 0:a:0 -c:a aac');
    expect(copy.join(' ')).toContain('-hls_fmp4_init_filename p2-init.mp4');
    expect(copy.join(' ')).toContain('-hls_segment_filename /spool/rec_a/p2-%05d.m4s');
    expect(copy.at(-1)).toBe('/spool/rec_a/p2.m3u8');
    const encode = recordArgs({ ...base, inputs: [{ sdp: 'a.sdp', video: 'VP8', audio: false }] });
    expect(encode.join(' ')).toContain('-c:v libx264');
    expect(encode.join(' ')).toContain('expr:gte(t,n_forced*4)');
    expect(encode).not.toContain('0:a:0');
    const audioOnly = recordArgs({ ...base, inputs: [{ sdp: 'a.sdp', audio: true }] });
    expect(audioOnly).not.toContain('0:v:0');
    expect(() => recordArgs({ ...base, inputs: [] })).toThrow();
  });

  it('lays out a grid and picture-in-picture on a 1280x720 canvas', () => {
    const inputs = [
      { sdp: 'a', video: 'H264', audio: true },
      { sdp: 'b', video: 'VP8', audio: true },
      { sdp: 'c', video: 'H264', audio: false },
    ];
    const grid = compositeGraph(inputs, 'grid');
    expect(grid.filter).toContain('xstack=inputs=3:layout=0_0|640_0|0_360');
    expect(grid.filter).toContain('amix=inputs=2');
    expect(grid).toMatchObject({ video: '[v]', audio: '[a]' });
    const pip = compositeGraph(inputs.slice(0, 2), 'pip');
    expect(pip.filter).toContain('[m0][i0]overlay=936:516[v]');
    const args = recordArgs({ ...base, inputs, layout: 'pip' });
    expect(args.filter((a) => a === '-i')).toHaveLength(3);
    expect(args).toContain('-filter_complex');
  });

  it('writes an SDP without rtcp-mux, with the consumer codec', () => {
    const sdp = ffmpegSdp([
      {
        kind: 'video',
        port: 20000,
        rtpParameters: {
          codecs: [
            {
              mimeType: 'video/H264',
              payloadType: 102,
              clockRate: 90000,
              parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' },
              rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }],
            },
          ],
        },
      },
      {
        kind: 'audio',
        port: 20002,
        rtpParameters: {
          codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }],
        },
      },
    ]);
    expect(sdp).toContain('m=video 20000 RTP/AVPF 102\r\na=rtcp:20001\r\na=rtpmap:102 H264/90000');
    expect(sdp).toContain('a=fmtp:102 packetization-mode=1;profile-level-id=42e01f');
    expect(sdp).toContain('a=rtcp-fb:102 nack pli');
    expect(sdp).toContain('a=rtpmap:100 opus/48000/2');
    expect(sdp).not.toContain('rtcp-mux');
  });
});

describe('recorder assignment', () => {
  it('is the same on every node and moves only the keys of a node that leaves', () => {
    const nodes = ['rec-a', 'rec-b', 'rec-c'];
    const keys = Array.from({ length: 300 }, (_, i) => `stream-${i}`);
    const before = new Map(keys.map((k) => [k, pick(k, nodes)]));
    expect(pick('x', [...nodes].reverse())).toBe(pick('x', nodes));
    const counts = nodes.map((n) => [...before.values()].filter((v) => v === n).length);
    for (const count of counts) expect(count).toBeGreaterThan(60);
    const after = new Map(keys.map((k) => [k, pick(k, ['rec-a', 'rec-c'])]));
    for (const key of keys) {
      if (before.get(key) !== 'rec-b') expect(after.get(key)).toBe(before.get(key));
    }
    expect(pick('x', [])).toBeUndefined();
  });
});
