export * from './Edge.ts';
export * from './EdgeStream.ts';
export * from './WhepSession.ts';
export * from './WhepEvents.ts';
export * from './http/whepRoutes.ts';
export * from './planView.ts';
export * from './RemoteSource.ts';
export * from './parents.ts';
