/**
 * The recorder as its own process in a real cluster (LocalCluster: front door, ingest, edge,
 * recorder, redis-server), storing in S3 (a real s3rver): the stream reaches the recorder
 * over a network pipe like it reaches an edge, segments go to the bucket while live, and the
 * front door serves the VOD from the bucket. Then the recorder is SIGKILLed mid-broadcast
 * and restarted: what it wrote stays playable and the broadcast continues in a new part.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordingView } from '../../src/RecordingService.ts';
import { ObsLikePublisher } from '@wisp/loadtest';
import { LocalCluster } from '../../../server/src/cluster/LocalCluster.ts';
import { S3Storage } from '../../src/storage/index.ts';
import { decodeAll, decodeSoFar, eventually, ffprobe } from '../support/probe.ts';
import { startS3Server, type RunningS3Server } from '../support/s3.ts';

interface CreatedStream {
  id: string;
  whipUrl: string;
  streamKey: string;
}

let s3: RunningS3Server;
let cluster: LocalCluster;

beforeAll(async () => {
  s3 = await startS3Server();
  cluster = await LocalCluster.start({
    edges: 1,
    recorders: 1,
    output: 'collect',
    env: {
      STORAGE: 's3',
      S3_BUCKET: s3.bucket,
      S3_PREFIX: 'recordings/',
      S3_ENDPOINT: s3.endpoint,
      S3_REGION: s3.region,
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      // A dead store fails a finished recording after 3 s here (default 30 s).
      RECORDING_UPLOAD_TIMEOUT_MS: '3000',
    },
  });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  await s3?.stop();
});

async function createStream(name: string): Promise<CreatedStream> {
  const response = await cluster.api('/api/streams', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as CreatedStream;
}

async function latest(streamId: string): Promise<RecordingView | undefined> {
  const response = await cluster.api(`/api/streams/${streamId}/recordings`);
  return ((await response.json()) as { recordings: RecordingView[] }).recordings[0];
}

async function waitStatus(streamId: string, status: string, timeoutMs = 15_000) {
  await eventually(async () => (await latest(streamId))?.status === status, timeoutMs, status);
  return (await latest(streamId))!;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('recorder node with S3 storage', () => {
  it('records through a pipe into the bucket; the front door serves it', async () => {
    const stream = await createStream('s3');
    const publisher = await ObsLikePublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
    });
    await publisher.waitConnected();
    const live = await waitStatus(stream.id, 'recording');
    // Uploaded while live: the EVENT playlist is in the bucket before the end.
    await eventually(async () => (await fetch(live.hlsUrl)).status === 200, 20_000, 'playlist');
    await sleep(6000);
    await publisher.close();
    const done = await waitStatus(stream.id, 'ready');
    const storage = new S3Storage({ ...s3.storageOptions, prefix: 'recordings/' });
    const keys = await storage.list(done.id);
    await storage.close();
    expect(keys).toContain(`${done.id}/index.m3u8`);
    expect(keys).toContain(`${done.id}/p1-init.mp4`);
    expect(keys).toContain(`${done.id}/poster.jpg`);
    expect(keys.filter((k) => k.endsWith('.m4s')).length).toBeGreaterThan(1);
    const probe = await ffprobe(done.hlsUrl);
    expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    const decoded = await decodeAll(done.hlsUrl);
    expect(decoded.errors).toBe('');
    console.log(`S3: media ${decoded.seconds} s of a ${done.durationSeconds} s broadcast`);
    expect(Math.abs(decoded.seconds - done.durationSeconds)).toBeLessThan(4);
    const poster = await fetch(done.posterUrl);
    expect(poster.headers.get('content-type')).toBe('image/jpeg');
  });

  it('survives a SIGKILL of the recorder: the partial recording plays, a new part follows', async () => {
    const stream = await createStream('kill');
    const publisher = await ObsLikePublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
    });
    try {
      await publisher.waitConnected();
      const live = await waitStatus(stream.id, 'recording');
      // Two segments stored, then the crash in the middle of the third.
      await eventually(
        async () => {
          const text = await (await fetch(live.hlsUrl)).text();
          return (text.match(/\.m4s/g) ?? []).length >= 2;
        },
        30_000,
        'two stored segments',
      );
      await sleep(2000);
      const recorder = cluster.node('recorder-1');
      const killedAt = Date.now();
      await recorder.kill('SIGKILL');
      // What was stored before the crash still plays while the recorder is down.
      const partial = await decodeSoFar(live.hlsUrl);
      expect(partial.errors).toBe('');
      expect(partial.seconds).toBeGreaterThan(7);
      await cluster.startNode(recorder.spec);
      await eventually(async () => (await latest(stream.id))?.parts === 2, 30_000, 'part 2');
      console.log(`recorder back and recording ${Date.now() - killedAt} ms after the SIGKILL`);
      await sleep(6000);
    } finally {
      await publisher.close();
    }
    const done = await waitStatus(stream.id, 'ready', 20_000);
    expect(done.parts).toBe(2);
    const text = await (await fetch(done.hlsUrl)).text();
    expect(text).toContain('#EXT-X-ENDLIST');
    expect(text.match(/#EXT-X-DISCONTINUITY/g)).toHaveLength(1);
    const decoded = await decodeAll(done.hlsUrl);
    expect(decoded.errors).toBe('');
    const lost = done.durationSeconds - decoded.seconds;
    console.log(
      `SIGKILL: media ${decoded.seconds} s of a ${done.durationSeconds} s broadcast (${lost.toFixed(1)} s lost)`,
    );
    // The segment in progress (4 s) plus the restart.
    expect(lost).toBeLessThan(15);
  });

  it('loses nothing while the store is down for a while mid-broadcast', async () => {
    const stream = await createStream('s3 outage');
    const publisher = await ObsLikePublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
    });
    try {
      await publisher.waitConnected();
      await waitStatus(stream.id, 'recording');
      await sleep(2000);
      await s3.down();
      await sleep(6000);
      await s3.up();
      await sleep(3000);
      // The broadcast never noticed.
      expect(publisher.connectionState).toBe('connected');
    } finally {
      await publisher.close();
    }
    const done = await waitStatus(stream.id, 'ready', 20_000);
    const decoded = await decodeAll(done.hlsUrl);
    expect(decoded.errors).toBe('');
    console.log(`S3 outage: media ${decoded.seconds} s of a ${done.durationSeconds} s broadcast`);
    expect(Math.abs(decoded.seconds - done.durationSeconds)).toBeLessThan(4);
  });

  it('fails the recording with the reason when the store is dead, not the broadcast', async () => {
    const stream = await createStream('s3 dead');
    const publisher = await ObsLikePublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
    });
    try {
      await publisher.waitConnected();
      await waitStatus(stream.id, 'recording');
      await s3.down();
      await sleep(5000);
      const view = (await (await cluster.api(`/api/streams/${stream.id}`)).json()) as {
        live: boolean;
      };
      expect(view.live).toBe(true);
      expect(publisher.connectionState).toBe('connected');
      await publisher.close();
      const failed = await waitStatus(stream.id, 'failed', 20_000);
      console.log(`dead store: ${failed.error}`);
      expect(failed.error).toMatch(/stor|upload|flush|ECONNREFUSED|connect/i);
    } finally {
      await publisher.close();
      await s3.up();
    }
  });
});
