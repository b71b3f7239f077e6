/**
 * Free UDP port pairs (RTP on an even port, RTCP on the next) on loopback for ffmpeg's SDP
 * input. ffmpeg binds the ports itself, so they are probed and released: a port another
 * process takes in between makes ffmpeg fail to bind, which the part reports and retries.
 */
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';

/** Below mediasoup's default RTC range (40000-49999) and the usual ephemeral range. */
const MIN_PORT = 20_000;
const MAX_PORT = 29_998;
const taken = new Set<number>();

export async function allocatePortPair(): Promise<{ rtp: number; rtcp: number; release(): void }> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const rtp = MIN_PORT + 2 * randomInt(0, (MAX_PORT - MIN_PORT) / 2);
    if (taken.has(rtp)) continue;
    if ((await canBind(rtp)) && (await canBind(rtp + 1))) {
      taken.add(rtp);
      return { rtp, rtcp: rtp + 1, release: () => taken.delete(rtp) };
    }
  }
  throw new Error('no free UDP port pair for ffmpeg');
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });
}
