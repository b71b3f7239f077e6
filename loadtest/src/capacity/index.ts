export * from './procStat.ts';
export * from './cpuSampler.ts';
export * from './analysis.ts';
export * from './runCapacityScenario.ts';
