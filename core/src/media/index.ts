export * from './codecs.ts';
export * from './PeerTransport.ts';
export * from './WorkerPool.ts';
export * from './LiveStream.ts';
export * from './RtcSession.ts';
export * from './EndedSessions.ts';
export * from './PipeServer.ts';
