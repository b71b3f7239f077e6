/**
 * The DOM-free Player core with scripted sources, a fake media element and a stubbed status
 * endpoint: which source plays when (live, waiting, replay), what the ReconnectPolicy is asked,
 * which errors are fatal, and that destroy() ends the session.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PublicStreamStatus, Recording } from '../../src/web/core/api.ts';
import { Emitter } from '../../src/web/core/Emitter.ts';
import { PlaybackError } from '../../src/web/core/PlaybackSource.ts';
import type { PlaybackSource, SourceEvents } from '../../src/web/core/PlaybackSource.ts';
import { Player } from '../../src/web/core/Player.ts';
import type { PlayerOptions, PlayerState, SourceSpec } from '../../src/web/core/Player.ts';
import type { ReconnectContext, ReconnectPolicy } from '../../src/web/core/reconnect.ts';
import { SignalingError } from '../../src/web/core/signaling.ts';
import { EMPTY_STATS } from '../../src/web/core/stats.ts';

class FakeMedia extends EventTarget {
  muted = true;
  srcObject: unknown = null;
  currentTime = 0;
  play(): Promise<void> {
    setTimeout(() => this.dispatchEvent(new Event('playing')), 1);
    return Promise.resolve();
  }
}

type Outcome = 'ok' | Error;

class FakeSource extends Emitter<SourceEvents> implements PlaybackSource {
  destroyed: { keepalive?: boolean } | undefined;
  constructor(
    readonly spec: SourceSpec,
    readonly outcome: Outcome,
  ) {
    super();
  }
  get kind() {
    return this.spec.kind;
  }
  load(): Promise<void> {
    return this.outcome === 'ok' ? Promise.resolve() : Promise.reject(this.outcome);
  }
  stats() {
    return Promise.resolve({ ...EMPTY_STATS, source: this.spec.kind });
  }
  setQuality() {
    return Promise.resolve();
  }
  destroy(options: { keepalive?: boolean } = {}) {
    this.destroyed ??= options;
    return Promise.resolve();
  }
  lose(error = new PlaybackError('stalled', 'stalled')) {
    this.emit('lost', { error });
  }
  /** What the server's WHEP events would make a WhepSource emit. */
  serverEvent(event: Partial<Pick<SourceEvents, 'reconnect' | 'viewercount'>>) {
    if (event.reconnect) this.emit('reconnect', event.reconnect);
    if (event.viewercount) this.emit('viewercount', event.viewercount);
  }
  /** Make-before-break: resolves (or fails) when the test says so. */
  prepared: { resolve: () => void; reject: (error: Error) => void } | undefined;
  attachedTo: unknown;
  prepare(): Promise<void> {
    if (this.outcome !== 'ok') return Promise.reject(this.outcome);
    return new Promise((resolve, reject) => (this.prepared = { resolve, reject }));
  }
  attach(media: { srcObject: unknown }) {
    this.attachedTo = media;
    media.srcObject = this;
  }
}

const recording = (id: string, status: Recording['status']): Recording => ({
  id,
  streamId: 's1',
  status,
  startedAt: '2026-01-01T00:00:00Z',
  endedAt: null,
  durationSeconds: null,
  hlsUrl: `https://cdn.example/vod/${id}/index.m3u8`,
  posterUrl: `https://cdn.example/vod/${id}/poster.jpg`,
});

interface Harness {
  player: Player;
  sources: FakeSource[];
  states: PlayerState[];
  events: string[];
  status: PublicStreamStatus;
  /** Outcomes of the next live loads, in order; 'ok' once they run out. */
  live: Outcome[];
  policy: ReconnectContext[];
}

let harness: Harness | undefined;

afterEach(async () => {
  await harness?.player.destroy();
  harness = undefined;
  vi.unstubAllGlobals();
});

