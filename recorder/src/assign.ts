import { createHash } from 'node:crypto';

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
