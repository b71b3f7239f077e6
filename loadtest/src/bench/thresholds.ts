/**
 * Regression thresholds live in loadtest/thresholds.json (in the repo, read by the runner).
 * Per size: `required` metrics must be present and finite; `max`/`min` bound a metric.
 * Smoke thresholds only catch gross breakage (no media, latency over a second), never the
 * noise of a busy 2-core machine.
 */
import { readFileSync } from 'node:fs';
import type { BenchSize, ScenarioResult } from './types.ts';

export interface ThresholdRule {
  max?: number;
  min?: number;
}

export interface ThresholdFile {
  [size: string]: { required: string[]; rules: Record<string, ThresholdRule> };
}

export interface ThresholdCheck {
  key: string;
  value: number | undefined;
  rule: string;
  ok: boolean;
}

export function loadThresholds(file: string): ThresholdFile {
  return JSON.parse(readFileSync(file, 'utf8')) as ThresholdFile;
}

export function checkThresholds(
  thresholds: ThresholdFile,
  size: BenchSize,
  results: ScenarioResult[],
  scenarios: string[],
): ThresholdCheck[] {
  const forSize = thresholds[size];
  if (!forSize) return [];
  const values = new Map(results.flatMap((r) => r.metrics.map((m) => [m.key, m.value] as const)));
  // Only check metrics of the scenarios that were asked for.
  const relevant = (key: string): boolean => scenarios.includes(key.split('.')[0]);
  const checks: ThresholdCheck[] = [];
  for (const key of forSize.required.filter(relevant)) {
    const value = values.get(key);
    checks.push({
      key,
      value,
      rule: 'present and finite',
      ok: value !== undefined && Number.isFinite(value),
    });
  }
  for (const [key, rule] of Object.entries(forSize.rules)) {
    if (!relevant(key)) continue;
    const value = values.get(key);
    const parts: string[] = [];
    let ok = value !== undefined && Number.isFinite(value);
    if (rule.max !== undefined) {
      parts.push(`<= ${rule.max}`);
      ok &&= value! <= rule.max;
    }
    if (rule.min !== undefined) {
      parts.push(`>= ${rule.min}`);
      ok &&= value! >= rule.min;
    }
    checks.push({ key, value, rule: parts.join(' and '), ok });
  }
  return checks;
}
