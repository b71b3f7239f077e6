/**
 * Hosts with their own addresses on one machine: a network namespace per host, each joined by
 * a veth pair to a bridge in the root namespace, which has the subnet's first address (the
 * test process, Redis and test relays live there). Traffic between hosts crosses real
 * interfaces and the bridge. Needs root (CI runs as root); `available()` tells.
 *
 *   const net = await createNetwork(['front', 'ingest', 'edge']);
 *   net.host('ingest').ip   // 10.77.N.11
 *   net.host('ingest').wrap // ['ip', 'netns', 'exec', 'wisp-…-ingest']
 *   await net.destroy();
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface NetHost {
  name: string;
  ns: string;
  ip: string;
  wrap: string[];
}

export interface Network {
  /** The root namespace's address on the bridge (the test process). */
  gateway: string;
  hosts: NetHost[];
  host(name: string): NetHost;
  destroy(): Promise<void>;
}

async function ip(...args: string[]): Promise<void> {
  await run('ip', args);
}

/** Whether this process may create namespaces (root and `ip` present). */
export async function netnsAvailable(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  try {
    await run('ip', ['netns', 'list']);
    return true;
  } catch {
    return false;
  }
}

export async function createNetwork(names: string[]): Promise<Network> {
  const id = randomBytes(3).toString('hex');
  const subnet = `10.${77 + (parseInt(id.slice(0, 2), 16) % 100)}.${parseInt(id.slice(2, 4), 16)}`;
  const bridge = `wbr${id}`;
  const gateway = `${subnet}.1`;
  const hosts: NetHost[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  const destroy = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  };
  try {
    await ip('link', 'add', bridge, 'type', 'bridge');
    cleanups.push(() => ip('link', 'del', bridge));
    await ip('addr', 'add', `${gateway}/24`, 'dev', bridge);
    await ip('link', 'set', bridge, 'up');
    for (const [i, name] of names.entries()) {
      const ns = `wisp-${id}-${name}`;
      const outside = `wv${id}${i}`;
      const inside = `wp${id}${i}`;
      const address = `${subnet}.${11 + i}`;
      await ip('netns', 'add', ns);
      cleanups.push(() => ip('netns', 'del', ns));
      await ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', inside);
      cleanups.push(() => ip('link', 'del', outside));
      await ip('link', 'set', inside, 'netns', ns);
      await ip('link', 'set', outside, 'master', bridge);
      await ip('link', 'set', outside, 'up');
      const inNs = (...args: string[]) => ip('netns', 'exec', ns, 'ip', ...args);
      await inNs('addr', 'add', `${address}/24`, 'dev', inside);
      await inNs('link', 'set', inside, 'up');
      await inNs('link', 'set', 'lo', 'up');
      await inNs('route', 'add', 'default', 'via', gateway);
      hosts.push({ name, ns, ip: address, wrap: ['ip', 'netns', 'exec', ns] });
    }
  } catch (error) {
    await destroy();
    throw error;
  }
  return {
    gateway,
    hosts,
    host(name) {
      const host = hosts.find((h) => h.name === name);
      if (!host) throw new Error(`no host ${name}`);
      return host;
    },
    destroy,
  };
}
