/**
 * The edge's event streams on their own (edge/src/WhepEvents.ts): what is queued while no GET
 * reads, what a new GET takes over, the viewercount dedup, and that everything ends with the
 * session.
 */
import { describe, expect, it } from 'vitest';
import {
  EventStream,
  MAX_EVENT_STREAMS,
  SessionEvents,
  isWhepEvent,
  type EventMessage,
  type EventReader,
} from '../../src/WhepEvents.ts';

function reader(): EventReader & { got: EventMessage[]; ended: boolean } {
  const r = {
    got: [] as EventMessage[],
    ended: false,
    write: (message: EventMessage) => r.got.push(message),
    end: () => (r.ended = true),
  };
  return r;
}

describe('EventStream', () => {
  it('sends only what was subscribed, queues without a reader, and hands the queue over', () => {
    const stream = new EventStream(['reconnect', 'viewercount']);
    expect(stream.send('active', {})).toBe(false);
    expect(stream.send('reconnect', { url: 'https://x/whep/s' })).toBe(true);
    const first = reader();
    stream.attach(first);
    expect(first.got).toEqual([{ event: 'reconnect', data: '{"url":"https://x/whep/s"}' }]);
    stream.send('viewercount', { viewercount: 2 });
    expect(first.got).toHaveLength(2);
    // A second GET takes the stream; the first one ends.
    const second = reader();
    stream.attach(second);
    expect(first.ended).toBe(true);
    stream.send('viewercount', { viewercount: 3 });
    expect(second.got).toEqual([{ event: 'viewercount', data: '{"viewercount":3}' }]);
    // The client went away: messages queue again (bounded), for the next GET.
    stream.detach(second);
    for (let i = 0; i < 40; i++) stream.send('viewercount', { viewercount: i });
    const third = reader();
    stream.attach(third);
    expect(third.got).toHaveLength(32);
    expect(third.got.at(-1)).toEqual({ event: 'viewercount', data: '{"viewercount":39}' });
  });

  it('ends its reader on close and sends nothing after', () => {
    const stream = new EventStream(['inactive']);
    const r = reader();
    stream.attach(r);
    stream.close();
    expect(r.ended).toBe(true);
    expect(stream.send('inactive', {})).toBe(false);
    const late = reader();
    stream.attach(late);
    expect(late.ended).toBe(true);
  });
});

describe('SessionEvents', () => {
  it('holds a bounded number of streams, sends to those subscribed, removes on DELETE', () => {
    const events = new SessionEvents();
    const streams = Array.from({ length: MAX_EVENT_STREAMS }, () => events.subscribe(['active']));
    expect(streams.every(Boolean)).toBe(true);
    expect(events.subscribe(['active'])).toBeUndefined();
    expect(events.wants('reconnect')).toBe(false);
    expect(events.remove(streams[0]!.id)).toBe(true);
    expect(events.remove(streams[0]!.id)).toBe(false);
    const withReconnect = events.subscribe(['reconnect'])!;
    expect(events.wants('reconnect')).toBe(true);
    expect(events.send('reconnect', { url: 'u' })).toBe(1);
    expect(events.send('active', {})).toBe(MAX_EVENT_STREAMS - 1);
    expect(events.get(withReconnect.id)).toBe(withReconnect);
  });

  it('sends a viewer count once per change, per stream', () => {
    const events = new SessionEvents();
    const stream = events.subscribe(['viewercount'])!;
    const r = reader();
    stream.attach(r);
    events.sendViewercount(3);
    events.sendViewercount(3);
    events.sendViewercount(4);
    expect(r.got.map((m) => m.data)).toEqual(['{"viewercount":3}', '{"viewercount":4}']);
  });

  it('ends every stream with the session, and takes no new ones', () => {
    const events = new SessionEvents();
    const r = reader();
    events.subscribe(['inactive'])!.attach(r);
    events.send('inactive', {});
    events.close();
    expect(r.got.map((m) => m.event)).toEqual(['inactive']);
    expect(r.ended).toBe(true);
    expect(events.subscribe(['active'])).toBeUndefined();
  });

  it('knows the event names it offers', () => {
    expect(['active', 'inactive', 'reconnect', 'viewercount'].every(isWhepEvent)).toBe(true);
    expect(['layers', 'scte35', '', 1, null].some(isWhepEvent)).toBe(false);
  });
});