function setup(options: Partial<PlayerOptions> & { policy?: ReconnectPolicy } = {}): Harness {
  const h: Harness = {
    sources: [],
    states: [],
    events: [],
    status: { id: 's1', name: 'Show', live: true, viewers: 3, recordings: [] },
    live: [],
    policy: [],
  } as unknown as Harness;
  vi.stubGlobal('fetch', () =>
    Promise.resolve(new Response(JSON.stringify(h.status), { status: 200 })),
  );
  const player = new Player({
    whepUrl: 'https://live.example/whep/s1',
    statusUrl: 'https://live.example/watch/s1/status',
    timings: {
      minRetryAfterMs: 5,
      defaultRetryAfterMs: 10,
      statusRefreshMs: 30,
      replayWaitMs: 200,
      offlineGraceMs: 100,
    },
    reconnectPolicy: options.policy ?? {
      nextRetryDelayInMs: (context) => {
        h.policy.push(context);
        return 5;
      },
    },
    createSource: (spec) => {
      const outcome = spec.kind === 'webrtc' ? (h.live.shift() ?? 'ok') : 'ok';
      const source = new FakeSource(spec, outcome);
      h.sources.push(source);
      return source;
    },
    ...options,
  });
  player.on('state', ({ state }) => h.states.push(state));
  for (const type of ['live', 'offline', 'mode', 'error'] as const) {
    player.on(type, (payload) => {
      const detail =
        type === 'mode'
          ? `${(payload as { mode: string }).mode}${(payload as { automatic: boolean }).automatic ? ' auto' : ''}`
          : type === 'error'
            ? `${(payload as { fatal: boolean }).fatal ? 'fatal ' : ''}${((payload as { error: Error }).error as PlaybackError).code ?? (payload as { error: Error }).error.name}`
            : '';
      h.events.push(detail ? `${type} ${detail}` : type);
    });
  }
  player.attachMedia(new FakeMedia() as unknown as HTMLMediaElement);
  h.player = player;
  harness = h;
  return h;
}

const until = (check: () => boolean, what: string) =>
  vi.waitFor(
    () => {
      if (!check()) throw new Error(`still waiting for ${what}`);
    },
    { timeout: 3000, interval: 5 },
  );

const notLive = () => new SignalingError('the stream is not live', 409, 0);

