/**
 * Full WHEP setups as a real viewer experiences them: a libdatachannel viewer (`NdcViewer`)
 * makes an offer, POSTs it, applies the answer, runs ICE and DTLS against the SFU, and waits
 * for the first RTP packet of a live OBS-like stream (H.264 + Opus from ffmpeg). Each session
 * is then closed with a DELETE. Several setups run at once to show what concurrency costs.
 */
import { NdcViewer } from '../peers/NdcViewer.ts';
import { ObsLikePublisher } from '../peers/ObsLikePublisher.ts';
import { runLoad, type LoadResult, type LoadTaskResult } from './loadDriver.ts';
import { assertLoopback } from './loopbackHttp.ts';

export interface IceSetupOptions {
  whepUrl: string;
  concurrency: number;
  maxSessions: number;
  maxDurationMs: number;
  /** Bound of each wait inside a setup (connect, first packet) and of a whole session. */
  sessionTimeoutMs: number;
}

/**
 * One viewer: `post` is `NdcViewer.start()` (offer, POST, answer applied), `connect` the time
 * from the start to the `connected` state (ICE + DTLS done), `first_rtp` the time from the
 * start to the first RTP packet (audio, which flows at once; the first video packet waits for
 * the publisher's next keyframe, which the `ttff` scenario measures). All three count from the
 * same instant.
 */
export async function iceSetup(whepUrl: string, timeoutMs: number): Promise<LoadTaskResult> {
  assertLoopback(whepUrl);
  const began = performance.now();
  const viewer = await NdcViewer.start({
    whepUrl,
    bindAddress: '127.0.0.1',
    httpTimeoutMs: timeoutMs,
  });
  const post = performance.now() - began;
  try {
    await viewer.waitConnected(timeoutMs);
    await viewer.waitForPackets('audio', 1, timeoutMs);
    const connect = viewer.stats().timeToConnectedMs;
    const firstRtp = viewer.timeToFirstPacketMs('audio');
    if (connect === undefined || firstRtp === undefined) {
      return { ok: false, status: 'no-timing', requests: 1 };
    }
    return {
      ok: true,
      status: 'connected',
      requests: 2,
      phases: { post, connect, first_rtp: firstRtp },
    };
  } finally {
    await viewer.close();
  }
}

export async function runIceSetups(options: IceSetupOptions): Promise<LoadResult> {
  const { whepUrl, concurrency, maxSessions, maxDurationMs, sessionTimeoutMs } = options;
  return runLoad({
    concurrency,
    maxTasks: maxSessions,
    maxDurationMs,
    // Connect and first packet each have sessionTimeoutMs; the close gets the same again.
    taskTimeoutMs: sessionTimeoutMs * 3,
    task: () => iceSetup(whepUrl, sessionTimeoutMs),
  });
}

/**
 * Starts the OBS-like publisher the ICE viewers watch: small picture and bitrate, so the
 * ffmpeg encoder takes little of the CPU the server under test needs.
 */
export async function startIcePublisher(
  whipUrl: string,
  streamKey: string,
  timeoutMs: number,
): Promise<ObsLikePublisher> {
  assertLoopback(whipUrl);
  const publisher = await ObsLikePublisher.start({
    whipUrl,
    streamKey,
    width: 320,
    height: 180,
    fps: 30,
    videoBitrateKbps: 400,
    audioBitrateKbps: 64,
    bindAddress: '127.0.0.1',
    maxDurationSec: 600,
  });
  try {
    await publisher.waitConnected(timeoutMs);
    return publisher;
  } catch (error) {
    await publisher.close();
    throw error;
  }
}

/**
 * A viewer that stays connected while the measured ones come and go, so each measured setup
 * joins a watched stream (the edge already pulls it from the ingest) instead of being the
 * first or last viewer, as in the HTTP-only WHEP runs.
 */
export async function startAnchorViewer(whepUrl: string, timeoutMs: number): Promise<NdcViewer> {
  assertLoopback(whepUrl);
  const viewer = await NdcViewer.start({
    whepUrl,
    bindAddress: '127.0.0.1',
    httpTimeoutMs: timeoutMs,
  });
  try {
    await viewer.waitConnected(timeoutMs);
    await viewer.waitForPackets('audio', 1, timeoutMs);
    return viewer;
  } catch (error) {
    await viewer.close();
    throw error;
  }
}
