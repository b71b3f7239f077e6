/**
 * Broadcasts recorded end to end, with real parts only: the platform with its mediasoup
 * worker and the recorder's ffmpeg, OBS-like publishers (H.264 + Opus through
 * libdatachannel: the copy path) and libwebrtc publishers (VP8: the encode path), and real
 * ffprobe/ffmpeg reading `hlsUrl` over HTTP.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordingView } from '../../src/RecordingService.ts';
import { ObsLikePublisher, WrtcPublisher } from '@wisp/loadtest';
import { startPlatform, type TestPlatform } from '../../../server/test/support/platform.ts';
import { decodeAll, eventually, ffprobe, flashesAndBeeps, regionColor } from '../support/probe.ts';

let t: TestPlatform;

beforeAll(async () => {
  t = await startPlatform({ RECORDINGS: 'on' });
});

afterAll(async () => {
  await t?.stop();
});

/** Flashes and beeps of the `sync` pattern line up within 100 ms in the recording. */
async function expectInSync(url: string): Promise<void> {
  const { flashes, beeps } = await flashesAndBeeps(url);
  expect(flashes.length).toBeGreaterThan(1);
  const offsets = flashes
    .map((f) => beeps.reduce((best, b) => (Math.abs(b - f) < Math.abs(best) ? b - f : best), 99))
    .filter((o) => Math.abs(o) < 1);
  console.log(`A/V offsets (s, audio minus video): ${offsets.map((o) => o.toFixed(3)).join(' ')}`);
  expect(offsets.length).toBeGreaterThan(1);
  for (const offset of offsets) expect(Math.abs(offset)).toBeLessThan(0.1);
}

/** Sync pattern for a libwebrtc publisher: a white frame and a beep every 2 s for 200 ms. */
const flashHook =
  (fps: number) => (i: number, frame: { data: Uint8Array; width: number; height: number }) => {
    if ((i / fps) % 2 < 0.2) frame.data.fill(235, 0, frame.width * frame.height);
    else frame.data.fill(16, 0, frame.width * frame.height);
  };
const beepHook = (i: number, samples: Int16Array) => {
  if ((i * 0.01) % 2 >= 0.2) samples.fill(0);
};

async function waitFor(
  streamId: string,
  status: string,
  timeoutMs = 10_000,
): Promise<RecordingView> {
  await eventually(
    async () => (await recordings(streamId))[0]?.status === status,
    timeoutMs,
    `a recording ${status}`,
  );
  return (await recordings(streamId))[0];
}

async function recordings(streamId: string): Promise<RecordingView[]> {
  const response = await t.api(`/api/streams/${streamId}/recordings`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { recordings: RecordingView[] }).recordings;
}

