/**
 * Defaults and validation of `SwarmOptions`, and which kind of viewer each join is.
 */
import type { SwarmKind, SwarmOptions, SwarmViewerKind } from './types.ts';

export type ResolvedSwarmOptions = SwarmOptions &
  Required<
    Pick<
      SwarmOptions,
      | 'kind'
      | 'wrtcShare'
      | 'rampPerSecond'
      | 'maxDurationMs'
      | 'maxConcurrentJoins'
      | 'connectTimeoutMs'
      | 'httpTimeoutMs'
      | 'sampleIntervalMs'
    >
  >;

/** Fills in the documented defaults; throws `TypeError` on a value that cannot work. */
export function resolveSwarmOptions(options: SwarmOptions): ResolvedSwarmOptions {
  const resolved: ResolvedSwarmOptions = {
    ...options,
    kind: options.kind ?? 'ndc',
    wrtcShare: options.wrtcShare ?? 0.1,
    rampPerSecond: options.rampPerSecond ?? 10,
    maxDurationMs: options.maxDurationMs ?? 600_000,
    maxConcurrentJoins: options.maxConcurrentJoins ?? 16,
    connectTimeoutMs: options.connectTimeoutMs ?? 15_000,
    httpTimeoutMs: options.httpTimeoutMs ?? 8000,
    sampleIntervalMs: options.sampleIntervalMs ?? 1000,
  };
  if (!options.whepUrl) throw new TypeError('Swarm needs a whepUrl');
  if (!['ndc', 'wrtc', 'mix'].includes(resolved.kind)) {
    throw new TypeError(`kind must be ndc, wrtc or mix, got ${String(resolved.kind)}`);
  }
  if (!(resolved.wrtcShare >= 0 && resolved.wrtcShare <= 1)) {
    throw new TypeError(`wrtcShare must be within 0..1, got ${resolved.wrtcShare}`);
  }
  assertCount('viewers', options.viewers, 0);
  assertCount('maxConcurrentJoins', resolved.maxConcurrentJoins, 1);
  for (const key of [
    'rampPerSecond',
    'maxDurationMs',
    'connectTimeoutMs',
    'httpTimeoutMs',
    'sampleIntervalMs',
  ] as const) {
    if (!(Number.isFinite(resolved[key]) && resolved[key] > 0)) {
      throw new TypeError(`${key} must be a positive number, got ${resolved[key]}`);
    }
  }
  return resolved;
}

export function assertCount(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new TypeError(`${name} must be an integer >= ${min}, got ${value}`);
  }
}

/**
 * The kind of the viewer with this join index. With `mix`, decoding viewers are spread
 * evenly: join i is `wrtc` when floor((i + 1) * share) > floor(i * share), so a share of 0.1
 * makes joins 9, 19, 29... decoding and the first join always cheap.
 */
export function viewerKindAt(index: number, kind: SwarmKind, wrtcShare: number): SwarmViewerKind {
  if (kind !== 'mix') return kind;
  return Math.floor((index + 1) * wrtcShare) > Math.floor(index * wrtcShare) ? 'wrtc' : 'ndc';
}

/**
 * True for 127.0.0.0/8, ::1 and localhost: the hosts the swarm CLI loads without
 * `--allow-remote`.
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}
