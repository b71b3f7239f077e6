/**
 * The one place browser code writes to the console: problems the player recovers from but a
 * developer looking at devtools wants to see.
 */
export function warn(message: string, error?: unknown): void {
  // eslint-disable-next-line no-console -- browser diagnostics; there is no logger in the page.
  console.warn(`wisp: ${message}`, error);
}

/** A DOMException's or Error's name, for messages (`NotAllowedError`). */
export function errorName(error: unknown): string {
  return error instanceof Error || error instanceof DOMException ? error.name : 'Error';
}
