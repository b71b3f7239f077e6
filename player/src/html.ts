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

/** A speaker with a cross (no emoji: many systems lack an emoji font). */
const MUTED_ICON =
  '<svg class="icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">' +
  '<path fill="currentColor" d="M3 9v6h4l5 5V4L7 9H3z"/>' +
  '<path d="M16 9l6 6M22 9l-6 6" stroke="currentColor" stroke-width="2" stroke-linecap="round"/>' +
  '</svg>';

export interface WatchPageData {
  streamId: string;
  /** Absolute WHEP endpoint of the stream, `{PUBLIC_URL}/whep/:id`. */
  whepUrl: string;
  /** URL path under which the built assets are served, without a trailing slash. */
  assetBase: string;
}

export interface PublishPageData {
  /** Absolute WHIP endpoint, `{PUBLIC_URL}/whip`. */
  whipUrl: string;
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
<main id="wisp" class="watch" data-stream-id="${escapeHtml(data.streamId)}" data-whep-url="${escapeHtml(data.whepUrl)}">
<div class="stage">
<video id="video" data-state="connecting" muted autoplay playsinline></video>
<p id="stage-message" class="stage-message">Connecting…</p>
<button id="unmute" class="overlay-button" type="button" data-mode="unmute" hidden>${MUTED_ICON}<span id="unmute-label">Unmute</span></button>
</div>
<p id="status" class="status" role="status" aria-live="polite">Connecting…</p>
<noscript><p class="status">The player needs JavaScript.</p></noscript>
</main>
</body>
</html>
`;
}

export function renderPublishPage(data: PublishPageData): string {
  return `${head('Go live · wisp', data.assetBase, 'publish.js')}
<body data-state="idle">
<main id="wisp" class="publish" data-whip-url="${escapeHtml(data.whipUrl)}">
<h1>Go live from this browser</h1>
<div class="controls">
<label class="field" for="key">Stream key
<input id="key" name="key" type="password" autocomplete="off" spellcheck="false" placeholder="Paste your stream key">
</label>
<button id="go-live" class="button primary" type="button">Go Live</button>
<button id="stop" class="button" type="button" disabled>Stop</button>
</div>
<div class="stage">
<video id="preview" muted autoplay playsinline></video>
</div>
<p id="status" class="status" role="status" aria-live="polite">Enter your stream key and press Go Live.</p>
<noscript><p class="status">Publishing needs JavaScript.</p></noscript>
</main>
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
