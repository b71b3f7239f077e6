/**
 * The one place that loads `@roamhq/wrtc` (libwebrtc in Node). It is a CommonJS module whose
 * exports Node cannot see as named ESM exports, so it is imported whole and destructured.
 * Its types reuse the DOM lib's WebRTC types.
 */
import wrtc, { type nonstandard as wrtcNonstandard } from '@roamhq/wrtc';
import { InvalidStateError } from './errors.ts';
import { withTimeout } from './timing.ts';

export const { RTCPeerConnection, RTCRtpSender, nonstandard } = wrtc;

export type RTCVideoSource = wrtcNonstandard.RTCVideoSource;
export type RTCAudioSource = wrtcNonstandard.RTCAudioSource;
export type RTCAudioData = wrtcNonstandard.RTCAudioData;

/** An I420 frame as `nonstandard.RTCVideoSource.onFrame` takes it and sinks deliver it. */
export interface I420Frame {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * Resolves when ICE gathering is complete, or after `timeoutMs` with whatever was gathered:
 * a WHIP/WHEP client without trickle sends the candidates it has by then (host candidates
 * are enough on one machine).
 */
export async function waitForIceGathering(pc: RTCPeerConnection, timeoutMs: number): Promise<void> {
  let listener: (() => void) | undefined;
  try {
    await withTimeout(
      new Promise<void>((resolve) => {
        listener = () => {
          if (pc.iceGatheringState === 'complete') resolve();
        };
        pc.addEventListener('icegatheringstatechange', listener);
        listener();
      }),
      timeoutMs,
      'ICE gathering',
    );
  } catch {
    // Not complete in time: the caller sends what has been gathered so far.
  } finally {
    if (listener) pc.removeEventListener('icegatheringstatechange', listener);
  }
}

/** The local description after gathering, which is what a non-trickling client sends. */
export function localSdp(pc: RTCPeerConnection): string {
  const sdp = pc.localDescription?.sdp;
  if (!sdp) throw new Error('The peer connection has no local description');
  return sdp;
}

/** Resolves when `connectionState` is `connected`; rejects on failed/closed or timeout. */
export async function waitForConnected(
  pc: RTCPeerConnection,
  timeoutMs: number,
  what: string,
): Promise<void> {
  let listener: (() => void) | undefined;
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          const state = pc.connectionState;
          if (state === 'connected') resolve();
          if (state === 'failed' || state === 'closed') {
            reject(new InvalidStateError(`Peer connection is ${state}`));
          }
        };
        listener = check;
        pc.addEventListener('connectionstatechange', listener);
        check();
      }),
      timeoutMs,
      what,
    );
  } finally {
    if (listener) pc.removeEventListener('connectionstatechange', listener);
  }
}
