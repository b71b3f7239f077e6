export * from './latencyStats.ts';
export * from './loadDriver.ts';
export * from './loopbackHttp.ts';
export * from './sessionLoad.ts';
export * from './apiLoad.ts';
export * from './iceSetups.ts';
export * from './plan.ts';
export * from './runSignallingScenario.ts';
