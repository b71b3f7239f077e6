export * from './Platform.ts';
