import { describe, expect, it } from 'vitest';
import { EndedSessions } from '../../src/media/EndedSessions.ts';

describe('EndedSessions', () => {
  it('remembers a session for the grace period, then forgets it', () => {
    const ended = new EndedSessions({ graceMs: 1000 });
    ended.add('s1', 'stream-a', 'dtls-closed', 10_000);
    expect(ended.streamOf('s1', 10_999)).toBe('stream-a');
    expect(ended.streamOf('s1', 11_000)).toBeUndefined();
    expect(ended.size).toBe(0);
  });

  it('knows nothing of sessions it was not told about', () => {
    expect(new EndedSessions({ graceMs: 1000 }).streamOf('never')).toBeUndefined();
  });

  it('is bounded: the oldest entries go first', () => {
    const ended = new EndedSessions({ graceMs: 60_000, max: 3 });
    for (const id of ['a', 'b', 'c', 'd']) ended.add(id, `stream-${id}`, 'inactive', 1000);
    expect(ended.size).toBe(3);
    expect(ended.streamOf('a', 1001)).toBeUndefined();
    expect(ended.streamOf('d', 1001)).toBe('stream-d');
  });

  it('keeps only sessions whose client ended them, not deleted, replaced or revoked ones', () => {
    const ended = new EndedSessions({ graceMs: 1000 });
    ended.add('a', 'stream', 'dtls-closed', 1000);
    ended.add('b', 'stream', 'ice-disconnected', 1000);
    ended.add('c', 'stream', 'inactive', 1000);
    ended.add('d', 'stream', 'dtls-failed', 1000);
    for (const reason of ['deleted', 'replaced', 'key-revoked', 'shutdown'] as const) {
      ended.add(reason, 'stream', reason, 1000);
      expect(ended.streamOf(reason, 1000)).toBeUndefined();
    }
    expect(ended.size).toBe(4);
  });

  it('keeps nothing when the grace period is 0 (turned off)', () => {
    const ended = new EndedSessions({ graceMs: 0 });
    ended.add('s1', 'stream-a', 'dtls-closed', 1000);
    expect(ended.streamOf('s1', 1000)).toBeUndefined();
  });
});
