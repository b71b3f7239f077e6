import { readFileSync } from 'node:fs';
import path from 'node:path';

const dir = path.join(import.meta.dirname, '..', 'fixtures', 'sdp');

/** Reads an SDP fixture by name (`f7-obs` -> fixtures/sdp/f7-obs.sdp). */
export function sdpFixture(name: string): string {
  return readFileSync(path.join(dir, `${name}.sdp`), 'utf8');
}
