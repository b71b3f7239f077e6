/**
 * `<wisp-player src="{PUBLIC_URL}/watch/<id>" autoplay muted stats>`: the player as a custom
 * element for any site, loaded from `{PUBLIC_URL}/player/embed.js`; also what `/embed/:id`
 * (the iframe form) shows. Its view lives in a shadow root, styled by the platform's own
 * player.css. Attributes: `autoplay` (start at once; without it a Play button waits for the
 * viewer), `muted` (start muted; without it, sound is tried and the browser may insist on
 * muting), `stats` (the overlay open). Events: `live`, `offline`, `error` (detail
 * `{ error, fatal }`) and `statechange` (detail `{ state }`). `destroy()` ends it for good.
 */
import { statusUrlOf } from './core/api.ts';
import { Player } from './core/Player.ts';
import type { PlayerState } from './core/Player.ts';
import type { PlayerStats } from './core/stats.ts';
import { EMPTY_STATS } from './core/stats.ts';
import { h, icon } from './ui/dom.ts';
import { PlayerView } from './ui/PlayerView.ts';

/** Where this script's siblings are: `/player/assets/` whether loaded from there or `/player/`. */
const ASSET_BASE = new URL(
  /\/assets\/[^/]+$/.test(new URL(import.meta.url).pathname) ? './' : './assets/',
  import.meta.url,
).href;

/** `https://host/prefix/watch/<id>?recording=<rid>` -> its parts. */
function parseSrc(src: string): { base: string; id: string; recording?: string } | undefined {
  let url: URL;
  try {
    url = new URL(src, document.baseURI);
  } catch {
    return undefined;
  }
  const match = /^(.*)\/watch\/([A-Za-z0-9_-]{1,64})\/?$/.exec(url.pathname);
  if (!match) return undefined;
  const recording = url.searchParams.get('recording') ?? undefined;
  return {
    base: `${url.origin}${match[1]}`,
    id: match[2],
    ...(recording ? { recording } : {}),
  };
}

export class WispPlayerElement extends HTMLElement {
  static readonly observedAttributes = ['src', 'stats'];
  readonly #shadow: ShadowRoot;
  #player: Player | undefined;
  #view: PlayerView | undefined;
  #destroyed = false;

  constructor() {
    super();
    this.#shadow = this.attachShadow({ mode: 'open' });
  }

  /** The player core (undefined before the element is connected or after destroy). */
  get player(): Player | undefined {
    return this.#player;
  }

  get state(): PlayerState {
    return this.#player?.state ?? 'idle';
  }

  getStats(): Promise<PlayerStats> {
    return this.#player?.stats() ?? Promise.resolve({ ...EMPTY_STATS });
  }

  /** Starts playback (from a gesture: with sound unless `muted` is set). */
  async play(): Promise<void> {
    if (!this.#player) this.#create(true);
    const player = this.#player;
    if (!player) return;
    if (player.state === 'idle' || player.state === 'stopped') player.start();
    else await player.play({ unmute: !this.hasAttribute('muted') });
  }

  connectedCallback(): void {
    if (!this.#destroyed && !this.#player) this.#create(this.hasAttribute('autoplay'));
  }

  disconnectedCallback(): void {
    // Moved within the page: connectedCallback comes right after and starts again.
    this.#teardown();
  }

  attributeChangedCallback(name: string, before: string | null, after: string | null): void {
    if (before === after || !this.#player) return;
    if (name === 'stats') this.#view?.showStats(after !== null);
    if (name === 'src') {
      this.#teardown();
      this.#create(this.hasAttribute('autoplay'));
    }
  }

  /** Ends the session and removes the player; the element stays empty from then on. */
  destroy(): void {
    this.#destroyed = true;
    this.#teardown();
  }

  #create(start: boolean): void {
    const parsed = parseSrc(this.getAttribute('src') ?? '');
    this.#shadow.replaceChildren(h('link', { rel: 'stylesheet', href: `${ASSET_BASE}player.css` }));
    if (!parsed) {
      this.#shadow.append(
        h(
          'p',
          { class: 'wisp-message', role: 'alert' },
          'wisp-player: src must be a /watch/<id> URL',
        ),
      );
      this.#emit('error', { error: new TypeError('bad src'), fatal: true });
      return;
    }
    const player = new Player({
      whepUrl: `${parsed.base}/whep/${encodeURIComponent(parsed.id)}`,
      statusUrl: statusUrlOf(parsed.base, parsed.id),
      hlsScriptUrl: `${ASSET_BASE}hls.js`,
      ...(parsed.recording ? { recordingId: parsed.recording } : {}),
    });
    this.#player = player;
    const container = h('div', { class: 'wisp-host' });
    this.#shadow.append(container);
    this.#view = new PlayerView({
      player,
      container,
      stats: this.hasAttribute('stats'),
      showTitle: true,
      muted: this.hasAttribute('muted') || !start,
    });
    player.on('live', () => this.#emit('live', {}));
    player.on('offline', () => this.#emit('offline', {}));
    player.on('error', (detail) => this.#emit('error', detail));
    player.on('state', ({ state }) => {
      this.dataset.state = state;
      this.#emit('statechange', { state });
    });
    if (start) {
      player.start();
      return;
    }
    // No autoplay: one button starts it (a gesture, so with sound).
    const button = h(
      'button',
      { class: 'wisp-bigplay', type: 'button', 'aria-label': 'Play' },
      icon(['M8 5v14l11-7z']),
      h('span', {}, 'Play'),
    );
    button.addEventListener('click', () => {
      button.remove();
      if (!this.hasAttribute('muted') && this.#view) this.#view.video.muted = false;
      player.start();
    });
    this.#view.root.querySelector('.wisp-stage')?.append(button);
  }

  #teardown(): void {
    const player = this.#player;
    this.#player = undefined;
    this.#view?.destroy();
    this.#view = undefined;
    if (player) void player.destroy();
  }

  #emit(type: string, detail: unknown): void {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }
}

if (!customElements.get('wisp-player')) customElements.define('wisp-player', WispPlayerElement);

declare global {
  interface HTMLElementTagNameMap {
    'wisp-player': WispPlayerElement;
  }
}
