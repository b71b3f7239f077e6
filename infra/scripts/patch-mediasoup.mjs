// wisp's patch of mediasoup 3.8.4: renumber the header-extension ids the worker writes on
// the wire to libwebrtc's numbering, in the worker (C++ enum) and in the JavaScript
// capabilities (which must agree with it).
//
// Why: mediasoup rewrites every forwarded RTP packet with its own fixed extension ids. With
// mediasoup-client the server makes the offer, so browsers adopt those ids; with WHEP the
// viewer makes the offer, and an answer can only negotiate extensions whose ids coincide.
// mediasoup's ids (mid=1, abs-send-time=4, ...) collide with libwebrtc's (audio-level=1,
// mid=4, ...): libwebrtc stacks that parse incoming RTP with their own offer's map (e.g. the
// one in @roamhq/wrtc) read abs-send-time as a MID and drop all video, and no Chrome viewer
// could negotiate transport-cc, so mediasoup had no bandwidth estimate for any viewer.
// With libwebrtc's numbering, Chrome-family viewers negotiate mid, abs-send-time,
// transport-cc, audio-level, video-orientation and toffset as offered.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const pkg = process.argv[2];
if (!pkg) throw new Error('usage: patch-mediasoup.mjs <node_modules/mediasoup>');

/** uri -> [enum name, new id] */
const ids = [
  ['urn:ietf:params:rtp-hdrext:ssrc-audio-level', 'SSRC_AUDIO_LEVEL', 1],
  ['http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time', 'ABS_SEND_TIME', 2],
  [
    'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
    'TRANSPORT_WIDE_CC_01',
    3,
  ],
  ['urn:ietf:params:rtp-hdrext:sdes:mid', 'MID', 4],
  ['http://tools.ietf.org/html/draft-ietf-avtext-framemarking-07', 'FRAME_MARKING_07', 9],
  ['urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id', 'RTP_STREAM_ID', 10],
  ['urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id', 'REPAIRED_RTP_STREAM_ID', 11],
  ['urn:ietf:params:rtp-hdrext:framemarking', 'FRAME_MARKING', 12],
  ['urn:3gpp:video-orientation', 'VIDEO_ORIENTATION', 13],
  ['urn:ietf:params:rtp-hdrext:toffset', 'TOFFSET', 14],
];

function patch(file, edit) {
  const full = path.join(pkg, file);
  const before = readFileSync(full, 'utf8');
  const after = edit(before);
  if (after !== before) writeFileSync(full, after);
}

patch('worker/include/RTC/RtpDictionaries.hpp', (text) => {
  let out = text;
  for (const [, name, id] of ids) {
    const re = new RegExp(`(\\b${name}\\s*=\\s*)\\d+`);
    if (!re.test(out)) throw new Error(`enum ${name} not found in RtpDictionaries.hpp`);
    out = out.replace(re, `$1${id}`);
  }
  return out;
});

patch('lib/supportedRtpCapabilities.js', (text) => {
  let out = text;
  for (const [uri, , id] of ids) {
    const re = new RegExp(
      `(uri: '${uri.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}',\\s*preferredId: )\\d+`,
      'g',
    );
    if (!re.test(out))
      throw new Error(`capability ${uri} not found in supportedRtpCapabilities.js`);
    out = out.replace(re, `$1${id}`);
  }
  return out;
});
console.log('patch-mediasoup: header-extension ids renumbered to libwebrtc numbering');
