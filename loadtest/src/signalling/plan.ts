/**
 * How much load each part of the signalling benchmark sends, per benchmark size. `smoke`
 * proves the chain in a few seconds; `full` takes about a minute and a half on two cores.
 * Every level is bounded in count and in time.
 */
import type { BenchSize } from '../bench/types.ts';
import type { LevelLimits } from './sessionLoad.ts';

export interface IceLevel {
  concurrency: number;
  sessions: number;
}

export interface SignallingPlan {
  /** Concurrency levels of the HTTP-only WHIP and WHEP runs. */
  sessionLevels: number[];
  session: LevelLimits;
  /** Concurrency levels of the stream-key API run. */
  apiLevels: number[];
  api: LevelLimits;
  iceLevels: IceLevel[];
  /** Time bound of one ICE level. */
  iceMaxDurationMs: number;
  /** Bound of each wait of one ICE session (connect, first packet, close). */
  iceSessionTimeoutMs: number;
}

export function signallingPlan(size: BenchSize): SignallingPlan {
  if (size === 'smoke') {
    return {
      sessionLevels: [1, 4, 16],
      session: { maxTasks: 40, maxDurationMs: 500, taskTimeoutMs: 5000, warmupTasks: 4 },
      apiLevels: [1, 4, 16],
      api: { maxTasks: 20, maxDurationMs: 500, taskTimeoutMs: 5000, warmupTasks: 2 },
      iceLevels: [
        { concurrency: 1, sessions: 3 },
        { concurrency: 4, sessions: 4 },
      ],
      iceMaxDurationMs: 5000,
      iceSessionTimeoutMs: 5000,
    };
  }
  return {
    sessionLevels: [1, 4, 16],
    session: { maxTasks: 100_000, maxDurationMs: 8000, taskTimeoutMs: 10_000, warmupTasks: 20 },
    apiLevels: [1, 4, 16],
    api: { maxTasks: 100_000, maxDurationMs: 5000, taskTimeoutMs: 10_000, warmupTasks: 10 },
    iceLevels: [
      { concurrency: 1, sessions: 32 },
      { concurrency: 4, sessions: 64 },
    ],
    iceMaxDurationMs: 20_000,
    iceSessionTimeoutMs: 8000,
  };
}
