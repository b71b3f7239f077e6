/**
 * What the deployment files may rely on: the environment variables wisp reads and the
 * metrics it exports. The manifests, the HPA, the adapter rules and the Grafana dashboard
 * are checked against these lists, so a renamed variable or metric fails a test instead of
 * silently doing nothing in production.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Metrics } from '../../../core/src/metrics.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/**
 * Metrics of `GET /metrics`: name -> type, read from a real `Metrics` registry (the one
 * every process serves, core/src/metrics.ts), so a metric renamed in the code fails the
 * dashboard and HPA checks. Bound with a Redis probe so the Redis-only gauge is listed too.
 * Histograms are exported as `<name>_bucket`, `<name>_sum` and `<name>_count`.
 */
export const METRICS: Record<string, string> = await (async () => {
  const metrics = new Metrics();
  metrics.bind({
    node: () => ({ id: 'contract', roles: [], region: 'default', state: 'serving' }),
    redisUp: () => Promise.resolve(true),
  });
  const listed = await metrics.registry.getMetricsAsJSON();
  return Object.fromEntries(listed.map((m) => [m.name, String(m.type)]));
})();

/** Every series name a scrape of wisp can contain. */
export function seriesNames(): Set<string> {
  const names = new Set<string>();
  for (const [name, type] of Object.entries(METRICS)) {
    if (type === 'histogram') {
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
    } else {
      names.add(name);
    }
  }
  return names;
}

/**
 * The environment variables wisp reads: every name core/src/config.ts looks up (the only
 * module that reads process.env) and every name docs/configuration.md lists (which adds
 * the AWS SDK's credential variables).
 */
export function platformEnv(): Set<string> {
  const names = new Set<string>();
  const config = readFileSync(`${ROOT}/core/src/config.ts`, 'utf8');
  for (const match of config.matchAll(/env\.([A-Z][A-Z0-9_]+)|'([A-Z][A-Z0-9_]{2,})'/g)) {
    names.add(match[1] ?? match[2]);
  }
  const docs = readFileSync(`${ROOT}/docs/configuration.md`, 'utf8');
  for (const line of docs.split('\n')) {
    const cell = /^\|([^|]+)\|/.exec(line)?.[1];
    if (!cell) continue;
    for (const match of cell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)) names.add(match[1]);
  }
  return names;
}
