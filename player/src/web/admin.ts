/**
 * The admin page (`/admin`): stream keys behind the admin token. The token is asked once per
 * browser session and kept in `sessionStorage` (gone when the tab closes; never in a URL, so
 * never in history, logs or a Referer). Lists streams with their live state and viewers;
 * creates them; shows the OBS settings (Server + Bearer Token) and the player link to copy;
 * rotates a key and deletes a stream after a confirmation; shows a stream's recordings.
 */
import { ApiClient, ApiError, fetchStreamStatus, statusUrlOf } from './core/api.ts';
import type { Recording, StreamInfo } from './core/api.ts';
import { copyText, formatDuration, h, requireData, requireElement } from './ui/dom.ts';

const TOKEN_KEY = 'wisp.adminToken';
const REFRESH_MS = 10_000;

interface AdminContext {
  publicUrl: string;
  apiBase: string;
  root: HTMLElement;
  status: HTMLElement;
  signOut: HTMLButtonElement;
}

class AdminPage {
  readonly #c: AdminContext;
  #api: ApiClient | undefined;
  #list: HTMLElement | undefined;
  #keyPanel: HTMLElement | undefined;
  #refreshTimer: ReturnType<typeof setInterval> | undefined;
  readonly #openRecordings = new Set<string>();

  constructor(context: AdminContext) {
    this.#c = context;
    context.signOut.addEventListener('click', () => this.#signOut());
  }

  async start(): Promise<void> {
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) await this.#signIn(token, false);
    else this.#showSignIn();
  }

