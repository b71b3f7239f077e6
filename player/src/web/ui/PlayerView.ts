/**
 * The player's controls over a Player: the video, LIVE/REPLAY badge, viewer count, status
 * message, an obvious Unmute, Play when autoplay was refused, quality, stats overlay and full
 * screen. Shared by the watch page (light DOM), `<wisp-player>` (shadow DOM) and `/embed/:id`.
 * Every control is a labelled native element (button, select), so it works from the keyboard
 * and with screen readers; the status line is a live region.
 */
import type { Player, PlayerState } from '../core/Player.ts';
import type { Quality } from '../core/PlaybackSource.ts';
import { h, icon } from './dom.ts';
import { stateMessage, statRows } from './format.ts';

const SPEAKER = 'M3 9v6h4l5 5V4L7 9H3z';
const SPEAKER_WAVES = 'M16.5 12A4.5 4.5 0 0 0 14 8v8a4.5 4.5 0 0 0 2.5-4z';
const CROSS = ['M16 9l6 6M22 9l-6 6'];
const PLAY = 'M8 5v14l11-7z';
const FULLSCREEN = ['M4 9V4h5M15 4h5v5M20 15v5h-5M9 20H4v-5'];
const CHART = 'M4 20h16v-2H4v2zm2-4h3V8H6v8zm5 0h3V4h-3v12zm5 0h3v-6h-3v6z';

export interface PlayerViewOptions {
  player: Player;
  /** Where the view's elements go (a page element or a shadow root). */
  container: HTMLElement | ShadowRoot;
  /** Open the stats overlay from the start (`?stats=1`, the `stats` attribute). */
  stats?: boolean;
  /** Show the stream's name over the video (embeds; the watch page has a heading). */
  showTitle?: boolean;
  /** The `<video>` element's id (the watch page's tests and scripts look for `#video`). */
  videoId?: string;
  /** Start muted (default true: browsers refuse unmuted autoplay). */
  muted?: boolean;
  /** Called whenever the status message changes. */
  onMessage?: (message: string) => void;
}

export class PlayerView {
  readonly root: HTMLDivElement;
  readonly video: HTMLVideoElement;
  readonly #player: Player;
  readonly #options: PlayerViewOptions;
  readonly #message: HTMLParagraphElement;
  readonly #badge: HTMLSpanElement;
  readonly #viewers: HTMLSpanElement;
  readonly #title: HTMLSpanElement;
  readonly #unmute: HTMLButtonElement;
  readonly #mute: HTMLButtonElement;
  readonly #play: HTMLButtonElement;
  readonly #quality: HTMLSelectElement;
  readonly #qualityField: HTMLLabelElement;
  readonly #statsToggle: HTMLButtonElement;
  readonly #statsPanel: HTMLDListElement;
  readonly #offs: (() => void)[] = [];
  #statsTimer: ReturnType<typeof setInterval> | undefined;
  #autoplayBlocked = false;
  #text = '';

