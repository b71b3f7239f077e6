export * from './Ingest.ts';
export * from './IngestStream.ts';
export * from './TrackMonitor.ts';
export * from './trackHealth.ts';
export * from './WhipSession.ts';
export * from './http/whipRoutes.ts';
export * from './planPublish.ts';
