/**
 * The HTML of the player pages. Everything interpolated goes through `escapeHtml`; the data the
 * scripts need (endpoints, stream id) travels in `data-*` attributes of `#wisp`, never inside a
 * script, so no JavaScript-context escaping is needed.
 */

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char);
}

export interface WatchPageData {
  streamId: string;
  /** Absolute WHEP endpoint of the stream, `{PUBLIC_URL}/whep/:id`. */
  whepUrl: string;
  /** Absolute public status URL, `{PUBLIC_URL}/watch/:id/status`. */
  statusUrl: string;
  /** URL path under which the built assets are served, without a trailing slash. */
  assetBase: string;
}

export interface PublishPageData {
  /** Absolute WHIP endpoint, `{PUBLIC_URL}/whip`. */
  whipUrl: string;
  assetBase: string;
}

export interface AdminPageData {
  /** Absolute base of the admin API, `{PUBLIC_URL}/api`. */
  apiBase: string;
  /** `PUBLIC_URL` (for the embed snippets it shows). */
  publicUrl: string;
  assetBase: string;
}

export interface EmbedPageData {
  /** The player URL the element plays, `{PUBLIC_URL}/watch/:id`. */
  src: string;
  muted: boolean;
  autoplay: boolean;
  stats: boolean;
  assetBase: string;
}

function head(title: string, assetBase: string, entry: string): string {
  const base = escapeHtml(assetBase);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="dark">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${base}/player.css">
<script type="module" src="${base}/${entry}"></script>
</head>`;
}

export function renderWatchPage(data: WatchPageData): string {
  return `${head(`${data.streamId} · wisp live`, data.assetBase, 'watch.js')}
<body data-state="connecting">
<main id="wisp" class="watch" data-stream-id="${escapeHtml(data.streamId)}" data-whep-url="${escapeHtml(data.whepUrl)}" data-status-url="${escapeHtml(data.statusUrl)}" data-hls-url="${escapeHtml(data.assetBase)}/hls.js">
<div id="player" class="watch-player"></div>
<section class="watch-info">
<h1 id="stream-name">${escapeHtml(data.streamId)}</h1>
<p id="status" class="status">Connecting…</p>
<button id="watch-live" class="button primary" type="button" hidden>Watch live</button>
</section>
<section id="recordings" class="recordings" aria-labelledby="recordings-title" hidden>
<h2 id="recordings-title">Recordings</h2>
<ul id="recording-list" class="recording-list"></ul>
</section>
<noscript><p class="status">The player needs JavaScript.</p></noscript>
</main>
</body>
</html>
`;
}

export function renderPublishPage(data: PublishPageData): string {
  return `${head('Go live · wisp', data.assetBase, 'publish.js')}
<body data-state="idle">
<main id="wisp" class="page publish" data-whip-url="${escapeHtml(data.whipUrl)}">
<h1>Go live from this browser</h1>
<div class="publish-grid">
<div class="publish-preview">
<div class="stage">
<video id="preview" muted autoplay playsinline aria-label="Camera preview"></video>
<span id="live-badge" class="wisp-badge" data-kind="live" hidden>LIVE <span id="duration">0:00</span></span>
</div>
<p id="status" class="status" role="status" aria-live="polite">Enter your stream key and press Go Live.</p>
</div>
<form id="publish-form" class="panel" autocomplete="off">
<label class="field" for="key">Stream key
<input id="key" name="key" type="password" autocomplete="off" spellcheck="false" placeholder="Paste your stream key">
</label>
<label class="field" for="camera">Camera
<select id="camera" name="camera"><option value="">Default camera</option></select>
</label>
<label class="field" for="microphone">Microphone
<select id="microphone" name="microphone"><option value="">Default microphone</option><option value="none">No microphone</option></select>
</label>
<div class="field-row">
<label class="field" for="resolution">Resolution
<select id="resolution" name="resolution">
<option value="360">360p</option>
<option value="540">540p</option>
<option value="720" selected>720p</option>
<option value="1080">1080p</option>
</select>
</label>
<label class="field" for="bitrate">Video bitrate
<select id="bitrate" name="bitrate">
<option value="800">0.8 Mbit/s</option>
<option value="1500">1.5 Mbit/s</option>
<option value="2500" selected>2.5 Mbit/s</option>
<option value="4000">4 Mbit/s</option>
<option value="6000">6 Mbit/s</option>
</select>
</label>
</div>
<label class="check" for="simulcast"><input id="simulcast" name="simulcast" type="checkbox"> Simulcast (3 qualities for viewers to choose from)</label>
<div class="actions">
<button id="go-live" class="button primary" type="submit">Go Live</button>
<button id="stop" class="button" type="button" disabled>Stop</button>
</div>
</form>
</div>
<section class="panel obs" aria-labelledby="obs-title">
<h2 id="obs-title">Stream from OBS instead</h2>
<p>In OBS: Settings → Stream → Service <strong>WHIP</strong>, then:</p>
<div class="copy-row"><span class="copy-label">Server</span><code id="obs-server">${escapeHtml(data.whipUrl)}</code><button class="button small" type="button" data-copy="obs-server">Copy</button></div>
<div class="copy-row"><span class="copy-label">Bearer Token</span><code id="obs-token" class="masked">your stream key</code><button class="button small" type="button" data-copy="obs-token">Copy</button></div>
</section>
<noscript><p class="status">Publishing needs JavaScript.</p></noscript>
</main>
</body>
</html>
`;
}

export function renderAdminPage(data: AdminPageData): string {
  return `${head('Streams · wisp admin', data.assetBase, 'admin.js')}
<body data-state="signed-out">
<main id="wisp" class="page admin" data-api-base="${escapeHtml(data.apiBase)}" data-public-url="${escapeHtml(data.publicUrl)}">
<header class="admin-header">
<h1>Streams</h1>
<button id="sign-out" class="button" type="button" hidden>Sign out</button>
</header>
<p id="status" class="status" role="status" aria-live="polite"></p>
<noscript><p class="status">The admin page needs JavaScript.</p></noscript>
<div id="admin-root"></div>
</main>
</body>
</html>
`;
}

/** The iframe form of the player: `<wisp-player>` filling the frame. */
export function renderEmbedPage(data: EmbedPageData): string {
  const flags = [data.muted && 'muted', data.autoplay && 'autoplay', data.stats && 'stats']
    .filter(Boolean)
    .join(' ');
  return `${head('wisp player', data.assetBase, 'embed.js')}
<body class="embed">
<wisp-player src="${escapeHtml(data.src)}" ${flags}></wisp-player>
</body>
</html>
`;
}

/**
 * A page with a title and one sentence (404, 503). It carries its own few styles because it
 * must render even when the built assets are missing.
 */
export function renderMessagePage(title: string, message: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="dark">
<title>${escapeHtml(title)} · wisp</title>
<link rel="icon" href="data:,">
<style>
body{margin:0;background:#0b0d10;color:#e8eaed;font:15px/1.45 system-ui,sans-serif}
main{max-width:40rem;margin:15vh auto 0;padding:1rem;text-align:center}
p{color:#9aa0a6}
</style>
</head>
<body data-state="error">
<main>
<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(message)}</p>
</main>
</body>
</html>
`;
}
