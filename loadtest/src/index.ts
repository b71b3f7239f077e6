export * from './peers/index.ts';
