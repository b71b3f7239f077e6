/**
 * `npm run bench [-- --size smoke|full] [--scenario latency,ttff,capacity,signalling]
 * [--out loadtest/reports] [--strict]`
 *
 * Runs the scenarios one after another on this machine (each starts its own platform on
 * loopback), prints their numbers, writes a JSON and a Markdown report, and checks
 * loadtest/thresholds.json. Exit code: 1 if a scenario could not run or a threshold of the
 * chosen size failed (smoke thresholds only catch gross breakage; full thresholds fail only
 * with --strict), 0 otherwise.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { markdownTable, renderMarkdown, type BenchReport } from './report.ts';
import { checkThresholds, loadThresholds } from './thresholds.ts';
import type { BenchSize, Scenario, ScenarioResult } from './types.ts';

const root = path.resolve(import.meta.dirname, '..', '..', '..');

/** Scenarios load lazily so one that fails to import does not stop the others. */
const SCENARIOS: Record<string, () => Promise<Scenario>> = {
  latency: async () => (await import('../latency/index.ts')).runLatencyScenario,
  ttff: async () => (await import('../swarm/index.ts')).runTtffScenario,
  capacity: async () => (await import('../capacity/index.ts')).runCapacityScenario,
  signalling: async () => (await import('../signalling/index.ts')).runSignallingScenario,
};

function machine(): Record<string, string | number> {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root }).toString().trim();
  } catch {
    // Not a git checkout.
  }
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    commit,
  };
}

function log(message: string): void {
  process.stdout.write(`${message}\n`);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      size: { type: 'string', default: 'full' },
      scenario: { type: 'string', default: Object.keys(SCENARIOS).join(',') },
      out: { type: 'string', default: path.join(root, 'loadtest', 'reports') },
      thresholds: { type: 'string', default: path.join(root, 'loadtest', 'thresholds.json') },
      strict: { type: 'boolean', default: false },
    },
  });
  const size = values.size as BenchSize;
  if (size !== 'smoke' && size !== 'full') throw new Error('--size must be smoke or full');
  const names = values.scenario
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const name of names) {
    if (!SCENARIOS[name])
      throw new Error(`unknown scenario "${name}" (${Object.keys(SCENARIOS).join(', ')})`);
  }

  const startedAt = new Date();
  const results: ScenarioResult[] = [];
  const failures: BenchReport['failures'] = [];
  for (const name of names) {
    const began = Date.now();
    log(`\n== ${name} (${size})`);
    try {
      const scenario = await SCENARIOS[name]();
      const result = await scenario({ size, progress: (m) => log(`   ${name}: ${m}`) });
      results.push(result);
      log(
        markdownTable({
          columns: ['metric', 'value', 'unit'],
          rows: result.metrics.map((m) => [m.key, m.value, m.unit]),
        }),
      );
      log(`   ${name} done in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      failures.push({ scenario: name, error: message.split('\n').slice(0, 4).join(' | ') });
      log(`   ${name} FAILED: ${message}`);
    }
  }

  const checks = checkThresholds(loadThresholds(values.thresholds), size, results, names);
  const report: BenchReport = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    size,
    machine: machine(),
    results,
    failures,
    checks,
  };
  mkdirSync(values.out, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const base = path.join(values.out, `${stamp}-${size}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${base}.md`, renderMarkdown(report));
  writeFileSync(
    path.join(values.out, `latest-${size}.json`),
    `${JSON.stringify(report, null, 2)}\n`,
  );
  writeFileSync(path.join(values.out, `latest-${size}.md`), renderMarkdown(report));

  const failed = checks.filter((c) => !c.ok);
  log(`\nreport: ${base}.md`);
  for (const c of checks)
    log(`   ${c.ok ? 'ok  ' : 'FAIL'} ${c.key} = ${c.value ?? 'missing'} (${c.rule})`);
  if (failures.length > 0) return 1;
  if (failed.length > 0 && (size === 'smoke' || values.strict)) return 1;
  return 0;
}

// wrtc crashes in a finalizer at normal process exit, so exit explicitly.
main()
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
