/**
 * infra/grafana/wisp.json: every query parses as PromQL (the Prometheus project's own
 * grammar, @prometheus-io/lezer-promql) and reads only metrics of wisp's /metrics contract,
 * so a renamed metric fails here instead of leaving an empty panel.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { describe, expect, test } from 'vitest';
import { METRICS, seriesNames } from '../support/contract.ts';
import { ROOT } from '../support/manifests.ts';

interface Target {
  expr: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
  datasource?: { uid: string };
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

const file = path.join(ROOT, 'infra/grafana/wisp.json');
const load = (): Dashboard => JSON.parse(readFileSync(file, 'utf8')) as Dashboard;
const DATASOURCE = '${datasource}';

const panelsOf = (dashboard: Dashboard): Panel[] =>
  dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);

/** Grafana's own variables, replaced by what they expand to, so the query parses. */
const expand = (expr: string): string =>
  expr.replace(/\$__(rate_interval|interval|range)\b/g, '5m').replace(/\$(\w+)/g, '$1');

/** The metric names a PromQL query reads, and its syntax errors. */
function analyse(expr: string): { metrics: string[]; errors: string[] } {
  const text = expand(expr);
  const metrics: string[] = [];
  const errors: string[] = [];
  const cursor = parser.parse(text).cursor();
  do {
    if (cursor.type.isError) errors.push(`syntax error at ${cursor.from} in ${expr}`);
    if (cursor.type.name === 'Identifier' && cursor.node.parent?.type.name === 'VectorSelector') {
      metrics.push(text.slice(cursor.from, cursor.to));
    }
  } while (cursor.next());
  return { metrics, errors };
}

/** Problems: syntax errors, metrics not in the contract, panels not on $datasource. */
function problems(dashboard: Dashboard): string[] {
  const known = seriesNames();
  const found: string[] = [];
  const check = (where: string, expr: string) => {
    const { metrics, errors } = analyse(expr);
    found.push(...errors.map((e) => `${where}: ${e}`));
    if (metrics.length === 0) found.push(`${where}: reads no metric`);
    for (const metric of metrics) {
      if (!known.has(metric)) found.push(`${where}: ${metric} is not a wisp metric`);
    }
  };
  for (const panel of panelsOf(dashboard).filter((p) => p.type !== 'row')) {
    const where = `panel "${panel.title}"`;
    if (panel.datasource?.uid !== DATASOURCE) found.push(`${where}: not on ${DATASOURCE}`);
    if (!panel.targets?.length) found.push(`${where}: no query`);
    for (const target of panel.targets ?? []) check(where, target.expr);
  }
  for (const variable of dashboard.templating.list.filter((v) => v.type === 'query')) {
    const query = typeof variable.query === 'string' ? variable.query : variable.query.query;
    const inner = /^label_values\((.+),\s*\w+\)$/.exec(query)?.[1];
    if (!inner) found.push(`variable ${variable.name}: not label_values(...)`);
    else check(`variable ${variable.name}`, inner);
  }
  return found;
}

/** Base names (histograms without their suffixes) of the metrics the dashboard reads. */
function metricsUsed(dashboard: Dashboard): Set<string> {
  const used = new Set<string>();
  for (const panel of panelsOf(dashboard)) {
    for (const target of panel.targets ?? []) {
      for (const metric of analyse(target.expr).metrics) {
        used.add(metric.replace(/_(bucket|sum|count)$/, ''));
      }
    }
  }
  return used;
}

describe('the Grafana dashboard', () => {
  test('has a Prometheus data source variable that every panel uses', () => {
    const dashboard = load();
    const datasource = dashboard.templating.list.find((v) => v.name === 'datasource');
    expect(datasource).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(dashboard.uid).toBe('wisp');
    const ids = panelsOf(dashboard).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test('queries parse and read only metrics of the /metrics contract', () => {
    expect(problems(load())).toEqual([]);
  });

  test('shows every wisp metric of the contract', () => {
    const wisp = Object.keys(METRICS).filter((m) => m.startsWith('wisp_'));
    const used = metricsUsed(load());
    const missing = wisp.filter((m) => !used.has(m));
    expect(missing).toEqual([]);
  });

  test('has the panels operators look for', () => {
    const titles = panelsOf(load()).map((p) => p.title);
    expect(titles).toEqual(
      expect.arrayContaining([
        'Live streams',
        'Viewers per node',
        'Publish sessions by result',
        'View sessions by result',
        'Session setup time',
        'Egress bitrate',
        'Ingress bitrate',
        'mediasoup worker CPU',
        'Pipes',
        'Requests by route and status',
        'Latency by route',
        'Redis reachable',
        'Draining nodes',
        'Recordings by status',
        'Upload queue',
        'ffmpeg restarts',
        'Allocations by result',
      ]),
    );
    const setup = panelsOf(load()).find((p) => p.title === 'Session setup time')!;
    expect(setup.targets!.map((t) => t.expr)).toEqual([
      expect.stringMatching(/^histogram_quantile\(0\.5, /),
      expect.stringMatching(/^histogram_quantile\(0\.95, /),
    ]);
  });

  test('a renamed metric, a PromQL typo or a fixed data source fails', () => {
    const dashboard = load();
    const [first, second, third] = panelsOf(dashboard).filter((p) => p.targets?.length);
    first.targets![0].expr = first.targets![0].expr.replace(
      'wisp_streams_live',
      'wisp_live_streams',
    );
    second.targets![0].expr = second.targets![0].expr.replace('sum(', 'sum((');
    third.datasource = { type: 'prometheus', uid: 'prometheus-prod' };
    expect(problems(dashboard)).toEqual([
      `panel "${first.title}": wisp_live_streams is not a wisp metric`,
      expect.stringMatching(new RegExp(`^panel "${second.title}": syntax error at \\d+`)),
      `panel "${third.title}": not on ${DATASOURCE}`,
    ]);
  });
});
