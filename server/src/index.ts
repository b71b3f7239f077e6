export * from './Platform.ts';
export * from './local.ts';
export { LocalCluster, LocalRedis } from './cluster/LocalCluster.ts';
export type { LocalClusterOptions, LocalNode, LocalNodeSpec } from './cluster/LocalCluster.ts';
