/** Small DOM helpers shared by the page entry points and the player view. */

/** Returns the element with `id`, checking its class; a missing element is a page bug. */
export function requireElement<T extends HTMLElement>(
  id: string,
  type: abstract new (...args: never[]) => T,
): T {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`wisp: element #${id} is missing`);
  return element;
}

/** Reads a required `data-*` attribute of the page's config element. */
export function requireData(element: HTMLElement, name: string): string {
  const value = element.dataset[name];
  if (!value) throw new Error(`wisp: data-${name} is missing on #${element.id}`);
  return value;
}

type Child = Node | string | null | undefined | false;

/**
 * Creates an element: `h('button', { class: 'x', type: 'button' }, 'Label')`. Attributes with
 * the value `false` or undefined are left out; `true` sets an empty attribute. Text children
 * become text nodes, so nothing passed here is parsed as HTML.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === undefined) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child);
  }
  return element;
}

const SVG = 'http://www.w3.org/2000/svg';

/** An inline icon from path data (no emoji: many systems lack an emoji font). */
export function icon(paths: string[], strokes: string[] = []): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '18');
  svg.setAttribute('height', '18');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'wisp-icon');
  for (const d of paths) {
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', d);
    path.setAttribute('fill', 'currentColor');
    svg.append(path);
  }
  for (const d of strokes) {
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', d);
    path.setAttribute('fill', 'none');
    path.setAttribute('stroke', 'currentColor');
    path.setAttribute('stroke-width', '2');
    path.setAttribute('stroke-linecap', 'round');
    svg.append(path);
  }
  return svg;
}

/**
 * Copies text to the clipboard. `navigator.clipboard` exists only in secure contexts (https,
 * localhost); elsewhere the text is put in a temporary field and copied the old way.
 */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // Permission refused or not focused: try the fallback below.
  }
  const field = h('textarea', { readonly: true, 'aria-hidden': 'true', class: 'wisp-offscreen' });
  field.value = text;
  document.body.append(field);
  field.select();
  let copied: boolean;
  try {
    // Deprecated, but the only way without the clipboard API.
    copied = document.execCommand('copy');
  } catch {
    copied = false;
  }
  field.remove();
  return copied;
}

/** `1:02:03` or `2:03` from seconds. */
export function formatDuration(totalSeconds: number): string {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(s).padStart(2, '0')}`;
}
