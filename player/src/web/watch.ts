/**
 * The watch page (`/watch/:id`): the player live over WHEP (muted until the viewer unmutes,
 * since browsers block unmuted autoplay), waiting while the stream is not live, replaying the
 * latest recording once it is over, with the stream's recordings to pick from
 * (`?recording=<id>`) and the stats overlay (`?stats=1`).
 */
import type { PublicStreamStatus, Recording } from './core/api.ts';
import { Player } from './core/Player.ts';
import type { WispPlayerApi } from './types.ts';
import { formatDuration, h, requireData, requireElement } from './ui/dom.ts';
import { PlayerView } from './ui/PlayerView.ts';

function main(): void {
  const root = requireElement('wisp', HTMLElement);
  const params = new URLSearchParams(window.location.search);
  const recordingId = params.get('recording') ?? undefined;
  const player = new Player({
    whepUrl: requireData(root, 'whepUrl'),
    statusUrl: requireData(root, 'statusUrl'),
    hlsScriptUrl: new URL(requireData(root, 'hlsUrl'), window.location.href).href,
    ...(recordingId ? { recordingId } : {}),
  });
  const status = requireElement('status', HTMLElement);
  const view = new PlayerView({
    player,
    container: requireElement('player', HTMLElement),
    stats: params.get('stats') === '1',
    videoId: 'video',
    onMessage: (message) => (status.textContent = message),
  });
  const name = requireElement('stream-name', HTMLElement);
  const watchLive = requireElement('watch-live', HTMLButtonElement);
  const list = requireElement('recording-list', HTMLElement);
  const section = requireElement('recordings', HTMLElement);
  const streamId = requireData(root, 'streamId');

  const render = (): void => {
    const state = player.state;
    document.body.dataset.state = state;
    document.body.dataset.mode = player.mode;
    view.video.dataset.state = state;
    watchLive.hidden = !(player.mode === 'replay' && player.status?.live);
    renderRecordings(list, section, player.status, player.recording, (recording) => {
      if (recording.status === 'recording') selectLive();
      else selectRecording(recording);
    });
  };
  const selectRecording = (recording: Recording): void => {
    setQuery('recording', recording.id);
    void player.playRecording(recording);
  };
  const selectLive = (): void => {
    setQuery('recording', undefined);
    player.playLive();
  };
  watchLive.addEventListener('click', selectLive);
  player.on('state', render);
  player.on('mode', ({ mode, recording, automatic }) => {
    // Only the viewer's own choice goes into the address (a reload replays it).
    setQuery('recording', mode === 'replay' && recording && !automatic ? recording.id : undefined);
    render();
  });
  player.on('status', (current: PublicStreamStatus) => {
    name.textContent = current.name || streamId;
    document.title = `${current.name || streamId} · wisp live`;
    render();
  });

  const api: WispPlayerApi = {
    get state() {
      return player.state;
    },
    get message() {
      return view.message;
    },
    get mode() {
      return player.mode;
    },
    stats: () => player.stats(),
    stop: () => player.stop(),
    player,
  };
  window.wispPlayer = api;
  // The DELETE must outlive the page, hence keepalive. A page restored from the back/forward
  // cache starts over.
  window.addEventListener('pagehide', () => void player.stop({ keepalive: true }));
  window.addEventListener('pageshow', (event) => {
    if (event.persisted) player.start();
  });
  player.start();
}

/** Sets or removes one query parameter without a navigation (keeps `?stats=1`). */
function setQuery(name: string, value: string | undefined): void {
  const url = new URL(window.location.href);
  if (value === undefined) url.searchParams.delete(name);
  else url.searchParams.set(name, value);
  if (url.href !== window.location.href) window.history.replaceState(null, '', url);
}

const DATE = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

function renderRecordings(
  list: HTMLElement,
  section: HTMLElement,
  status: PublicStreamStatus | undefined,
  playing: Recording | undefined,
  select: (recording: Recording) => void,
): void {
  const recordings = status?.recordings ?? [];
  section.hidden = recordings.length === 0;
  list.replaceChildren(
    ...recordings.map((recording) => {
      const started = new Date(recording.startedAt);
      const when = Number.isNaN(started.getTime()) ? recording.startedAt : DATE.format(started);
      const live = recording.status === 'recording';
      const length =
        recording.durationSeconds === null ? '' : ` · ${formatDuration(recording.durationSeconds)}`;
      const button = h(
        'button',
        {
          type: 'button',
          class: 'recording',
          'data-recording-id': recording.id,
          'aria-current': playing?.id === recording.id ? 'true' : undefined,
        },
        h('img', { src: recording.posterUrl, alt: '', loading: 'lazy', width: 96, height: 54 }),
        h('span', { class: 'recording-when' }, `${when}${length}`),
        live ? h('span', { class: 'wisp-badge', 'data-kind': 'live' }, 'LIVE NOW') : null,
      );
      // A poster that does not exist (yet) is just not shown.
      button.querySelector('img')?.addEventListener('error', (event) => {
        (event.target as HTMLImageElement).hidden = true;
      });
      button.addEventListener('click', () => select(recording));
      return h('li', {}, button);
    }),
  );
}

main();
