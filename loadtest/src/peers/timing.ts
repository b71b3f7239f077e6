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
 * Polls `condition` (sync, or async such as an HTTP check) every `intervalMs` until it returns
 * true, or rejects with a `PeerTimeoutError`. Used where the native libraries offer callbacks
 * but no promises, and by the benchmarks to wait on a cluster's registry.
 */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  intervalMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() >= deadline) throw new PeerTimeoutError(what, timeoutMs);
    await sleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