  #say(message: string): void {
    this.#c.status.textContent = message;
  }

  #showSignIn(message = ''): void {
    clearInterval(this.#refreshTimer);
    document.body.dataset.state = 'signed-out';
    this.#c.signOut.hidden = true;
    const input = h('input', {
      id: 'admin-token',
      name: 'token',
      type: 'password',
      autocomplete: 'current-password',
      spellcheck: 'false',
      required: true,
    });
    const form = h(
      'form',
      { id: 'sign-in', class: 'panel sign-in' },
      h('label', { class: 'field', for: 'admin-token' }, 'Admin token', input),
      h(
        'p',
        { class: 'hint' },
        'Printed by the server at start (ADMIN_TOKEN). Kept in this tab only.',
      ),
      h(
        'div',
        { class: 'actions' },
        h('button', { class: 'button primary', type: 'submit' }, 'Sign in'),
      ),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.#signIn(input.value.trim(), true);
    });
    this.#c.root.replaceChildren(form);
    this.#say(message);
    input.focus();
  }

  async #signIn(token: string, typed: boolean): Promise<void> {
    if (!token) return;
    const api = new ApiClient({ apiBase: this.#c.apiBase, token });
    try {
      await api.listStreams();
    } catch (error) {
      sessionStorage.removeItem(TOKEN_KEY);
      const refused = error instanceof ApiError && (error.status === 401 || error.status === 403);
      this.#showSignIn(refused ? 'The admin token was refused.' : messageOf(error));
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    this.#api = api;
    document.body.dataset.state = 'signed-in';
    this.#c.signOut.hidden = false;
    this.#renderShell();
    await this.#refresh();
    this.#say(typed ? 'Signed in.' : '');
    clearInterval(this.#refreshTimer);
    this.#refreshTimer = setInterval(() => void this.#refresh(), REFRESH_MS);
  }

  #signOut(): void {
    sessionStorage.removeItem(TOKEN_KEY);
    this.#api = undefined;
    this.#showSignIn('Signed out.');
  }

  #renderShell(): void {
    const name = h('input', {
      id: 'new-stream-name',
      name: 'name',
      type: 'text',
      maxlength: 200,
      placeholder: 'e.g. Friday talk',
      required: true,
    });
    const create = h(
      'form',
      { id: 'create-stream', class: 'panel create' },
      h('label', { class: 'field', for: 'new-stream-name' }, 'New stream', name),
      h(
        'div',
        { class: 'actions' },
        h('button', { class: 'button primary', type: 'submit' }, 'Create'),
      ),
    );
    create.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.#create(name.value.trim()).then(() => (name.value = ''));
    });
    this.#keyPanel = h('div', { id: 'key-panel' });
    this.#list = h('ul', { id: 'stream-list', class: 'stream-list', 'aria-label': 'Streams' });
    this.#c.root.replaceChildren(create, this.#keyPanel, this.#list);
  }

  async #refresh(): Promise<void> {
    const api = this.#api;
    if (!api || !this.#list) return;
    let streams: StreamInfo[];
    try {
      streams = await api.listStreams();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        this.#showSignIn('The admin token is no longer valid.');
        return;
      }
      this.#say(messageOf(error));
      return;
    }
    // Viewers come from the public status, which counts them across the cluster.
    const viewers = await Promise.all(
      streams.map((stream) =>
        stream.live
          ? fetchStreamStatus(statusUrlOf(this.#c.publicUrl, stream.id)).then(
              (status) => status.viewers,
              () => undefined,
            )
          : Promise.resolve(undefined),
      ),
    );
    const rows = streams
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .map((stream, index) => this.#row(stream, viewers[index]));
    this.#list.replaceChildren(
      ...(rows.length > 0
        ? rows
        : [h('li', { class: 'empty' }, 'No streams yet: create one above.')]),
    );
    for (const id of this.#openRecordings) void this.#loadRecordings(id);
  }

  #row(stream: StreamInfo, viewers: number | undefined): HTMLElement {
    const action = (label: string, name: string, run: () => unknown, extra = '') => {
      const button = h(
        'button',
        {
          class: `button small ${extra}`.trim(),
          type: 'button',
          'data-action': name,
          'aria-label': `${label}: ${stream.name}`,
        },
        label,
      );
      button.addEventListener('click', () => void run());
      return button;
    };
    const recordingsId = `recordings-${stream.id}`;
    const open = this.#openRecordings.has(stream.id);
    const recordingsButton = action('Recordings', 'recordings', () =>
      this.#toggleRecordings(stream.id),
    );
    recordingsButton.setAttribute('aria-expanded', String(open));
    recordingsButton.setAttribute('aria-controls', recordingsId);
    return h(
      'li',
      { class: 'stream-row', 'data-stream-id': stream.id, 'data-live': String(stream.live) },
      h(
        'div',
        { class: 'stream-head' },
        h('h2', { class: 'stream-name' }, stream.name),
        stream.live
          ? h('span', { class: 'wisp-badge', 'data-kind': 'live' }, 'LIVE')
          : h('span', { class: 'wisp-badge', 'data-kind': 'offline' }, 'offline'),
        viewers === undefined
          ? null
          : h('span', { class: 'viewers', 'data-viewers': String(viewers) }, `${viewers} watching`),
        h('code', { class: 'stream-id' }, stream.id),
      ),
      h(
        'div',
        { class: 'actions' },
        action('Copy OBS server', 'copy-server', () => this.#copy(stream.whipUrl, 'OBS server')),
        action('Copy player link', 'copy-player', () =>
          this.#copy(stream.playerUrl, 'Player link'),
        ),
        action('Copy embed', 'copy-embed', () =>
          this.#copy(embedSnippet(this.#c.publicUrl, stream), 'Embed snippet'),
        ),
        h(
          'a',
          { class: 'button small', href: stream.playerUrl, target: '_blank', rel: 'noopener' },
          'Open player',
        ),
        recordingsButton,
        action('Rotate key', 'rotate', () => this.#rotate(stream)),
        action('Delete', 'delete', () => this.#delete(stream), 'danger'),
      ),
      h('div', { id: recordingsId, class: 'recordings-panel', hidden: !open }),
    );
  }

  async #copy(text: string, what: string): Promise<void> {
    this.#say((await copyText(text)) ? `${what} copied.` : `Could not copy; ${what}: ${text}`);
  }

  async #create(name: string): Promise<void> {
    if (!name || !this.#api) return;
    try {
      const stream = await this.#api.createStream(name);
      this.#showKey(stream, 'created');
      this.#say(`Stream "${stream.name}" created.`);
    } catch (error) {
      this.#say(messageOf(error));
    }
    await this.#refresh();
  }

  async #rotate(stream: StreamInfo): Promise<void> {
    const ok = await confirmDialog(
      `Rotate the key of "${stream.name}"?`,
      'The current key stops working at once, and a live broadcast with it is cut off.',
      'Rotate key',
    );
    if (!ok || !this.#api) return;
    try {
      const rotated = await this.#api.rotateKey(stream.id);
      this.#showKey(rotated, 'rotated');
      this.#say(`The key of "${stream.name}" was rotated.`);
    } catch (error) {
      this.#say(messageOf(error));
    }
    await this.#refresh();
  }

  async #delete(stream: StreamInfo): Promise<void> {
    const ok = await confirmDialog(
      `Delete "${stream.name}"?`,
      'Its key and player link stop working. This cannot be undone.',
      'Delete',
    );
    if (!ok || !this.#api) return;
    try {
      await this.#api.deleteStream(stream.id);
      this.#say(`"${stream.name}" was deleted.`);
      if (this.#keyPanel?.dataset.streamId === stream.id) {
        this.#keyPanel.replaceChildren();
        delete this.#keyPanel.dataset.streamId;
      }
    } catch (error) {
      this.#say(messageOf(error));
    }
    await this.#refresh();
  }

  /** The key, once: OBS Server + Bearer Token with copy buttons, and the links. */
  #showKey(stream: StreamInfo & { streamKey: string }, how: 'created' | 'rotated'): void {
    const panel = this.#keyPanel;
    if (!panel) return;
    const row = (label: string, value: string, id: string, secret = false) => {
      const button = h(
        'button',
        { class: 'button small', type: 'button', 'data-copy': id },
        'Copy',
      );
      button.addEventListener('click', () => void this.#copy(value, label));
      return h(
        'div',
        { class: 'copy-row' },
        h('span', { class: 'copy-label' }, label),
        h('code', { id, class: secret ? 'masked' : undefined, 'data-value': value }, value),
        button,
      );
    };
    panel.dataset.streamId = stream.id;
    const dismiss = h('button', { class: 'button small', type: 'button' }, 'Done');
    dismiss.addEventListener('click', () => {
      panel.replaceChildren();
      delete panel.dataset.streamId;
    });
    panel.replaceChildren(
      h(
        'section',
        { class: 'panel key', 'aria-labelledby': 'key-title' },
        h('h2', { id: 'key-title' }, `Key ${how} for "${stream.name}"`),
        h('p', { class: 'hint' }, 'Shown only now: copy it into OBS (Settings → Stream → WHIP).'),
        row('Server', stream.whipUrl, 'key-server'),
        row('Bearer Token', stream.streamKey, 'key-token', true),
        row('Player', stream.playerUrl, 'key-player'),
        h(
          'p',
          {},
          h(
            'a',
            {
              href: `/publish?key=${encodeURIComponent(stream.streamKey)}`,
              target: '_blank',
              rel: 'noopener noreferrer',
            },
            'Go live from this browser',
          ),
        ),
        dismiss,
      ),
    );
  }

  async #toggleRecordings(streamId: string): Promise<void> {
    if (this.#openRecordings.has(streamId)) this.#openRecordings.delete(streamId);
    else this.#openRecordings.add(streamId);
    const row = this.#list?.querySelector(`[data-stream-id="${CSS.escape(streamId)}"]`);
    const panel = row?.querySelector<HTMLElement>('.recordings-panel');
    const button = row?.querySelector<HTMLElement>('[data-action="recordings"]');
    const open = this.#openRecordings.has(streamId);
    if (panel) panel.hidden = !open;
    button?.setAttribute('aria-expanded', String(open));
    if (open) await this.#loadRecordings(streamId);
  }

  async #loadRecordings(streamId: string): Promise<void> {
    const api = this.#api;
    const panel = this.#list
      ?.querySelector(`[data-stream-id="${CSS.escape(streamId)}"]`)
      ?.querySelector<HTMLElement>('.recordings-panel');
    if (!api || !panel) return;
    let recordings: Recording[];
    try {
      recordings = await api.listRecordings(streamId);
    } catch (error) {
      panel.replaceChildren(
        h(
          'p',
          { class: 'hint' },
          error instanceof ApiError && error.status === 404
            ? 'This server keeps no recordings.'
            : messageOf(error),
        ),
      );
      return;
    }
    if (recordings.length === 0) {
      panel.replaceChildren(h('p', { class: 'hint' }, 'No recordings yet.'));
      return;
    }
    panel.replaceChildren(
      h(
        'ul',
        { class: 'admin-recordings' },
        ...recordings.map((recording) => {
          const remove = h(
            'button',
            { class: 'button small danger', type: 'button', 'data-action': 'delete-recording' },
            'Delete',
          );
          remove.addEventListener('click', () => void this.#deleteRecording(recording));
          const playable = recording.status === 'ready' || recording.status === 'recording';
          return h(
            'li',
            { 'data-recording-id': recording.id, 'data-status': recording.status },
            h('span', { class: 'wisp-badge', 'data-kind': recording.status }, recording.status),
            h('span', {}, new Date(recording.startedAt).toLocaleString()),
            h(
              'span',
              {},
              recording.durationSeconds === null ? '' : formatDuration(recording.durationSeconds),
            ),
            recording.error ? h('span', { class: 'hint' }, recording.error) : null,
            playable
              ? h(
                  'a',
                  {
                    class: 'button small',
                    href: `${this.#c.publicUrl}/watch/${encodeURIComponent(recording.streamId)}?recording=${encodeURIComponent(recording.id)}`,
                    target: '_blank',
                    rel: 'noopener',
                  },
                  'Watch',
                )
              : null,
            remove,
          );
        }),
      ),
    );
  }

  async #deleteRecording(recording: Recording): Promise<void> {
    const ok = await confirmDialog(
      'Delete this recording?',
      'Its video is removed for good.',
      'Delete',
    );
    if (!ok || !this.#api) return;
    try {
      await this.#api.deleteRecording(recording.id);
      this.#say('The recording was deleted.');
    } catch (error) {
      this.#say(messageOf(error));
    }
    await this.#loadRecordings(recording.streamId);
  }
}

function embedSnippet(publicUrl: string, stream: StreamInfo): string {
  return (
    `<script type="module" src="${publicUrl}/player/embed.js"></script>\n` +
    `<wisp-player src="${stream.playerUrl}" autoplay muted></wisp-player>`
  );
}

function messageOf(error: unknown): string {
  if (error instanceof ApiError) return `${error.title}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * A modal confirmation (`<dialog>`: focus moves into it, Escape cancels, focus returns).
 * Resolves true only for the confirm button.
 */
function confirmDialog(title: string, text: string, confirmLabel: string): Promise<boolean> {
  const cancel = h('button', { class: 'button', type: 'button', value: 'cancel' }, 'Cancel');
  const confirm = h(
    'button',
    { class: 'button danger', type: 'button', value: 'confirm', id: 'confirm-ok' },
    confirmLabel,
  );
  const dialog = h(
    'dialog',
    {
      id: 'confirm',
      class: 'panel dialog',
      'aria-labelledby': 'confirm-title',
      'aria-describedby': 'confirm-text',
    },
    h('h2', { id: 'confirm-title' }, title),
    h('p', { id: 'confirm-text' }, text),
    h('div', { class: 'actions' }, cancel, confirm),
  );
  document.body.append(dialog);
  const before = document.activeElement as HTMLElement | null;
  return new Promise<boolean>((resolve) => {
    let result = false;
    cancel.addEventListener('click', () => dialog.close());
    confirm.addEventListener('click', () => {
      result = true;
      dialog.close();
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      before?.focus();
      resolve(result);
    });
    dialog.showModal();
    cancel.focus();
  });
}

function main(): void {
  const root = requireElement('wisp', HTMLElement);
  const page = new AdminPage({
    apiBase: requireData(root, 'apiBase'),
    publicUrl: requireData(root, 'publicUrl'),
    root: requireElement('admin-root', HTMLElement),
    status: requireElement('status', HTMLElement),
    signOut: requireElement('sign-out', HTMLButtonElement),
  });
  void page.start();
}

main();
