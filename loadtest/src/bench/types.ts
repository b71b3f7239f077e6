/**
 * The contract between the benchmark runner (`npm run bench`, loadtest/src/bench/run.ts) and
 * its scenarios. A scenario measures, returns numbers and tables, and never decides pass or
 * fail: the runner compares metrics with loadtest/thresholds.json.
 */

/** How big a run is: `smoke` proves the chain in seconds (CI), `full` is the real measurement. */
export type BenchSize = 'smoke' | 'full';

export interface BenchContext {
  size: BenchSize;
  /** Progress for long runs (the runner prints it; one line per call). */
  progress(message: string): void;
}

export interface Metric {
  /** Stable key used by thresholds, e.g. `latency.edge.p50_ms`. */
  key: string;
  /** Human label for the report. */
  label: string;
  value: number;
  unit: string;
}

export interface Table {
  title: string;
  columns: string[];
  rows: (string | number)[][];
}

export interface ScenarioResult {
  scenario: string;
  metrics: Metric[];
  tables: Table[];
  /** Sentences for the report: method, caveats, what was measured side by side. */
  notes: string[];
}

export type Scenario = (context: BenchContext) => Promise<ScenarioResult>;
