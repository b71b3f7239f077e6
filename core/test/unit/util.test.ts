import { beforeAll, describe, expect, it, vi } from 'vitest';
import { TypedEmitter } from '../../src/events.ts';
import {
  generateSessionId,
  generateStreamId,
  generateStreamKey,
  hashStreamKey,
  parseBearer,
  safeEqual,
} from '../../src/keys.ts';
import { configureLogging } from '../../src/logger.ts';
import { KeyedMutex } from '../../src/mutex.ts';

beforeAll(() => {
  // TypedEmitter logs throwing listeners on purpose; keep the test output clean.
  configureLogging('silent');
});

describe('keys', () => {
  it('generates prefixed 256-bit stream keys', () => {
    const keys = new Set(Array.from({ length: 50 }, () => generateStreamKey()));
    expect(keys.size).toBe(50);
    for (const key of keys) expect(key).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
  });

  it('generates URL-safe 96-bit stream ids and UUIDv4 session ids', () => {
    expect(generateStreamId()).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(generateStreamId()).not.toBe(generateStreamId());
    expect(generateSessionId()).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('hashes stream keys with SHA-256 (hex)', () => {
    expect(hashStreamKey('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(hashStreamKey('sk_a')).not.toBe(hashStreamKey('sk_b'));
  });

  it('compares secrets of any length without throwing', () => {
    expect(safeEqual('secret', 'secret')).toBe(true);
    expect(safeEqual('secret', 'Secret')).toBe(false);
    expect(safeEqual('secret', 'secret-but-longer')).toBe(false);
    expect(safeEqual('', '')).toBe(true);
    expect(safeEqual('', 'x')).toBe(false);
    expect(safeEqual('ключ', 'ключ')).toBe(true);
  });

  it.each([
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['BEARER abc', 'abc'],
    ['  Bearer   sk_a-b_c.d~e+f/g=  ', 'sk_a-b_c.d~e+f/g='],
    ['Bearer\tabc', 'abc'],
  ])('parses the bearer of %j', (header, token) => {
    expect(parseBearer(header)).toBe(token);
  });

  it.each([
    [undefined],
    [null],
    [''],
    ['Bearer'],
    ['Bearer '],
    ['Basic dXNlcjpwYXNz'],
    ['abc'],
    ['Bearerabc'],
    ['Bearer two tokens'],
  ])('returns undefined for %j', (header) => {
    expect(parseBearer(header)).toBeUndefined();
  });
});

/** A promise with its resolve/reject exposed, to drive task timing by hand. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every queued microtask (and promise chain) run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('KeyedMutex', () => {
  it('runs tasks for one key one at a time, in order', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    const first = deferred();
    const a = mutex.run('k', async () => {
      log.push('a start');
      await first.promise;
      log.push('a end');
      return 'a';
    });
    const b = mutex.run('k', () => {
      log.push('b');
      return Promise.resolve('b');
    });
    await settle();
    expect(log).toEqual(['a start']);
    first.resolve();
    expect(await Promise.all([a, b])).toEqual(['a', 'b']);
    expect(log).toEqual(['a start', 'a end', 'b']);
  });

  it('runs tasks for different keys concurrently', async () => {
    const mutex = new KeyedMutex();
    const gate = deferred();
    const started: string[] = [];
    const a = mutex.run('a', async () => {
      started.push('a');
      await gate.promise;
    });
    const b = mutex.run('b', async () => {
      started.push('b');
      await gate.promise;
    });
    await settle();
    expect(started).toEqual(['a', 'b']);
    gate.resolve();
    await Promise.all([a, b]);
  });

  it('passes a failure to its caller and still runs the next task', async () => {
    const mutex = new KeyedMutex();
    const failing = mutex.run('k', () => Promise.reject(new Error('boom')));
    const next = mutex.run('k', () => Promise.resolve('next'));
    await expect(failing).rejects.toThrow('boom');
    await expect(next).resolves.toBe('next');
  });

  it('handles a task that throws synchronously', async () => {
    const mutex = new KeyedMutex();
    const failing = mutex.run('k', () => {
      throw new Error('sync');
    });
    await expect(failing).rejects.toThrow('sync');
    await expect(mutex.run('k', () => Promise.resolve(1))).resolves.toBe(1);
  });

  it('forgets a key once its queue is empty', async () => {
    const mutex = new KeyedMutex();
    const gate = deferred();
    const a = mutex.run('a', () => gate.promise);
    const b = mutex.run('a', () => Promise.resolve());
    const c = mutex.run('c', () => Promise.resolve());
    expect(mutex.size).toBe(2);
    await c;
    expect(mutex.size).toBe(1);
    gate.resolve();
    await Promise.all([a, b]);
    expect(mutex.size).toBe(0);
  });
});

describe('TypedEmitter', () => {
  type Events = { data: { n: number }; done: undefined };

  it('delivers typed payloads to every listener', () => {
    const emitter = new TypedEmitter<Events>();
    const seen: number[] = [];
    emitter.on('data', ({ n }) => seen.push(n));
    emitter.on('data', ({ n }) => seen.push(n * 10));
    emitter.emit('data', { n: 1 });
    expect(seen).toEqual([1, 10]);
    expect(emitter.listenerCount('data')).toBe(2);
  });

  it('keeps calling the other listeners when one throws, and does not throw itself', () => {
    const emitter = new TypedEmitter<Events>();
    const after = vi.fn();
    emitter.on('data', () => {
      throw new Error('listener bug');
    });
    emitter.on('data', after);
    expect(() => emitter.emit('data', { n: 1 })).not.toThrow();
    expect(after).toHaveBeenCalledWith({ n: 1 });
    emitter.emit('data', { n: 2 });
    expect(after).toHaveBeenCalledTimes(2);
  });

  it('emits without listeners', () => {
    expect(() => new TypedEmitter<Events>().emit('done', undefined)).not.toThrow();
  });

  it('unsubscribes with the returned function or off()', () => {
    const emitter = new TypedEmitter<Events>();
    const a = vi.fn();
    const b = vi.fn();
    const offA = emitter.on('data', a);
    emitter.on('data', b);
    offA();
    emitter.off('data', b);
    emitter.emit('data', { n: 1 });
    expect(a).not.toHaveBeenCalled();
    expect(b).not.toHaveBeenCalled();
    expect(emitter.listenerCount('data')).toBe(0);
  });

  it('calls a once() listener a single time, even if it throws', () => {
    const emitter = new TypedEmitter<Events>();
    const listener = vi.fn(() => {
      throw new Error('once bug');
    });
    emitter.once('done', listener);
    emitter.emit('done', undefined);
    emitter.emit('done', undefined);
    expect(listener).toHaveBeenCalledTimes(1);
    expect(emitter.listenerCount('done')).toBe(0);
  });

  it('can cancel a once() listener before it fires', () => {
    const emitter = new TypedEmitter<Events>();
    const listener = vi.fn();
    const off = emitter.once('done', listener);
    off();
    emitter.emit('done', undefined);
    expect(listener).not.toHaveBeenCalled();
  });

  it('delivers an emit to the listeners present when it started', () => {
    const emitter = new TypedEmitter<Events>();
    const late = vi.fn();
    const second = vi.fn();
    emitter.on('data', () => {
      emitter.off('data', second);
      emitter.on('data', late);
    });
    emitter.on('data', second);
    emitter.emit('data', { n: 1 });
    expect(second).toHaveBeenCalledTimes(1);
    expect(late).not.toHaveBeenCalled();
  });

  it('removes every listener with removeAllListeners()', () => {
    const emitter = new TypedEmitter<Events>();
    const listener = vi.fn();
    emitter.on('data', listener);
    emitter.on('done', listener);
    emitter.removeAllListeners();
    emitter.emit('data', { n: 1 });
    emitter.emit('done', undefined);
    expect(listener).not.toHaveBeenCalled();
  });
});
