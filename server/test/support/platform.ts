/** Tests start the platform the way benchmarks do: see server/src/local.ts. */
export {
  freePort,
  startLocalPlatform as startPlatform,
  type LocalPlatform as TestPlatform,
} from '../../src/local.ts';
