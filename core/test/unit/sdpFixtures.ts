/**
 * Access to the shared SDP fixtures (server/test/fixtures/sdp, conformance doc §0.4) and to
 * the few extra ones kept next to these unit tests (core/test/unit/fixtures).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SHARED_DIR = fileURLToPath(new URL('../../../server/test/fixtures/sdp/', import.meta.url));
const LOCAL_DIR = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** Every shared fixture that is a well-formed offer (F11 variants are malformed on purpose). */
export const WELL_FORMED_FIXTURES = [
  'f1-rfc',
  'f2-browser',
  'f3-sendrecv',
  'f4-recvonly',
  'f4b-inactive',
  'f5-active',
  'f6-ffmpeg',
  'f7-obs',
  'f7a-obs-audio-only',
  'f7s-obs-simulcast',
  'f7v-obs-video-only',
  'f8-two-video',
  'f9-simulcast',
  'f10-unknown-codec',
  'f12-datachannel',
  'w1-whep-browser',
  'w2-whep-sendonly',
] as const;

/** A shared SDP fixture by name, without the `.sdp` suffix (`f7-obs`). */
export function sdpFixture(name: string): string {
  return readFileSync(`${SHARED_DIR}${name}.sdp`, 'utf8');
}

/** A fixture kept under core/test/unit/fixtures, by file name (`f7-obs-av1.sdp`). */
export function localFixture(fileName: string): string {
  return readFileSync(`${LOCAL_DIR}${fileName}`, 'utf8');
}

/**
 * Replaces exactly one occurrence of `search` in an SDP, so a test that edits a fixture fails
 * loudly when the fixture changes instead of silently testing the unedited offer.
 */
export function edit(sdp: string, search: string, replacement: string): string {
  const first = sdp.indexOf(search);
  if (first === -1 || sdp.indexOf(search, first + 1) !== -1) {
    throw new Error(`expected exactly one "${search}" in the fixture`);
  }
  return sdp.slice(0, first) + replacement + sdp.slice(first + search.length);
}

/** Same as `edit`, for every occurrence (at least one). */
export function editAll(sdp: string, search: string, replacement: string): string {
  if (!sdp.includes(search)) throw new Error(`expected "${search}" in the fixture`);
  return sdp.split(search).join(replacement);
}