describe('recording a broadcast', () => {
  it('records an OBS-like H.264 broadcast (copy) that is ready within 2 s of the end', async () => {
    const stream = await t.createStream('obs recording');
    expect(await recordings(stream.id)).toEqual([]);
    const publisher = await ObsLikePublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
      pattern: { sync: { periodSec: 2, flashSec: 0.2 } },
    });
    await publisher.waitConnected();
    await eventually(
      async () => (await recordings(stream.id))[0]?.status === 'recording',
      10_000,
      'a recording',
    );
    const live = (await recordings(stream.id))[0];
    // While live, the EVENT playlist already plays.
    await eventually(
      async () => (await fetch(live.hlsUrl)).status === 200,
      15_000,
      'a live playlist',
    );
    const livePlaylist = await (await fetch(live.hlsUrl)).text();
    expect(livePlaylist).toContain('#EXT-X-PLAYLIST-TYPE:EVENT');
    expect(livePlaylist).not.toContain('#EXT-X-ENDLIST');

    await new Promise((resolve) => setTimeout(resolve, 9000));
    await publisher.close();
    const ended = Date.now();
    await eventually(
      async () => (await recordings(stream.id))[0]?.status === 'ready',
      10_000,
      'ready',
    );
    const readyAfterMs = Date.now() - ended;
    const [done] = await recordings(stream.id);
    console.log(`ready ${readyAfterMs} ms after the end; ${JSON.stringify(done)}`);
    expect(readyAfterMs).toBeLessThan(2000);
    expect(done.durationSeconds).toBeGreaterThan(9);

    const playlist = await fetch(done.hlsUrl);
    expect(playlist.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    const text = await playlist.text();
    expect(text).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
    expect(text).toContain('#EXT-X-ENDLIST');

    const probe = await ffprobe(done.hlsUrl);
    const video = probe.streams.find((s) => s.codec_type === 'video');
    const audio = probe.streams.find((s) => s.codec_type === 'audio');
    expect(video).toMatchObject({ codec_name: 'h264', width: 640, height: 360 });
    expect(audio).toMatchObject({ codec_name: 'aac' });
    const decoded = await decodeAll(done.hlsUrl);
    expect(decoded.errors).toBe('');
    // Within one segment (4 s, the default) of the broadcast's length.
    console.log(`media ${decoded.seconds} s of a ${done.durationSeconds} s broadcast`);
    expect(Math.abs(decoded.seconds - done.durationSeconds)).toBeLessThan(4);

    await expectInSync(done.hlsUrl);

    const poster = await fetch(done.posterUrl);
    expect(poster.status).toBe(200);
    expect(poster.headers.get('content-type')).toBe('image/jpeg');
  });

  it('encodes a VP8 broadcast to H.264 + AAC, in sync', async () => {
    const stream = await t.createStream('vp8 recording');
    const publisher = await WrtcPublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
      width: 640,
      height: 360,
      fps: 30,
      onFrame: flashHook(30),
      onAudio: beepHook,
    });
    try {
      await waitFor(stream.id, 'recording');
      await new Promise((resolve) => setTimeout(resolve, 9000));
    } finally {
      await publisher.close();
    }
    const done = await waitFor(stream.id, 'ready');
    const probe = await ffprobe(done.hlsUrl);
    expect(probe.streams.find((s) => s.codec_type === 'video')).toMatchObject({
      codec_name: 'h264',
    });
    expect(probe.streams.find((s) => s.codec_type === 'audio')).toMatchObject({
      codec_name: 'aac',
    });
    const decoded = await decodeAll(done.hlsUrl);
    expect(decoded.errors).toBe('');
    console.log(`VP8: media ${decoded.seconds} s of a ${done.durationSeconds} s broadcast`);
    expect(Math.abs(decoded.seconds - done.durationSeconds)).toBeLessThan(4);
    await expectInSync(done.hlsUrl);
  });

  it('joins a takeover into one recording with two parts that plays through', async () => {
    const stream = await t.createStream('takeover');
    const first = await ObsLikePublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
    });
    await waitFor(stream.id, 'recording');
    await new Promise((resolve) => setTimeout(resolve, 6000));
    // The same key again: the new publisher replaces the first (OBS reconnecting).
    const second = await ObsLikePublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
      width: 320,
      height: 180,
    });
    await eventually(async () => (await recordings(stream.id))[0]?.parts === 2, 10_000, 'part 2');
    await new Promise((resolve) => setTimeout(resolve, 6000));
    await second.close();
    await first.close({ sendDelete: false });
    const done = await waitFor(stream.id, 'ready');
    const all = await recordings(stream.id);
    expect(all).toHaveLength(1);
    expect(done.parts).toBe(2);
    const text = await (await fetch(done.hlsUrl)).text();
    expect(text.match(/#EXT-X-DISCONTINUITY/g)).toHaveLength(1);
    expect(text.match(/#EXT-X-MAP/g)).toHaveLength(2);
    const decoded = await decodeAll(done.hlsUrl);
    expect(decoded.errors).toBe('');
    console.log(`takeover: media ${decoded.seconds} s of a ${done.durationSeconds} s broadcast`);
    expect(Math.abs(decoded.seconds - done.durationSeconds)).toBeLessThan(8);
  });

  it('starts a new part when ffmpeg dies mid-broadcast, and says why', async () => {
    const stream = await t.createStream('ffmpeg crash');
    const publisher = await ObsLikePublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
    });
    try {
      const live = await waitFor(stream.id, 'recording');
      await eventually(async () => (await fetch(live.hlsUrl)).status === 200, 15_000, 'segment');
      const pidFile = path.join(t.dataDir, 'spool', live.id, 'p1.pid');
      process.kill(Number(await readFile(pidFile, 'utf8')), 'SIGKILL');
      await eventually(async () => (await recordings(stream.id))[0]?.parts === 2, 10_000, 'part 2');
      const after = (await recordings(stream.id))[0];
      expect(after.status).toBe('recording');
      expect(after.error).toMatch(/ffmpeg exited/);
      await new Promise((resolve) => setTimeout(resolve, 5000));
    } finally {
      await publisher.close();
    }
    const done = await waitFor(stream.id, 'ready');
    expect(done.parts).toBe(2);
    const decoded = await decodeAll(done.hlsUrl);
    expect(decoded.errors).toBe('');
    console.log(
      `ffmpeg crash: media ${decoded.seconds} s of a ${done.durationSeconds} s broadcast`,
    );
  });

  it('composites two live streams side by side (grid), both visible', async () => {
    const left = await t.createStream('red');
    const right = await t.createStream('blue');
    // Only the composition is recorded here.
    for (const s of [left, right]) {
      const r = await t.api(`/api/streams/${s.id}`, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ record: false }),
      });
      expect(r.status).toBe(200);
      expect(((await r.json()) as { record: boolean }).record).toBe(false);
    }
    const publishers = await Promise.all([
      ObsLikePublisher.start({
        whipUrl: left.whipUrl,
        streamKey: left.streamKey,
        pattern: { color: 'red' },
      }),
      ObsLikePublisher.start({
        whipUrl: right.whipUrl,
        streamKey: right.streamKey,
        pattern: { color: 'blue' },
      }),
    ]);
    try {
      await Promise.all(publishers.map((p) => p.waitConnected()));
      const created = await t.api('/api/compositions', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: 'duo', streamIds: [left.id, right.id], layout: 'grid' }),
      });
      expect(created.status).toBe(201);
      const composition = (await created.json()) as RecordingView & { streamIds: string[] };
      expect(composition).toMatchObject({
        kind: 'composition',
        status: 'recording',
        layout: 'grid',
      });
      expect(await recordings(right.id)).toEqual([expect.objectContaining({ id: composition.id })]);
      await eventually(
        async () => (await fetch(composition.hlsUrl)).status === 200,
        20_000,
        'the composition playlist',
      );
      await new Promise((resolve) => setTimeout(resolve, 4000));
      const stopped = await t.api(`/api/compositions/${composition.id}`, { method: 'DELETE' });
      expect(stopped.status).toBe(202);
      await eventually(
        async () =>
          ((await (await t.api(`/api/recordings/${composition.id}`)).json()) as RecordingView)
            .status === 'ready',
        15_000,
        'the composition ready',
      );
      const probe = await ffprobe(composition.hlsUrl);
      expect(probe.streams.find((s) => s.codec_type === 'video')).toMatchObject({
        codec_name: 'h264',
        width: 1280,
        height: 720,
      });
      const finished = (await (
        await t.api(`/api/recordings/${composition.id}`)
      ).json()) as RecordingView;
      const media = await decodeAll(composition.hlsUrl);
      console.log(`composition: media ${media.seconds} s of ${finished.durationSeconds} s`);
      expect(media.errors).toBe('');
      expect(Math.abs(media.seconds - finished.durationSeconds)).toBeLessThan(4);
      const [r1, , b1] = await regionColor(composition.hlsUrl, 1, {
        x: 0.2,
        y: 0.4,
        w: 0.1,
        h: 0.2,
      });
      const [r2, , b2] = await regionColor(composition.hlsUrl, 1, {
        x: 0.7,
        y: 0.4,
        w: 0.1,
        h: 0.2,
      });
      console.log(`grid colours: left rgb(${r1},_,${b1}) right rgb(${r2},_,${b2})`);
      expect(r1).toBeGreaterThan(150);
      expect(b1).toBeLessThan(100);
      expect(b2).toBeGreaterThan(150);
      expect(r2).toBeLessThan(100);
      // The streams are still live: only the composition ended.
      expect(publishers.every((p) => !p.closed)).toBe(true);

      // Picture-in-picture of the same two: blue as a quarter-size inset on red.
      const pipCreated = await t.api('/api/compositions', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: 'pip', streamIds: [left.id, right.id], layout: 'pip' }),
      });
      expect(pipCreated.status).toBe(201);
      const pip = (await pipCreated.json()) as RecordingView;
      await eventually(async () => (await fetch(pip.hlsUrl)).status === 200, 20_000, 'pip');
      await t.api(`/api/compositions/${pip.id}`, { method: 'DELETE' });
      await eventually(
        async () =>
          ((await (await t.api(`/api/recordings/${pip.id}`)).json()) as RecordingView).status ===
          'ready',
        15_000,
        'the pip composition ready',
      );
      const main = await regionColor(pip.hlsUrl, 1, { x: 0.3, y: 0.3, w: 0.1, h: 0.1 });
      const inset = await regionColor(pip.hlsUrl, 1, { x: 0.83, y: 0.8, w: 0.04, h: 0.05 });
      console.log(`pip colours: main rgb(${main.join(',')}) inset rgb(${inset.join(',')})`);
      expect(main[0]).toBeGreaterThan(150);
      expect(main[2]).toBeLessThan(100);
      expect(inset[2]).toBeGreaterThan(150);
      expect(inset[0]).toBeLessThan(100);
    } finally {
      await Promise.all(publishers.map((p) => p.close()));
    }
  });

  it('answers bad requests with clear errors and records nothing for an opted-out stream', async () => {
    expect((await t.api('/api/streams/nope/recordings')).status).toBe(404);
    expect((await t.api('/api/recordings/rec_missing')).status).toBe(404);
    expect((await t.api('/api/recordings/rec_missing', { method: 'DELETE' })).status).toBe(404);
    expect((await fetch(`${t.baseUrl}/vod/rec_missing/index.m3u8`)).status).toBe(404);
    expect((await fetch(`${t.baseUrl}/vod/rec_x/..%2Fstate.json`)).status).toBe(404);
    const idle = await t.createStream('idle');
    const post = (body: unknown) =>
      t.api('/api/compositions', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post({ name: 'x', streamIds: [idle.id] })).status).toBe(422);
    expect((await post({ name: 'x', streamIds: ['unknown'] })).status).toBe(422);
    expect((await post({ name: 'x', streamIds: [idle.id], layout: 'mosaic' })).status).toBe(400);
    expect((await post({ name: 'x', streamIds: [] })).status).toBe(400);
    expect((await post({ streamIds: [idle.id] })).status).toBe(400);
    const patch = (body: unknown) =>
      t.api(`/api/streams/${idle.id}`, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await patch({ record: 'yes' })).status).toBe(400);
    expect((await patch({})).status).toBe(400);

    const created = await t.api('/api/streams', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'not recorded', record: false }),
    });
    const quiet = (await created.json()) as {
      id: string;
      whipUrl: string;
      streamKey: string;
      record: boolean;
    };
    expect(quiet.record).toBe(false);
    const publisher = await ObsLikePublisher.start({
      whipUrl: quiet.whipUrl,
      streamKey: quiet.streamKey,
    });
    await publisher.waitConnected();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await publisher.close();
    expect(await recordings(quiet.id)).toEqual([]);
  });

  it('deletes a finished recording with its files', async () => {
    const stream = await t.createStream('to delete');
    const publisher = await ObsLikePublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
    });
    await waitFor(stream.id, 'recording');
    const live = (await recordings(stream.id))[0];
    // Not while it is being written.
    expect((await t.api(`/api/recordings/${live.id}`, { method: 'DELETE' })).status).toBe(409);
    await new Promise((resolve) => setTimeout(resolve, 5000));
    await publisher.close();
    const done = await waitFor(stream.id, 'ready');
    const segment = /^p1-\d+\.m4s$/m.exec(await (await fetch(done.hlsUrl)).text())![0];
    const url = done.hlsUrl.replace('index.m3u8', segment);
    const ranged = await fetch(url, { headers: { Range: 'bytes=0-99' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-type')).toBe('video/iso.segment');
    expect(ranged.headers.get('cache-control')).toContain('immutable');
    expect((await ranged.arrayBuffer()).byteLength).toBe(100);
    expect((await t.api(`/api/recordings/${done.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(done.hlsUrl)).status).toBe(404);
    expect(await recordings(stream.id)).toEqual([]);
  });
});
