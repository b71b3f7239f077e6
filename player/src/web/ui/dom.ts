/** Small DOM helpers shared by the page entry points. */

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

/** A DOMException's or Error's name, for user-facing messages (`NotAllowedError`). */
export function errorName(error: unknown): string {
  return error instanceof Error || error instanceof DOMException ? error.name : 'Error';
}

/**
 * The one place browser code writes to the console: problems the page recovers from but a
 * developer looking at devtools wants to see.
 */
export function warn(message: string, error?: unknown): void {
  // eslint-disable-next-line no-console -- browser diagnostics; there is no logger in the page.
  console.warn(`wisp: ${message}`, error);
}
