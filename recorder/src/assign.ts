import { createHash } from 'node:crypto';
import type { NodeRegistry } from '@wisp/core';

/**
 * Rendezvous (highest random weight) hashing: the node with the highest hash of key + node
 * id. Every node computes the same answer from the same list, and a node leaving moves only
 * its own keys.
 */
export function pick(key: string, nodes: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestHash = '';
  for (const node of nodes) {
    const hash = createHash('sha256').update(`${key}\0${node}`).digest('hex');
    if (best === undefined || hash > bestHash) {
      best = node;
      bestHash = hash;
    }
  }
  return best;
}

/** Ids of the recorder nodes serving and seen less than `freshMs` ago: the candidates. */
export async function liveRecorders(nodes: NodeRegistry, freshMs: number): Promise<string[]> {
  const now = Date.now();
  return (await nodes.list('recorder'))
    .filter((n) => n.state === 'serving' && now - n.lastSeen < freshMs)
    .map((n) => n.id);
}
