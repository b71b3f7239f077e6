/**
 * The k6 scripts carry copies of the canned offers (k6 users may copy `loadtest/k6/` alone to
 * a load machine). These copies must stay byte-identical to the server's test fixtures, and
 * every file a script `open()`s must exist.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const k6Dir = path.join(import.meta.dirname, '..', '..', 'k6');
const serverFixtures = path.join(
  import.meta.dirname,
  '..',
  '..',
  '..',
  'server',
  'test',
  'fixtures',
  'sdp',
);

describe('k6 fixtures', () => {
  it('are byte-identical copies of server/test/fixtures/sdp', () => {
    const copies = readdirSync(path.join(k6Dir, 'fixtures')).filter((f) => f.endsWith('.sdp'));
    expect(copies.length).toBeGreaterThan(0);
    for (const file of copies) {
      const copy = readFileSync(path.join(k6Dir, 'fixtures', file));
      const original = readFileSync(path.join(serverFixtures, file));
      expect(copy.equals(original), file).toBe(true);
    }
  });

  it('cover every file the k6 scripts open()', () => {
    const scripts = readdirSync(k6Dir).filter((f) => f.endsWith('.ts'));
    const opened = scripts.flatMap((script) =>
      [...readFileSync(path.join(k6Dir, script), 'utf8').matchAll(/\bopen\('([^']+)'\)/g)].map(
        (match) => path.resolve(k6Dir, match[1]),
      ),
    );
    expect(opened.length).toBeGreaterThanOrEqual(3);
    for (const file of opened) expect(() => readFileSync(file), file).not.toThrow();
  });
});
