/**
 * Turning one WHIP/WHEP client's offer into the answer for the other (the direct, serverless
 * latency path), with offers made by libwebrtc itself. No connection is made here; the
 * integration test connects real peers.
 */
import sdpTransform from 'sdp-transform';
import { afterEach, describe, expect, it } from 'vitest';
import { directSignals, offerAsAnswer } from '../../src/latency/directSignals.ts';
import { RTCPeerConnection, RTCRtpSender } from '../../src/peers/wrtc.ts';

const connections: RTCPeerConnection[] = [];
afterEach(() => {
  for (const pc of connections.splice(0)) pc.close();
});

/** An offer like WrtcPublisher's (sendonly, VP8 + RTX only) or WrtcViewer's (recvonly). */
async function offer(
  direction: 'sendonly' | 'recvonly',
): Promise<{ pc: RTCPeerConnection; sdp: string }> {
  const pc = new RTCPeerConnection({ iceServers: [] });
  connections.push(pc);
  const transceiver = pc.addTransceiver('video', { direction });
  if (direction === 'sendonly') {
    transceiver.setCodecPreferences(
      (RTCRtpSender.getCapabilities('video')?.codecs ?? []).filter(
        (c) => c.mimeType === 'video/VP8' || c.mimeType === 'video/rtx',
      ),
    );
  }
  const description = await pc.createOffer();
  await pc.setLocalDescription(description);
  return { pc, sdp: description.sdp! };
}

describe('offerAsAnswer', () => {
  it('gives each peer an answer with a definite DTLS role and only shared codecs', async () => {
    const publisher = await offer('sendonly');
    const viewer = await offer('recvonly');

    const toPublisher = offerAsAnswer(viewer.sdp, 'passive', publisher.sdp);
    const toViewer = offerAsAnswer(publisher.sdp, 'active', viewer.sdp);
    const publisherVideo = sdpTransform.parse(publisher.sdp).media[0];
    const answeredVideo = sdpTransform.parse(toPublisher).media[0];
    expect(answeredVideo.setup).toBe('passive');
    expect(answeredVideo.direction).toBe('recvonly');
    expect(answeredVideo.rtp.map((r) => r.codec).sort()).toEqual(
      publisherVideo.rtp.map((r) => r.codec).sort(),
    );
    expect(sdpTransform.parse(toViewer).media[0]).toMatchObject({
      setup: 'active',
      direction: 'sendonly',
    });

    // libwebrtc accepts both as answers to the offers it made.
    await publisher.pc.setRemoteDescription({ type: 'answer', sdp: toPublisher });
    await viewer.pc.setRemoteDescription({ type: 'answer', sdp: toViewer });
    expect(publisher.pc.signalingState).toBe('stable');
    expect(viewer.pc.signalingState).toBe('stable');
  });

  it('refuses offers whose m-lines do not line up', async () => {
    const publisher = await offer('sendonly');
    const pc = new RTCPeerConnection({ iceServers: [] });
    connections.push(pc);
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
    const both = (await pc.createOffer()).sdp!;
    expect(() => offerAsAnswer(both, 'passive', publisher.sdp)).toThrow(/m-lines/);
  });
});

describe('directSignals', () => {
  it("hands each side the other one's offer, and times out without a partner", async () => {
    const publisher = await offer('sendonly');
    const viewer = await offer('recvonly');
    const signals = directSignals(2000);
    const [toPublisher, toViewer] = await Promise.all([
      signals.publisherSignal(publisher.sdp),
      signals.viewerSignal(viewer.sdp),
    ]);
    expect(toPublisher).toContain('a=setup:passive');
    expect(toViewer).toContain('a=setup:active');

    const lonely = directSignals(50);
    await expect(lonely.publisherSignal(publisher.sdp)).rejects.toThrow(/viewer's offer/);
  });
});
