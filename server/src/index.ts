export * from './Platform.ts';
export * from './local.ts';
