/**
 * A small closed-loop load driver: `concurrency` workers each run one task at a time until
 * the task count or the duration is used up, so exactly `concurrency` tasks are in flight at
 * any moment (fewer only at the very end). Every run is bounded twice: in count
 * (`maxTasks`) and in time (no task starts after `maxDurationMs`, and a task still running
 * `taskTimeoutMs` after it started is aborted and counted as a timeout).
 *
 * A task is one unit of work as a client sees it (for WHIP: POST the offer, then DELETE the
 * session). The driver times the whole task; the task may add its own per-phase timings.
 */
import { summarizeLatencies, type LatencySummary } from './latencyStats.ts';

export interface LoadTaskContext {
  /** 0-based number of the task in this run. */
  index: number;
  /** 0-based worker running it: no two tasks of one worker overlap in time. */
  worker: number;
  /** Aborted when the task has run for `taskTimeoutMs`; pass it to fetch(). */
  signal: AbortSignal;
}

export interface LoadTaskResult {
  ok: boolean;
  /**
   * What happened, for the status table: the HTTP status that decided the outcome (e.g. 201),
   * or a word such as `network` when no response arrived.
   */
  status: number | string;
  /** Why a failed task failed (the first message per status is kept for the report). */
  message?: string;
  /** Milliseconds per phase (e.g. `setup`, `teardown`), summarised separately. */
  phases?: Record<string, number>;
  /** HTTP requests the task made. Default 1. */
  requests?: number;
}

export type LoadTask = (context: LoadTaskContext) => Promise<LoadTaskResult>;

export interface LoadOptions {
  /** Tasks in flight at once (workers). A positive integer. */
  concurrency: number;
  /** The count bound: at most this many tasks start. A positive integer. */
  maxTasks: number;
  /** The time bound: no task starts later than this after the run began. */
  maxDurationMs: number;
  /** A task still running this long after it started is abandoned (status `timeout`). */
  taskTimeoutMs: number;
  task: LoadTask;
  /** Milliseconds clock; `performance.now` by default (tests may inject one). */
  now?: () => number;
}

export interface LoadResult {
  concurrency: number;
  started: number;
  succeeded: number;
  failed: number;
  /** From the start of the run to the end of its last task. */
  elapsedMs: number;
  /** Successful tasks per second of `elapsedMs`. */
  tasksPerS: number;
  /** Requests of all tasks (successful or not) per second of `elapsedMs`. */
  requestsPerS: number;
  requests: number;
  /** Whole-task latency of the successful tasks. */
  latency: LatencySummary;
  /** Per-phase latency, from the phases the successful tasks reported. */
  phases: Record<string, LatencySummary>;
  /** Outcomes by status, successful and failed (e.g. `{ "201": 480, "timeout": 1 }`). */
  statuses: Record<string, number>;
  /** Failed outcomes only, by status. */
  errors: Record<string, number>;
  /** The first error message seen for each failed status, to tell what went wrong. */
  errorMessages: Record<string, string>;
  /** The most tasks ever in flight at once (never more than `concurrency`). */
  maxInFlight: number;
  /** Which bound ended the run. */
  stoppedBy: 'count' | 'time';
}

/** Thrown by a task to report a failed outcome with a status, without building a result. */
export class LoadTaskError extends Error {
  readonly status: number | string;

  constructor(status: number | string, message: string) {
    super(message);
    this.name = new.target.name;
    this.status = status;
  }
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new TypeError(`${name} must be a positive integer, got ${value}`);
  }
}

function positiveFinite(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new TypeError(`${name} must be a positive finite number, got ${value}`);
  }
}

/** The status of a thrown error: a `LoadTaskError`'s, `timeout` for aborts, else `exception`. */
function statusOfError(error: unknown, signal: AbortSignal): number | string {
  if (error instanceof LoadTaskError) return error.status;
  if (signal.aborted) return 'timeout';
  if (
    error instanceof Error &&
    'status' in error &&
    typeof error.status === 'number' &&
    error.status > 0
  ) {
    return error.status;
  }
  return 'exception';
}

/**
 * Runs one task under a timeout. Never rejects: a thrown error or the timeout become a failed
 * result. A task that ignores its abort signal is left behind (its late settlement is
 * swallowed) so the run still ends on time.
 */
async function runOne(
  task: LoadTask,
  index: number,
  worker: number,
  timeoutMs: number,
): Promise<LoadTaskResult> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<LoadTaskResult>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new Error(`task ${index} timed out after ${timeoutMs} ms`));
      resolve({ ok: false, status: 'timeout', message: `no result after ${timeoutMs} ms` });
    }, timeoutMs);
  });
  const running = (async (): Promise<LoadTaskResult> => {
    try {
      return await task({ index, worker, signal: controller.signal });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return { ok: false, status: statusOfError(error, controller.signal), message };
    }
  })();
  try {
    return await Promise.race([running, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { concurrency, maxTasks, maxDurationMs, taskTimeoutMs, task } = options;
  positiveInteger('concurrency', concurrency);
  positiveInteger('maxTasks', maxTasks);
  positiveFinite('maxDurationMs', maxDurationMs);
  positiveFinite('taskTimeoutMs', taskTimeoutMs);
  const now = options.now ?? (() => performance.now());

  const startedAt = now();
  const deadline = startedAt + maxDurationMs;
  const latencies: number[] = [];
  const phaseSamples = new Map<string, number[]>();
  const statuses: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const errorMessages: Record<string, string> = {};
  let started = 0;
  let succeeded = 0;
  let failed = 0;
  let requests = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let stoppedBy: LoadResult['stoppedBy'] = 'count';

  const worker = async (workerIndex: number): Promise<void> => {
    // Bounded by maxTasks (the shared counter only grows) and by the deadline.
    while (started < maxTasks) {
      if (now() >= deadline) {
        stoppedBy = 'time';
        return;
      }
      const index = started++;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const taskStartedAt = now();
      const result = await runOne(task, index, workerIndex, taskTimeoutMs);
      const latency = now() - taskStartedAt;
      inFlight--;
      const key = String(result.status);
      statuses[key] = (statuses[key] ?? 0) + 1;
      requests += result.requests ?? 1;
      if (result.ok) {
        succeeded++;
        latencies.push(latency);
        for (const [phase, ms] of Object.entries(result.phases ?? {})) {
          let samples = phaseSamples.get(phase);
          if (!samples) phaseSamples.set(phase, (samples = []));
          samples.push(ms);
        }
      } else {
        failed++;
        errors[key] = (errors[key] ?? 0) + 1;
        errorMessages[key] ??= result.message ?? '';
      }
    }
  };

  await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
  const elapsedMs = Math.max(now() - startedAt, Number.EPSILON);
  const phases: Record<string, LatencySummary> = {};
  for (const [phase, samples] of phaseSamples) phases[phase] = summarizeLatencies(samples);
  return {
    concurrency,
    started,
    succeeded,
    failed,
    elapsedMs,
    tasksPerS: succeeded / (elapsedMs / 1000),
    requestsPerS: requests / (elapsedMs / 1000),
    requests,
    latency: summarizeLatencies(latencies),
    phases,
    statuses,
    errors,
    errorMessages,
    maxInFlight,
    stoppedBy,
  };
}

/** `{ "409": 2, "timeout": 1 }` as `409 x2, timeout x1`, or `none`. */
export function formatCounts(counts: Record<string, number>): string {
  const entries = Object.entries(counts);
  if (entries.length === 0) return 'none';
  return entries.map(([status, count]) => `${status} x${count}`).join(', ');
}
