/**
 * Turns scenario results into the two report files: JSON (for machines and regression
 * tracking) and Markdown (for people: a table per scenario, a bar chart per distribution).
 */
import type { ScenarioResult, Table } from './types.ts';
import type { ThresholdCheck } from './thresholds.ts';

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  size: string;
  machine: Record<string, string | number>;
  results: ScenarioResult[];
  failures: { scenario: string; error: string }[];
  checks: ThresholdCheck[];
}

function cell(value: string | number): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return String(value);
    return Number.isInteger(value) ? String(value) : value.toFixed(value < 10 ? 2 : 1);
  }
  return value.replace(/\|/g, '\\|');
}

export function markdownTable(table: Pick<Table, 'columns' | 'rows'>): string {
  const lines = [
    `| ${table.columns.map(cell).join(' | ')} |`,
    `|${table.columns.map(() => '---').join('|')}|`,
    ...table.rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ];
  return lines.join('\n');
}

/** A horizontal bar chart in a code block: one bar per (label, value), scaled to the max. */
export function barChart(
  title: string,
  bars: { label: string; value: number }[],
  unit: string,
): string {
  const finite = bars.filter((b) => Number.isFinite(b.value));
  if (finite.length === 0) return '';
  const max = Math.max(...finite.map((b) => b.value), 1e-9);
  const width = Math.max(...finite.map((b) => b.label.length));
  const lines = finite.map((b) => {
    const length = Math.round((b.value / max) * 40);
    return `${b.label.padEnd(width)} ${'█'.repeat(length)}${length === 0 ? '▏' : ''} ${cell(b.value)} ${unit}`;
  });
  return [`**${title}**`, '', '```', ...lines, '```'].join('\n');
}

export function renderMarkdown(report: BenchReport): string {
  const out: string[] = [];
  out.push(`# wisp benchmark report (${report.size})`, '');
  out.push(`Run ${report.startedAt} to ${report.finishedAt}.`, '');
  out.push('## Machine', '');
  out.push(
    markdownTable({
      columns: ['property', 'value'],
      rows: Object.entries(report.machine).map(([k, v]) => [k, v]),
    }),
    '',
  );
  out.push('## Headline metrics', '');
  out.push(
    markdownTable({
      columns: ['metric', 'value', 'unit', 'key'],
      rows: report.results.flatMap((r) => r.metrics.map((m) => [m.label, m.value, m.unit, m.key])),
    }),
    '',
  );
  if (report.checks.length > 0) {
    out.push('## Thresholds (loadtest/thresholds.json)', '');
    out.push(
      markdownTable({
        columns: ['key', 'value', 'rule', 'result'],
        rows: report.checks.map((c) => [c.key, c.value ?? 'missing', c.rule, c.ok ? 'ok' : 'FAIL']),
      }),
      '',
    );
  }
  for (const result of report.results) {
    out.push(`## ${result.scenario}`, '');
    for (const note of result.notes) out.push(`- ${note}`);
    if (result.notes.length > 0) out.push('');
    for (const table of result.tables) {
      out.push(`### ${table.title}`, '', markdownTable(table), '');
    }
    const chart = chartFor(result);
    if (chart) out.push(chart, '');
  }
  if (report.failures.length > 0) {
    out.push('## Scenarios that failed to run', '');
    for (const f of report.failures) out.push(`- **${f.scenario}**: ${f.error}`);
    out.push('');
  }
  return out.join('\n');
}

/** A chart of the headline distribution of a scenario, where one reads well as bars. */
function chartFor(result: ScenarioResult): string {
  const pick = (pattern: RegExp): { label: string; value: number }[] =>
    result.metrics
      .filter((m) => pattern.test(m.key))
      .map((m) => ({ label: m.key.replace(/^[a-z]+\./, ''), value: m.value }));
  switch (result.scenario) {
    case 'latency':
      return barChart(
        'Glass-to-glass latency per path (ms)',
        pick(/^latency\.[a-z0-9]+\.p(50|95|99)_ms$/),
        'ms',
      );
    case 'ttff':
      return barChart('Time to first frame (ms)', pick(/^ttff\..*_ms$/), 'ms');
    case 'signalling':
      return barChart('Session setups and API requests per second', pick(/per_s$/), '/s');
    default: {
      const table = result.tables[0];
      if (!table) return '';
      // Capacity: worker CPU per step (second column) by viewers (first column).
      const bars = table.rows
        .filter((row) => typeof row[1] === 'number')
        .map((row) => ({ label: `${row[0]} viewers`, value: row[1] as number }));
      return barChart(`${table.title}: ${table.columns[1]}`, bars, '');
    }
  }
}