describe('Player', () => {
  it('plays live at once, emits live once, and reads the status', async () => {
    const h = setup();
    const statuses: PublicStreamStatus[] = [];
    h.player.on('status', (s) => statuses.push(s));
    h.player.start();
    await until(() => h.player.state === 'playing', 'playing');
    expect(h.states).toEqual(['connecting', 'playing']);
    expect(h.events).toEqual(['mode live', 'live']);
    expect(h.sources.map((s) => s.spec.kind)).toEqual(['webrtc']);
    await until(() => statuses.length > 0, 'a status');
    expect(statuses[0]).toMatchObject({ name: 'Show', viewers: 3 });
  });

  it('waits while not live (409) and starts by itself when the status says live', async () => {
    const h = setup();
    h.status.live = false;
    h.live.push(notLive());
    h.player.start();
    await until(() => h.player.state === 'waiting', 'waiting');
    expect(h.events).toContain('offline');
    // Still not live: it keeps waiting without new WHEP attempts.
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(h.player.state).toBe('waiting');
    expect(h.sources).toHaveLength(1);
    h.status.live = true;
    await until(() => h.player.state === 'playing', 'playing');
    expect(h.sources).toHaveLength(2);
    expect(h.events.filter((e) => e === 'live')).toHaveLength(1);
  });

  it('does not loop when the status says live but WHEP keeps answering 409', async () => {
    const h = setup({ timings: { minRetryAfterMs: 40, defaultRetryAfterMs: 40 } });
    h.status.live = true;
    h.live.push(notLive(), notLive(), notLive(), notLive());
    const started = Date.now();
    h.player.start();
    await until(() => h.player.state === 'playing', 'playing');
    // The first 409 is retried at once (it may just have gone live), the next ones after the
    // Retry-After delay (40 ms here, at least).
    expect(h.sources).toHaveLength(5);
    expect(Date.now() - started).toBeGreaterThanOrEqual(3 * 40);
  });

  it('404 and 422 are fatal: no retry', async () => {
    for (const [status, code] of [
      [404, 'not-found'],
      [422, 'refused'],
    ] as const) {
      const h = setup();
      h.live.push(new SignalingError('nope', status));
      h.player.start();
      await until(() => h.player.state === 'error', 'error');
      expect(h.events).toContain(`error fatal ${code}`);
      expect((h.player.error as PlaybackError).code).toBe(code);
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(h.sources).toHaveLength(1);
      expect(h.policy).toEqual([]);
      await h.player.destroy();
    }
  });

  it('a lost session reconnects through the policy, counting the attempts', async () => {
    const h = setup();
    h.live.push('ok', new SignalingError('down', 503, 0), new SignalingError('down', 503, 0));
    h.player.start();
    await until(() => h.player.state === 'playing', 'playing');
    h.sources[0].lose();
    await until(() => h.sources.length === 4 && h.player.state === 'playing', 'playing again');
    expect(h.sources[0].destroyed).toBeDefined();
    expect(h.policy.map((c) => c.retryCount)).toEqual([0, 1, 2]);
    expect(h.policy[0].retryReason).toBeInstanceOf(PlaybackError);
    expect(h.policy[1].serverUrl).toBe('https://live.example/whep/s1');
    expect(h.states).toContain('reconnecting');
    // A reconnect is not a new broadcast.
    expect(h.events.filter((e) => e === 'live')).toHaveLength(1);
  });

  it('every edge full (503 + Retry-After): waits at least that long before trying again', async () => {
    const h = setup();
    // The server asks for 0.15 s; the policy alone would retry after 5 ms.
    h.live.push(new SignalingError('every edge node is full', 503, 0.15));
    const started = Date.now();
    h.player.start();
    await until(() => h.sources.length === 2 && h.player.state === 'playing', 'playing');
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(h.states).toContain('reconnecting');
    expect(h.policy).toHaveLength(1);
  });

  it('gives up when the policy says so (null)', async () => {
    const h = setup({ policy: { nextRetryDelayInMs: () => null } });
    h.live.push(new SignalingError('cannot reach', 0));
    h.player.start();
    await until(() => h.player.state === 'error', 'error');
    expect(h.events).toContain('error fatal gave-up');
  });

  it('offline with a ready recording: replays it by itself, and goes live when it is', async () => {
    const h = setup();
    h.status.live = false;
    h.status.recordings = [recording('r2', 'ready'), recording('r1', 'ready')];
    h.live.push(notLive());
    h.player.start();
    await until(() => h.player.mode === 'replay' && h.player.state === 'playing', 'replay');
    expect(h.events).toContain('mode replay auto');
    const replay = h.sources[1];
    expect(replay.spec).toMatchObject({
      kind: 'hls',
      url: 'https://cdn.example/vod/r2/index.m3u8',
    });
    h.status.live = true;
    await until(() => h.player.mode === 'live' && h.player.state === 'playing', 'live again');
    expect(replay.destroyed).toBeDefined();
  });

  it('?recording=<id> plays that one and stays on it when the stream goes live', async () => {
    const h = setup({ recordingId: 'r1' });
    h.status.live = true;
    h.status.recordings = [recording('r2', 'recording'), recording('r1', 'ready')];
    h.player.start();
    await until(() => h.player.state === 'playing', 'playing');
    expect(h.player.recording?.id).toBe('r1');
    expect(h.player.automaticReplay).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(h.player.mode).toBe('replay');
    expect(h.sources.map((s) => s.spec.kind)).toEqual(['hls']);
  });

  it('an unknown ?recording= falls back to live, saying so', async () => {
    const h = setup({ recordingId: 'gone' });
    h.player.start();
    await until(() => h.player.state === 'playing', 'playing');
    expect(h.events).toContain('error recording-not-found');
    expect(h.player.mode).toBe('live');
  });

  it('after a broadcast ends, waits for its own recording rather than replaying an older one', async () => {
    const h = setup();
    h.status.recordings = [recording('new', 'recording'), recording('old', 'ready')];
    h.player.start();
    await until(() => h.player.state === 'playing', 'playing');
    // The status seen while live names the recording of this broadcast.
    await vi.waitFor(() => expect(h.player.status?.recordings[0]?.status).toBe('recording'));
    // The publisher leaves; the recording is finalizing (not in the public list).
    h.status.live = false;
    h.status.recordings = [recording('old', 'ready')];
    h.live.push(notLive());
    h.sources[0].lose();
    await until(() => h.player.state === 'waiting', 'waiting');
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(h.player.mode).toBe('live');
    h.status.recordings = [recording('new', 'ready'), recording('old', 'ready')];
    await until(() => h.player.mode === 'replay', 'replay');
    expect(h.player.recording?.id).toBe('new');
  });

  it('destroy() ends the session (keepalive passed on) and stops for good', async () => {
    const h = setup();
    h.player.start();
    await until(() => h.player.state === 'playing', 'playing');
    await h.player.destroy({ keepalive: true });
    expect(h.sources[0].destroyed).toEqual({ keepalive: true });
    expect(h.player.state).toBe('stopped');
    expect(h.player.media).toBeUndefined();
    expect(() => h.player.start()).toThrow(PlaybackError);
  });

  describe('make-before-break on the WHEP reconnect event', () => {
    async function playing() {
      const h = setup();
      h.player.start();
      await until(() => h.player.state === 'playing', 'playing');
      return h;
    }

    it('switches the media to a session made through the event URL, then ends the old one', async () => {
      const h = await playing();
      const [old] = h.sources;
      old.serverEvent({ reconnect: { url: 'https://live.example/whep/s1?moved' } });
      await until(() => h.sources.length === 2, 'a second source');
      const next = h.sources[1];
      expect(next.spec).toEqual({ kind: 'webrtc', whepUrl: 'https://live.example/whep/s1?moved' });
      // Until the new one has a picture, the old one plays on, untouched.
      await until(() => next.prepared !== undefined, 'prepare');
      expect(old.destroyed).toBeUndefined();
      expect(h.player.media!.srcObject).toBe(null);
      next.prepared!.resolve();
      await until(() => old.destroyed !== undefined, 'the old source ended');
      expect(h.player.media!.srcObject).toBe(next);
      expect(h.player.source).toBe(next);
      // No reconnect, no error: the viewer saw nothing but a new session.
      expect(h.states).toEqual(['connecting', 'playing']);
      expect(h.events).toEqual(['mode live', 'live']);
      expect(h.policy).toEqual([]);
      // The new one is listened to: its reconnect moves again.
      next.serverEvent({ reconnect: { url: undefined } });
      await until(() => h.sources.length === 3, 'a third source');
      expect(h.sources[2].spec).toMatchObject({ whepUrl: 'https://live.example/whep/s1' });
    });

    it('keeps the old session when the new one fails, and reconnects as usual once it ends', async () => {
      const h = await playing();
      const [old] = h.sources;
      h.live.push(new PlaybackError('connection-lost', 'no picture'));
      old.serverEvent({ reconnect: { url: 'https://live.example/whep/s1' } });
      await until(() => h.sources.length === 2, 'a second source');
      await until(() => h.sources[1].destroyed !== undefined, 'the failed one ended');
      expect(old.destroyed).toBeUndefined();
      expect(h.player.source).toBe(old);
      old.lose();
      await until(() => h.sources.length === 3 && h.player.state === 'playing', 'a new session');
      expect(h.states).toEqual(['connecting', 'playing', 'reconnecting', 'playing']);
    });

    it('the old session may close first: the move still wins, with no reconnect', async () => {
      const h = await playing();
      const [old] = h.sources;
      old.serverEvent({ reconnect: { url: 'https://live.example/whep/s1' } });
      await until(() => h.sources[1]?.prepared !== undefined, 'prepare');
      old.lose(new PlaybackError('connection-lost', 'closed by the draining edge'));
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(h.player.state).toBe('playing');
      h.sources[1].prepared!.resolve();
      await until(() => h.player.source === h.sources[1], 'switched');
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(h.sources).toHaveLength(2);
      expect(h.policy).toEqual([]);
    });

    it('gives the move up when the player stops meanwhile', async () => {
      const h = await playing();
      h.sources[0].serverEvent({ reconnect: { url: 'https://live.example/whep/s1' } });
      await until(() => h.sources[1]?.prepared !== undefined, 'prepare');
      await h.player.stop();
      h.sources[1].prepared!.resolve();
      await until(() => h.sources[1].destroyed !== undefined, 'the new one ended');
      expect(h.player.source).toBeUndefined();
    });

    it('shows the viewercount events as the status viewers', async () => {
      const h = await playing();
      const statuses: PublicStreamStatus[] = [];
      h.player.on('status', (status) => statuses.push(status));
      await until(() => h.player.status !== undefined, 'a status');
      h.sources[0].serverEvent({ viewercount: { viewers: 42 } });
      expect(statuses.at(-1)).toMatchObject({ name: 'Show', viewers: 42 });
    });
  });
});
