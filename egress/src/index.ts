export * from './FrontDoor.ts';
export * from './http/frontDoorRoutes.ts';
export * from './allocation.ts';
