import { PeerTimeoutError } from './errors.ts';

/**
 * Races a promise against a timer. The timer is always cleared, so a settled wait never keeps
 * the event loop alive.
 */
export async function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PeerTimeoutError(what, timeoutMs)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `condition` every `intervalMs` until it returns true, or rejects with a
 * `PeerTimeoutError`. Used where the native libraries offer callbacks but no promises.
 */
export async function waitUntil(
  condition: () => boolean,
  timeoutMs: number,
  what: string,
  intervalMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() >= deadline) throw new PeerTimeoutError(what, timeoutMs);
    await sleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
