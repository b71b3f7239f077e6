/**
 * Reads a Prometheus text exposition the way a scraper would, with a parser that is not the
 * platform's own (prom2javascript), for tests to assert on what /metrics says.
 */
import {
  getMetricsFromIterator,
  type PromData,
  type PromHistogramData,
  type PromMetrics,
} from 'prom2javascript';

type Labels = Record<string, string>;

function matches(labels: Labels, wanted: Labels): boolean {
  return Object.entries(wanted).every(([name, value]) => labels[name] === value);
}

export class Scrape {
  readonly metrics: PromMetrics;

  constructor(metrics: PromMetrics) {
    this.metrics = metrics;
  }

  /**
   * prom2javascript reads every value but NaN and -Inf, which prom-client writes only for
   * process metrics with nothing measured yet (`nodejs_eventloop_lag_mean_seconds Nan` right
   * after start); no `wisp_*` sample is ever either. Those lines are left out.
   */
  static async parse(text: string): Promise<Scrape> {
    const lines = text.split('\n').filter((line) => !/\s(?:nan|-inf)$/i.test(line));
    return new Scrape(await getMetricsFromIterator(lines[Symbol.iterator]()));
  }

  has(name: string): boolean {
    return name in this.metrics;
  }

  type(name: string): string | undefined {
    return this.metrics[name]?.type;
  }

  /** The samples of a counter or gauge whose labels include `labels`. */
  samples(name: string, labels: Labels = {}): PromData[] {
    const data = (this.metrics[name]?.data ?? []) as PromData[];
    return data.filter((d) => 'value' in d && matches(d.labels, labels));
  }

  /** The one sample with exactly these labels (among its own), or undefined. */
  value(name: string, labels: Labels = {}): number | undefined {
    const found = this.samples(name, labels);
    if (found.length > 1) {
      throw new Error(`${name}${JSON.stringify(labels)} matches ${found.length} samples`);
    }
    return found[0]?.value;
  }

  /** The sum of the samples whose labels include `labels` (0 when there are none). */
  sum(name: string, labels: Labels = {}): number {
    return this.samples(name, labels).reduce((total, d) => total + d.value, 0);
  }

  histogram(name: string, labels: Labels = {}): PromHistogramData | undefined {
    const data = (this.metrics[name]?.data ?? []) as PromHistogramData[];
    const found = data.filter((d) => 'buckets' in d && matches(d.labels, labels));
    if (found.length > 1) {
      throw new Error(`${name}${JSON.stringify(labels)} matches ${found.length} histograms`);
    }
    return found[0];
  }
}

/** GET `${baseUrl}/metrics` (with a bearer token if given), parsed; throws unless 200. */
export async function scrape(baseUrl: string, token?: string): Promise<Scrape> {
  const response = await fetch(`${baseUrl}/metrics`, {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  if (response.status !== 200) {
    throw new Error(`GET ${baseUrl}/metrics: ${response.status} ${await response.text()}`);
  }
  return Scrape.parse(await response.text());
}
