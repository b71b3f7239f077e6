/**
 * recording.ready and recording.failed: sent once, by the recorder that finalized the
 * recording, with the recording's id, playable hlsUrl and duration. A real broadcast
 * (libwebrtc publisher, real ffmpeg) becomes ready; one whose recorder has no usable ffmpeg
 * fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WrtcPublisher } from '@wisp/loadtest';
import { startPlatform, type TestPlatform } from '../support/platform.ts';
import { WebhookReceiver } from '../support/webhookReceiver.ts';

const SECRET = `whsec_${Buffer.from('wisp recording hook test secret').toString('base64')}`;

let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await WebhookReceiver.start(SECRET);
});

afterAll(async () => {
  await receiver?.stop();
});

async function broadcast(t: TestPlatform, seconds: number): Promise<string> {
  const stream = await t.createStream('recorded');
  const publisher = await WrtcPublisher.start({
    whipUrl: stream.whipUrl,
    streamKey: stream.streamKey,
  });
  try {
    await publisher.waitConnected(10_000);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  } finally {
    await publisher.close();
  }
  return stream.id;
}

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    RECORDINGS: 'on',
    RECORDING_SEGMENT_SECONDS: '1',
    WEBHOOK_URLS: receiver.url,
    WEBHOOK_SECRET: SECRET,
    MEDIASOUP_WORKERS: '1',
    ...extra,
  };
}

describe('recording webhooks', () => {
  it('recording.ready once the broadcast is recorded, with its id, hlsUrl and duration', async () => {
    const t = await startPlatform(env());
    try {
      const streamId = await broadcast(t, 4);
      const ready = await receiver.waitFor(
        'recording.ready',
        () => receiver.streamEvents(streamId).find((e) => e.type === 'recording.ready'),
        30_000,
      );
      const { recordings } = (await (
        await t.api(`/api/streams/${streamId}/recordings`)
      ).json()) as { recordings: { id: string; hlsUrl: string; durationSeconds: number }[] };
      expect(recordings).toHaveLength(1);
      const [recording] = recordings;
      expect(ready.data).toMatchObject({
        streamId,
        recordingId: recording.id,
        kind: 'broadcast',
        hlsUrl: recording.hlsUrl,
        posterUrl: expect.stringContaining(`/vod/${recording.id}/poster.jpg`),
        durationSeconds: recording.durationSeconds,
        parts: 1,
      });
      expect(ready.data.durationSeconds).toBeGreaterThan(3);
      expect(ready.id).toBe(`msg_${recording.id}_ready`);
      const playlist = await fetch(ready.data.hlsUrl as string);
      expect(playlist.status).toBe(200);
      expect(await playlist.text()).toContain('#EXT-X-ENDLIST');
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(
        types(receiver.streamEvents(streamId)).filter((type) => type.startsWith('recording.')),
      ).toEqual(['recording.ready']);
      expect(types(receiver.streamEvents(streamId))).toEqual([
        'stream.started',
        'stream.ended',
        'recording.ready',
      ]);
    } finally {
      await t.stop();
    }
  });

  it('recording.failed with the reason when the recorder cannot record', async () => {
    const t = await startPlatform(env({ FFMPEG_PATH: '/nonexistent/ffmpeg' }));
    try {
      const streamId = await broadcast(t, 1);
      const failed = await receiver.waitFor(
        'recording.failed',
        () => receiver.streamEvents(streamId).find((e) => e.type === 'recording.failed'),
        30_000,
      );
      expect(failed.data).toMatchObject({
        streamId,
        recordingId: expect.stringMatching(/^rec_/),
        kind: 'broadcast',
        error: expect.any(String),
      });
      const recording = (await (
        await t.api(`/api/recordings/${failed.data.recordingId as string}`)
      ).json()) as { status: string; error: string };
      expect(recording.status).toBe('failed');
      expect(failed.data.error).toBe(recording.error);
    } finally {
      await t.stop();
    }
  });
});

function types(events: { type: string }[]): string[] {
  return events.map((e) => e.type);
}
