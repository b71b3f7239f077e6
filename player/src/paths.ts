import { fileURLToPath } from 'node:url';

/** Where `build.ts` writes the bundles and where the routes serve them from by default. */
export const DEFAULT_DIST_DIR = fileURLToPath(new URL('../dist/', import.meta.url));
