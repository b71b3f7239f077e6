/**
 * Stand-ins for the media server in player tests: real WebRTC peers from `@roamhq/wrtc`
 * (libwebrtc in Node) that answer a browser's WHEP or WHIP offer. With them the pages can be
 * tested down to decoded frames without mediasoup.
 */
import wrtc from '@roamhq/wrtc';

export interface FakePeer {
  readonly pc: RTCPeerConnection;
  /** The SDP answer, with all candidates (we gather before answering, like the server). */
  readonly answer: string;
  /** Video frames received (receiver) or sent (sender) so far. */
  frames(): number;
  close(): void;
}

const WIDTH = 320;
const HEIGHT = 240;
const FPS = 15;

/** Creates the answer and waits (at most 2 s) until it carries all candidates. */
async function completeAnswer(pc: RTCPeerConnection): Promise<string> {
  await pc.setLocalDescription(await pc.createAnswer());
  if (pc.iceGatheringState !== 'complete') {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000);
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }
  return pc.localDescription!.sdp;
}

/**
 * Answers a recvonly (WHEP) offer by sending a moving test pattern on its video m-line. The
 * audio m-line is answered inactive, as a video-only stream would be.
 */
export async function answerWithTestPattern(offer: string): Promise<FakePeer> {
  const pc = new wrtc.RTCPeerConnection();
  const source = new wrtc.nonstandard.RTCVideoSource();
  const track = source.createTrack();
  await pc.setRemoteDescription({ type: 'offer', sdp: offer });
  // After setRemoteDescription, addTrack reuses the offer's video transceiver.
  pc.addTrack(track, new wrtc.MediaStream([track]));
  const answer = await completeAnswer(pc);

  const data = new Uint8Array(WIDTH * HEIGHT * 1.5);
  data.fill(128, WIDTH * HEIGHT);
  let sent = 0;
  const timer = setInterval(() => {
    // A bright vertical bar sweeping over a dark background: every frame differs.
    const bar = (sent * 8) % WIDTH;
    for (let y = 0; y < HEIGHT; y++) {
      for (let x = 0; x < WIDTH; x++) data[y * WIDTH + x] = Math.abs(x - bar) < 16 ? 235 : 40;
    }
    source.onFrame({ width: WIDTH, height: HEIGHT, data });
    sent++;
  }, 1000 / FPS);

  let closed = false;
  return {
    pc,
    answer,
    frames: () => sent,
    close: () => {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      track.stop();
      pc.close();
    },
  };
}

/** Answers a sendonly (WHIP) offer and counts the video frames it decodes. */
export async function answerAsReceiver(offer: string): Promise<FakePeer> {
  const pc = new wrtc.RTCPeerConnection();
  await pc.setRemoteDescription({ type: 'offer', sdp: offer });
  const answer = await completeAnswer(pc);
  let received = 0;
  const video = pc.getTransceivers().find((t) => t.receiver.track.kind === 'video');
  const sink = video ? new wrtc.nonstandard.RTCVideoSink(video.receiver.track) : undefined;
  sink?.addEventListener('frame', () => received++);

  let closed = false;
  return {
    pc,
    answer,
    frames: () => received,
    close: () => {
      if (closed) return;
      closed = true;
      sink?.stop();
      pc.close();
    },
  };
}
