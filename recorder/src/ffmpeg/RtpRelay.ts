/**
 * A UDP relay between one mediasoup PlainTransport and ffmpeg's port pair for one track.
 *
 * Why not let mediasoup send to ffmpeg directly:
 * - ffmpeg needs ~0.5 s to start and bind its ports; a broadcast's first keyframe (OBS sends
 *   one only every few seconds) would be lost in that window. The relay takes the packets
 *   from the first one on and hands them to ffmpeg, in order, once ffmpeg listens.
 * - ffmpeg cannot be ended cleanly once its input went silent: a SIGINT only takes effect
 *   between packets, and a second one aborts the blocked read *and* loses the segment in
 *   progress. After the SIGINT the relay sends one more packet (`wake`) so ffmpeg's read
 *   returns, it sees the signal and writes its last segment and ENDLIST.
 *
 * RTCP goes both ways: mediasoup's sender reports to ffmpeg (A/V sync), ffmpeg's receiver
 * reports, NACKs and FIRs back to mediasoup.
 */
import dgram from 'node:dgram';

/** Packets kept while ffmpeg starts: about 10 s of a 3 Mbit/s stream. */
const MAX_BUFFERED = 3000;

export class RtpRelay {
  readonly #rtp: dgram.Socket;
  readonly #rtcp: dgram.Socket;
  /** ffmpeg's ports, once it listens. */
  #target: { rtp: number; rtcp: number } | undefined;
  /** mediasoup's RTCP address (where ffmpeg's feedback goes). */
  #sourceRtcp: { port: number } | undefined;
  readonly #buffered: Buffer[] = [];
  #lastRtp: Buffer | undefined;
  #closed = false;
  /** RTP packets relayed to ffmpeg. */
  packets = 0;

  private constructor(rtp: dgram.Socket, rtcp: dgram.Socket) {
    this.#rtp = rtp;
    this.#rtcp = rtcp;
    rtp.on('message', (packet) => this.#onRtp(packet));
    rtcp.on('message', (packet, from) => this.#onRtcp(packet, from.port));
    rtp.on('error', () => undefined);
    rtcp.on('error', () => undefined);
  }

  static async open(): Promise<RtpRelay> {
    const bind = () =>
      new Promise<dgram.Socket>((resolve, reject) => {
        const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
        socket.once('error', reject);
        socket.bind(0, '127.0.0.1', () => {
          socket.off('error', reject);
          resolve(socket);
        });
      });
    const rtp = await bind();
    const rtcp = await bind().catch((error: unknown) => {
      rtp.close();
      throw error;
    });
    return new RtpRelay(rtp, rtcp);
  }

  /** Where mediasoup sends this track's RTP and RTCP. */
  get ports(): { rtp: number; rtcp: number } {
    return { rtp: this.#rtp.address().port, rtcp: this.#rtcp.address().port };
  }

  /** mediasoup's RTCP port (the PlainTransport's `rtcpTuple.localPort`). */
  setSource(rtcpPort: number): void {
    this.#sourceRtcp = { port: rtcpPort };
  }

  /** ffmpeg listens now: the packets so far go to it, in order, then live ones. */
  start(target: { rtp: number; rtcp: number }): void {
    this.#target = target;
    for (const packet of this.#buffered.splice(0)) this.#send(this.#rtp, packet, target.rtp);
  }

  /**
   * One more RTP packet for ffmpeg after it was asked to stop, so that its blocked read
   * returns. H.264 gets an access unit delimiter (a NAL unit of its own, harmless); other
   * codecs a copy of the last packet (Opus: a repeated 20 ms frame, the very last one).
   * Returns false when there is nothing to send it.
   */
  wake(codec: string): boolean {
    const last = this.#lastRtp;
    if (!last || !this.#target || this.#closed) return false;
    const headerLength = rtpHeaderLength(last);
    if (headerLength === undefined) return false;
    const header = Buffer.from(last.subarray(0, headerLength));
    header[0] &= ~0x20; // no padding
    header.writeUInt16BE((last.readUInt16BE(2) + 1) & 0xffff, 2);
    const payload = /h264/i.test(codec)
      ? Buffer.from([0x09, 0xf0]) // NAL type 9: access unit delimiter
      : last.subarray(
          headerLength,
          last.length - ((last[0] & 0x20) !== 0 ? last[last.length - 1] : 0),
        );
    this.#send(this.#rtp, Buffer.concat([header, payload]), this.#target.rtp);
    return true;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#rtp.close();
    this.#rtcp.close();
  }

  #onRtp(packet: Buffer): void {
    if (this.#closed) return;
    this.#lastRtp = packet;
    if (this.#target) this.#send(this.#rtp, packet, this.#target.rtp);
    else if (this.#buffered.length < MAX_BUFFERED) this.#buffered.push(packet);
  }

  #onRtcp(packet: Buffer, fromPort: number): void {
    if (this.#closed || !this.#target) return;
    if (fromPort === this.#target.rtcp) {
      // ffmpeg's feedback (receiver reports, NACK, FIR) back to mediasoup.
      if (this.#sourceRtcp) this.#send(this.#rtcp, packet, this.#sourceRtcp.port);
    } else {
      this.#send(this.#rtcp, packet, this.#target.rtcp);
    }
  }

  #send(socket: dgram.Socket, packet: Buffer, port: number): void {
    if (socket === this.#rtp) this.packets += 1;
    socket.send(packet, port, '127.0.0.1');
  }
}

/** Length of an RTP packet's header (fixed part, CSRCs and extension); undefined if malformed. */
function rtpHeaderLength(packet: Buffer): number | undefined {
  if (packet.length < 12 || packet[0] >> 6 !== 2) return undefined;
  let length = 12 + 4 * (packet[0] & 0x0f);
  if ((packet[0] & 0x10) !== 0) {
    if (packet.length < length + 4) return undefined;
    length += 4 + 4 * packet.readUInt16BE(length + 2);
  }
  return length <= packet.length ? length : undefined;
}
