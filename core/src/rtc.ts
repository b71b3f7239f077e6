/**
 * `@wisp/core/rtc`: what a media role shares: the mediasoup worker pool and WebRTC
 * transports, codecs, SDP <-> RTP-parameter mapping, live-stream leases and network pipes.
 * Loading it loads mediasoup, so only processes that do media import it; everything else
 * imports the kernel, `@wisp/core` (which has the WHIP/WHEP HTTP behaviour a front door
 * needs too).
 */
export * from './media/index.ts';
export * from './sdp/index.ts';
