/**
 * A one-publisher, many-viewer relay on libwebrtc, standing in for the server in
 * peer-to-peer tests. Publishers and viewers both send offers (as WHIP and WHEP clients do),
 * so two of them cannot be connected directly: the relay answers the publisher, takes its
 * tracks, and answers each viewer with those tracks added. libwebrtc decodes and re-encodes
 * on the way (an SFU would not), which is fine for checking that media flows end to end.
 */
import type { SignalFn } from '../../src/peers/index.ts';
import { waitUntil } from '../../src/peers/index.ts';
import { RTCPeerConnection, localSdp, waitForIceGathering } from '../../src/peers/wrtc.ts';

export class WrtcRelay {
  readonly #connections: RTCPeerConnection[] = [];
  readonly #tracks: MediaStreamTrack[] = [];
  #expectedTracks = 0;

  /** Answers a publisher's offer; the relay keeps the tracks it receives. */
  readonly publisherSignal: SignalFn = async (offerSdp) => {
    const pc = this.#newConnection();
    this.#expectedTracks = (offerSdp.match(/^m=(audio|video) /gm) ?? []).length;
    pc.addEventListener('track', (event) => this.#tracks.push(event.track));
    await pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
    return answer(pc);
  };

  /**
   * Answers a viewer's offer with the publisher's tracks. Waits (bounded) until the publisher's
   * tracks exist, so a viewer may be started right after the publisher.
   */
  readonly viewerSignal: SignalFn = async (offerSdp) => {
    await waitUntil(
      () => this.#expectedTracks > 0 && this.#tracks.length >= this.#expectedTracks,
      5000,
      'the publisher tracks at the relay',
    );
    const pc = this.#newConnection();
    // Tracks added before the remote offer are matched to its recvonly m-lines by kind
    // (JSEP 5.10), so the answer says sendonly without touching any RTCRtpSender.
    for (const track of this.#tracks) pc.addTrack(track);
    await pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
    return answer(pc);
  };

  /** Connection state of each relay leg: the publisher's first, then one per viewer. */
  connectionStates(): RTCPeerConnectionState[] {
    return this.#connections.map((pc) => pc.connectionState);
  }

  close(): void {
    for (const pc of this.#connections) pc.close();
  }

  #newConnection(): RTCPeerConnection {
    const pc = new RTCPeerConnection({ iceServers: [] });
    this.#connections.push(pc);
    return pc;
  }
}

/** Creates the answer and returns it once gathering is complete (no trickle in WHIP/WHEP). */
async function answer(pc: RTCPeerConnection): Promise<string> {
  await pc.setLocalDescription(await pc.createAnswer());
  await waitForIceGathering(pc, 5000);
  return localSdp(pc);
}
