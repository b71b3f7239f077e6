/**
 * How full a node is: two levels on each of viewers, egress bitrate and CPU, as peers do it
 * (LiveKit's soft `sysload_limit` and hard `limit.*`; design-notes §1.2). Above the **soft**
 * level a node takes no new streams and no new pulls (a publish that is not a takeover, a
 * viewer of a stream it does not carry yet, a relay child); above the **hard** level it
 * takes no new viewers at all. A level is reached when any one of the three measures reaches
 * it. Every node reports its own limits with its heartbeat, so they are set per node.
 */
import type { NodeLoad } from './NodeRegistry.ts';

export interface Threshold {
  soft: number;
  hard: number;
}

export interface NodeLimits {
  /** WHEP viewers on the node. */
  viewers: Threshold;
  /** Outgoing media, kbit/s. */
  egressKbps: Threshold;
  /** Media worker CPU, 0..1 (the average over the node's workers). */
  cpu: Threshold;
}

/** `normal` takes anything, `soft` only viewers of streams it carries, `hard` nothing new. */
export type LoadLevel = 'normal' | 'soft' | 'hard';

/** The level `load` is at under `limits`; a node that reports no limits is never full. */
export function loadLevel(load: NodeLoad, limits: NodeLimits | undefined): LoadLevel {
  if (!limits) return 'normal';
  const over = (level: keyof Threshold) =>
    load.viewers >= limits.viewers[level] ||
    load.egressKbps >= limits.egressKbps[level] ||
    load.cpu >= limits.cpu[level];
  if (over('hard')) return 'hard';
  if (over('soft')) return 'soft';
  return 'normal';
}

/**
 * How used a node is, 0 (idle) to 1 (at its hard level) and beyond: the largest of its three
 * measures relative to the hard limit, so a node busy on any one of them counts as busy.
 * Without limits, the viewer count stands in (relative to an arbitrary 1000).
 */
export function utilisation(load: NodeLoad, limits: NodeLimits | undefined): number {
  if (!limits) return load.viewers / 1000;
  return Math.max(
    load.viewers / limits.viewers.hard,
    load.egressKbps / limits.egressKbps.hard,
    load.cpu / limits.cpu.hard,
  );
}
