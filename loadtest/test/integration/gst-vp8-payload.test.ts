/**
 * What Debian's GStreamer really sends with the pipeline GstVp8Publisher runs: with the
 * default `picture-id-mode=none` no packet's VP8 payload descriptor carries a PictureID, with
 * `15-bit` every one does (so the check tells them apart), and keyframes come on the
 * `keyframe-max-dist` interval, since nothing can ask gst-launch-1.0 for one.
 */
import type dgram from 'node:dgram';
import { createLogger } from '@wisp/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  gstVp8PipelineArgs,
  isRtp,
  isVp8KeyframePayload,
  parseVp8PayloadDescriptor,
  rtpPayload,
  rtpPayloadType,
  rtpTimestamp,
  waitUntil,
  type Vp8PictureIdMode,
} from '../../src/peers/index.ts';
import { spawnMediaTool, stopMediaTool, type MediaToolProcess } from '../../src/peers/mediaTool.ts';
import { bindUdp } from '../../src/peers/ndc.ts';

const logger = createLogger('gst-vp8-payload.test');
const running: { gst: MediaToolProcess; socket: dgram.Socket }[] = [];

afterEach(async () => {
  for (const { gst, socket } of running.splice(0)) {
    await stopMediaTool(gst);
    socket.close();
  }
});

/** Runs the pipeline for `frames` frames and returns every RTP packet it sent. */
async function capture(pictureIdMode: Vp8PictureIdMode, frames: number): Promise<Buffer[]> {
  const socket = await bindUdp();
  const packets: Buffer[] = [];
  socket.on('message', (packet) => {
    if (isRtp(packet)) packets.push(packet);
  });
  const args = gstVp8PipelineArgs({
    port: socket.address().port,
    width: 320,
    height: 180,
    fps: 30,
    keyframeMaxDist: 10,
    targetBitrateKbps: 300,
    pictureIdMode,
    maxDurationSec: frames / 30,
    mtu: 1200,
  });
  const gst = spawnMediaTool('gst-launch-1.0', args, logger);
  running.push({ gst, socket });
  const { code } = await gst.exited;
  expect(code, gst.stderrTail()).toBe(0);
  // The last datagrams may still be in the socket's queue when the process exits.
  const frameTimestamps = () => new Set(packets.map(rtpTimestamp)).size;
  await waitUntil(() => frameTimestamps() >= frames, 2000, `${frames} frames`).catch(
    () => undefined,
  );
  return packets;
}

describe('GStreamer rtpvp8pay payload descriptors', () => {
  it('carry no PictureID with the default picture-id-mode=none', async () => {
    const packets = await capture('none', 30);
    expect(new Set(packets.map(rtpTimestamp)).size).toBeGreaterThanOrEqual(29);
    const descriptors = packets.map((packet) => parseVp8PayloadDescriptor(rtpPayload(packet)));
    expect(descriptors.every((d) => d !== undefined)).toBe(true);
    expect(descriptors.filter((d) => d?.pictureId !== undefined)).toEqual([]);
    expect(packets.every((packet) => rtpPayloadType(packet) === 96)).toBe(true);
    // Frames 0, 10 and 20 are keyframes (keyframe-max-dist=10).
    const keyframes = packets.filter((packet) => isVp8KeyframePayload(rtpPayload(packet)));
    expect(keyframes.length).toBeGreaterThanOrEqual(3);
    expect(keyframes.length).toBeLessThan(packets.length / 2);
  });

  it('carry a 15-bit PictureID with picture-id-mode=15-bit, one per frame', async () => {
    const packets = await capture('15-bit', 30);
    const descriptors = packets.map((packet) => parseVp8PayloadDescriptor(rtpPayload(packet)));
    expect(descriptors.every((d) => d?.pictureId !== undefined)).toBe(true);
    const perFrame = new Map<number, number>();
    packets.forEach((packet, i) =>
      perFrame.set(rtpTimestamp(packet), descriptors[i]?.pictureId ?? -1),
    );
    const ids = [...perFrame.values()];
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBe((ids[i - 1] + 1) & 0x7fff);
    expect(packets.filter((packet) => isVp8KeyframePayload(rtpPayload(packet))).length).toBe(3);
  });
});
