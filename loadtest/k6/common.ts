/**
 * What the k6 scripts share: reading `__ENV`, the ramping-arrival-rate scenario every script
 * runs, thresholds, and resolving a `Location` header. k6 runs this file itself (no Node), so
 * it uses only k6 modules and plain ECMAScript.
 */
import type { Options, RampingArrivalRateScenario } from 'k6/options';

/** An environment variable (`k6 run -e NAME=value`), or `fallback` when unset or empty. */
export function env(name: string, fallback: string): string {
  const value = __ENV[name];
  return value === undefined || value === '' ? fallback : value;
}

/** A required environment variable; throws (k6 aborts in the init context) when unset. */
export function requiredEnv(name: string): string {
  const value = __ENV[name];
  if (value === undefined || value === '') {
    throw new Error(`set ${name}, e.g. k6 run -e ${name}=... (see loadtest/k6/README.md)`);
  }
  return value;
}

/** A positive number from the environment, or `fallback`. */
export function numberEnv(name: string, fallback: number): number {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!(value > 0) || !isFinite(value)) {
    throw new Error(`${name} must be a positive number, got "${raw}"`);
  }
  return value;
}

/** `BASE_URL` without a trailing slash, e.g. `https://live.example.com`. */
export function baseUrl(): string {
  return requiredEnv('BASE_URL').replace(/\/+$/, '');
}

export interface ArrivalRateDefaults {
  /** Iterations per second at the plateau (`RATE`). */
  rate: number;
  /** Most VUs k6 may start to keep the rate (`MAX_VUS`). */
  maxVUs: number;
}

/**
 * Ramps from 1 iteration/s to `RATE` over `RAMP`, holds it for `HOLD`, ramps down over 10 s.
 * An arrival-rate executor keeps starting iterations at the set rate however slow the server
 * gets (up to `MAX_VUS` in flight), so latency under load shows instead of being hidden by
 * clients that wait.
 */
export function rampingArrivalRate(defaults: ArrivalRateDefaults): RampingArrivalRateScenario {
  const rate = numberEnv('RATE', defaults.rate);
  const vus = maxVUs(defaults);
  return {
    executor: 'ramping-arrival-rate',
    startRate: 1,
    timeUnit: '1s',
    preAllocatedVUs: Math.min(vus, Math.ceil(numberEnv('PRE_VUS', Math.max(1, rate / 4)))),
    maxVUs: vus,
    stages: [
      { duration: env('RAMP', '30s'), target: rate },
      { duration: env('HOLD', '1m'), target: rate },
      { duration: '10s', target: 0 },
    ],
    gracefulStop: '30s',
  };
}

/** The most VUs the scenario may run at once (`MAX_VUS`, else the script's default). */
export function maxVUs(defaults: ArrivalRateDefaults): number {
  return Math.ceil(numberEnv('MAX_VUS', defaults.maxVUs));
}

/**
 * Options every script starts from: fewer than 1% failed requests and every check passing
 * 99% of the time; the scripts add p95 thresholds per request name (`P95_MS`).
 */
export function baseOptions(scenario: RampingArrivalRateScenario): Options {
  return {
    scenarios: { load: scenario },
    thresholds: {
      http_req_failed: ['rate<0.01'],
      checks: ['rate>0.99'],
    },
    summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
  };
}

/** `http_req_duration` p95 thresholds for the given request names (`P95_MS`, in ms). */
export function p95Thresholds(names: string[], defaultMs: number): Record<string, string[]> {
  const limit = numberEnv('P95_MS', defaultMs);
  const thresholds: Record<string, string[]> = {};
  for (const name of names) thresholds[`http_req_duration{name:${name}}`] = [`p(95)<${limit}`];
  return thresholds;
}

/**
 * Resolves a `Location` header against the URL that answered: this platform sends absolute
 * ones, but a proxy or another WHIP/WHEP server may send a relative one.
 */
export function resolveLocation(location: string, requestUrl: string): string {
  if (/^https?:\/\//i.test(location)) return location;
  const origin = /^(https?:\/\/[^/]+)/i.exec(requestUrl)?.[1] ?? '';
  if (location.startsWith('/')) return `${origin}${location}`;
  const directory = requestUrl.replace(/[?#].*$/, '').replace(/[^/]*$/, '');
  return `${directory}${location}`;
}

/** A response header by name, whatever its case (k6 canonicalizes, proxies may not). */
export function header(headers: Record<string, string>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() === wanted) return headers[key];
  }
  return undefined;
}

/** A response body as text (k6 bodies are strings unless `responseType` says otherwise). */
export function bodyText(body: unknown): string {
  return typeof body === 'string' ? body : '';
}