  constructor(options: PlayerViewOptions) {
    this.#options = options;
    this.#player = options.player;
    // Fixed ids: one player per page, or per shadow root (ids are scoped there).
    const statsId = 'stats';
    this.video = h('video', {
      class: 'wisp-video',
      id: options.videoId,
      playsinline: true,
      autoplay: true,
      'aria-label': 'Stream video',
    });
    // The property, not only the attribute: it is what autoplay policies look at.
    this.video.muted = options.muted ?? true;
    this.video.defaultMuted = this.video.muted;
    this.#badge = h('span', { class: 'wisp-badge', hidden: true });
    this.#viewers = h('span', { class: 'wisp-viewers', hidden: true });
    this.#title = h('span', { class: 'wisp-title', hidden: !options.showTitle });
    this.#message = h('p', { class: 'wisp-message', role: 'status', 'aria-live': 'polite' });
    this.#unmute = h(
      'button',
      { class: 'wisp-unmute', id: 'unmute', type: 'button', hidden: true },
      icon([SPEAKER], CROSS),
      h('span', {}, 'Tap to unmute'),
    );
    this.#play = h(
      'button',
      { class: 'wisp-bigplay', id: 'play', type: 'button', hidden: true, 'aria-label': 'Play' },
      icon([PLAY]),
      h('span', {}, 'Play'),
    );
    this.#mute = h(
      'button',
      { class: 'wisp-button', id: 'mute', type: 'button', 'aria-label': 'Unmute' },
      icon([SPEAKER], CROSS),
    );
    this.#quality = h('select', { class: 'wisp-select', id: 'quality' });
    this.#qualityField = h(
      'label',
      { class: 'wisp-field', hidden: true },
      h('span', { class: 'wisp-sr' }, 'Quality'),
      this.#quality,
    );
    this.#statsToggle = h(
      'button',
      {
        class: 'wisp-button',
        id: 'stats-toggle',
        type: 'button',
        'aria-label': 'Stats for nerds',
        'aria-expanded': 'false',
        'aria-controls': statsId,
      },
      icon([CHART]),
    );
    const fullscreen = h(
      'button',
      { class: 'wisp-button', id: 'fullscreen', type: 'button', 'aria-label': 'Full screen' },
      icon([], FULLSCREEN),
    );
    this.#statsPanel = h('dl', { class: 'wisp-stats', id: statsId, hidden: true });
    const stage = h(
      'div',
      { class: 'wisp-stage' },
      this.video,
      h('div', { class: 'wisp-top' }, this.#badge, this.#viewers, this.#title),
      this.#message,
      this.#unmute,
      this.#play,
      this.#statsPanel,
    );
    const bar = h(
      'div',
      { class: 'wisp-bar', role: 'toolbar', 'aria-label': 'Player controls' },
      this.#mute,
      h('span', { class: 'wisp-spacer' }),
      this.#qualityField,
      this.#statsToggle,
      fullscreen,
    );
    this.root = h('div', { class: 'wisp-player', 'data-state': 'idle' }, stage, bar);
    options.container.append(this.root);

    this.#unmute.addEventListener('click', () => this.#toggleMute(false));
    this.#mute.addEventListener('click', () => this.#toggleMute(!this.video.muted));
    this.#play.addEventListener('click', () => void this.#player.play());
    this.#quality.addEventListener(
      'change',
      () => void this.#player.setQuality(this.#quality.value),
    );
    this.#statsToggle.addEventListener('click', () =>
      this.showStats(this.#statsToggle.getAttribute('aria-expanded') !== 'true'),
    );
    fullscreen.addEventListener('click', () => this.#toggleFullscreen());
    this.video.addEventListener('volumechange', () => this.#syncSound());
    this.video.addEventListener('playing', () => {
      this.#autoplayBlocked = false;
      this.#syncButtons();
    });
    this.video.addEventListener('pause', () => this.#syncButtons());

    const player = this.#player;
    player.attachMedia(this.video);
    this.#offs.push(
      player.on('state', () => this.#render()),
      player.on('mode', () => this.#render()),
      player.on('status', (status) => {
        this.#title.textContent = status.name;
        this.#renderViewers(status.viewers);
      }),
      player.on('qualities', ({ qualities, selected }) =>
        this.#renderQualities(qualities, selected),
      ),
      player.on('autoplayblocked', () => {
        this.#autoplayBlocked = true;
        this.#syncButtons();
      }),
    );
    this.#syncSound();
    this.#render();
    if (options.stats) this.showStats(true);
  }

  /** The status line's text. */
  get message(): string {
    return this.#text;
  }

  showStats(open: boolean): void {
    this.#statsPanel.hidden = !open;
    this.#statsToggle.setAttribute('aria-expanded', String(open));
    clearInterval(this.#statsTimer);
    this.#statsTimer = undefined;
    if (!open) return;
    void this.#renderStats();
    this.#statsTimer = setInterval(() => void this.#renderStats(), 1000);
  }

  async #renderStats(): Promise<void> {
    const stats = await this.#player.stats().catch(() => undefined);
    if (!stats || this.#statsToggle.getAttribute('aria-expanded') !== 'true') return;
    const rows = statRows(stats);
    const nodes: Node[] = [];
    for (const row of rows) {
      nodes.push(h('dt', {}, row.label));
      nodes.push(
        h(
          'dd',
          {
            'data-stat': row.key,
            'data-value': row.value === undefined ? undefined : String(row.value),
          },
          row.text,
        ),
      );
    }
    this.#statsPanel.replaceChildren(...nodes);
  }

  #toggleMute(muted: boolean): void {
    if (!muted) void this.#player.play({ unmute: true });
    else this.video.muted = true;
  }

  #toggleFullscreen(): void {
    if (document.fullscreenElement) void document.exitFullscreen();
    else void this.root.requestFullscreen?.().catch(() => undefined);
  }

  #render(): void {
    const player = this.#player;
    const state: PlayerState = player.state;
    const replay = player.mode === 'replay';
    this.root.dataset.state = state;
    this.root.dataset.mode = player.mode;
    // Native controls (seek bar) for recordings; live has nothing to seek.
    this.video.controls = replay && (state === 'playing' || state === 'ended');
    const playing = state === 'playing';
    this.#badge.hidden = !playing;
    this.#badge.textContent = replay ? 'REPLAY' : 'LIVE';
    this.#badge.dataset.kind = replay ? 'replay' : 'live';
    this.#viewers.hidden = !(playing && !replay) || this.#viewers.textContent === '';
    this.#setMessage(stateMessage(state, player.mode, player.error));
    this.#syncButtons();
  }

  #renderViewers(viewers: number): void {
    this.#viewers.textContent = `${viewers} watching`;
    this.#viewers.setAttribute('aria-label', `${viewers} ${viewers === 1 ? 'viewer' : 'viewers'}`);
    this.#viewers.hidden = !(this.#player.state === 'playing' && this.#player.mode === 'live');
  }

  #renderQualities(qualities: Quality[], selected: string): void {
    this.#qualityField.hidden = qualities.length < 2;
    this.#quality.replaceChildren(
      ...qualities.map((q) => h('option', { value: q.id, selected: q.id === selected }, q.label)),
    );
    this.#quality.value = selected;
  }

  #setMessage(text: string): void {
    if (text === this.#text) return;
    this.#text = text;
    this.#message.textContent = text;
    this.#options.onMessage?.(text);
  }

  #syncSound(): void {
    const muted = this.video.muted;
    this.#mute.setAttribute('aria-label', muted ? 'Unmute' : 'Mute');
    this.#mute.setAttribute('aria-pressed', String(muted));
    this.#mute.replaceChildren(muted ? icon([SPEAKER], CROSS) : icon([SPEAKER, SPEAKER_WAVES]));
    this.#syncButtons();
  }

  /** Play when autoplay was refused or a recording ended; the unmute pill while muted. */
  #syncButtons(): void {
    const state = this.#player.state;
    const showPlay = this.#autoplayBlocked || state === 'ended';
    this.#play.hidden = !showPlay;
    this.#unmute.hidden = showPlay || !this.video.muted || state !== 'playing';
  }

  destroy(): void {
    for (const off of this.#offs.splice(0)) off();
    clearInterval(this.#statsTimer);
    this.root.remove();
  }
}
