/**
 * A receive-only libdatachannel peer that plays the server's role in peer-to-peer tests: it
 * answers an offer (with its candidates inside, since nothing trickles) and counts the RTP
 * packets that arrive per m-line, SSRC and RID.
 */
import { PeerConnection, type Track } from 'node-datachannel';
import sdpTransform from 'sdp-transform';
import type { SignalFn } from '../../src/peers/index.ts';
import {
  isH264KeyframePayload,
  isRtp,
  readHeaderExtension,
  rtpPayload,
  rtpPayloadType,
  rtpSequenceNumber,
  rtpSsrc,
  waitUntil,
} from '../../src/peers/index.ts';

export interface MidCounters {
  packets: number;
  bytes: number;
  keyframePackets: number;
  payloadTypes: Set<number>;
  packetsBySsrc: Map<number, number>;
  packetsByRid: Map<string, number>;
  firstPacketAt: number | undefined;
}

export class NdcAnswerer {
  readonly #pc: PeerConnection;
  readonly #tracks: Track[] = [];
  readonly #counters = new Map<string, MidCounters>();
  readonly #lastSequence = new Map<number, number>();
  #ridExtensionId: number | undefined;
  #offer: string | undefined;
  #answer: string | undefined;

  constructor(options: { bindAddress?: string } = {}) {
    this.#pc = new PeerConnection('NdcAnswerer', {
      iceServers: [],
      ...(options.bindAddress ? { bindAddress: options.bindAddress } : {}),
    });
    this.#pc.onTrack((track) => this.#onTrack(track));
  }

  /** The answering side of an in-process exchange, to pass as a peer's `signal` option. */
  readonly signal: SignalFn = async (offerSdp) => {
    this.#offer = offerSdp;
    const parsed = sdpTransform.parse(offerSdp);
    this.#ridExtensionId = parsed.media
      .flatMap((media) => media.ext ?? [])
      .find((ext) => ext.uri === 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id')?.value;
    this.#pc.setRemoteDescription(offerSdp, 'offer');
    await waitUntil(() => this.#pc.gatheringState() === 'complete', 5000, 'answerer ICE gathering');
    const answer = this.#pc.localDescription();
    if (!answer) throw new Error('The answerer produced no local description');
    this.#answer = answer.sdp;
    return answer.sdp;
  };

  get offerSdp(): string | undefined {
    return this.#offer;
  }

  get answerSdp(): string | undefined {
    return this.#answer;
  }

  get state(): string {
    return this.#pc.state();
  }

  counters(mid: string): MidCounters | undefined {
    return this.#counters.get(mid);
  }

  /** The highest sequence number seen on an SSRC (no wrap handling: tests are short). */
  lastSequenceNumber(ssrc: number): number | undefined {
    return this.#lastSequence.get(ssrc);
  }

  /** Sends an RTCP packet (e.g. a NACK) back to the offerer on the m-line `mid`. */
  sendRtcp(mid: string, packet: Buffer): boolean {
    const track = this.#tracks.find((t) => t.mid() === mid);
    return track?.sendMessageBinary(packet) ?? false;
  }

  close(): void {
    for (const track of this.#tracks) track.close();
    this.#pc.close();
  }

  #onTrack(track: Track): void {
    this.#tracks.push(track);
    const mid = track.mid();
    const counters: MidCounters = {
      packets: 0,
      bytes: 0,
      keyframePackets: 0,
      payloadTypes: new Set(),
      packetsBySsrc: new Map(),
      packetsByRid: new Map(),
      firstPacketAt: undefined,
    };
    this.#counters.set(mid, counters);
    track.onMessage((message) => {
      if (!isRtp(message)) return;
      counters.firstPacketAt ??= Date.now();
      counters.packets++;
      counters.bytes += message.length;
      counters.payloadTypes.add(rtpPayloadType(message));
      const ssrc = rtpSsrc(message);
      counters.packetsBySsrc.set(ssrc, (counters.packetsBySsrc.get(ssrc) ?? 0) + 1);
      this.#lastSequence.set(
        ssrc,
        Math.max(this.#lastSequence.get(ssrc) ?? 0, rtpSequenceNumber(message)),
      );
      if (this.#ridExtensionId !== undefined) {
        const rid = readHeaderExtension(message, this.#ridExtensionId);
        if (rid) {
          const key = Buffer.from(rid).toString('utf8');
          counters.packetsByRid.set(key, (counters.packetsByRid.get(key) ?? 0) + 1);
        }
      }
      if (isH264KeyframePayload(rtpPayload(message))) counters.keyframePackets++;
    });
  }
}
