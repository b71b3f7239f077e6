/**
 * The one StateStore test suite. Every adapter runs it (store.embedded.test.ts,
 * store.redis.test.ts), so they cannot drift apart in behaviour.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConflictError } from '../../src/errors.ts';
import { generateStreamId, generateStreamKey, hashStreamKey } from '../../src/keys.ts';
import type { RecordingRecord, StateStore, StreamRecord } from '../../src/store/StateStore.ts';
import type { WebhookEvent } from '../../src/store/WebhookOutbox.ts';

export interface StateStoreFactory {
  /** A fresh, empty store on new underlying data (a new directory, a new key prefix). */
  create(): Promise<StateStore>;
  /** Another store on the same data as the last `create()`, as a process restart would see. */
  reopen(): Promise<StateStore>;
}

/** A valid record with a fresh id and key hash; `createdAt` defaults to a fixed past time. */
export function makeRecord(overrides: Partial<StreamRecord> = {}): StreamRecord {
  const createdAt = overrides.createdAt ?? '2024-01-01T00:00:00.000Z';
  return {
    id: generateStreamId(),
    name: 'test stream',
    keyHash: hashStreamKey(generateStreamKey()),
    createdAt,
    updatedAt: createdAt,
    ...overrides,
  };
}

/** A recording of `streamIds` that started `seconds` after the base time. */
export function makeRecording(
  streamIds: string[],
  seconds: number,
  overrides: Partial<RecordingRecord> = {},
): RecordingRecord {
  return {
    id: `rec_${generateStreamId()}`,
    kind: streamIds.length > 1 ? 'composition' : 'broadcast',
    streamIds,
    status: 'recording',
    node: 'node-a',
    startedAt: at(seconds),
    parts: 1,
    updatedAt: at(seconds),
    ...overrides,
  };
}

/** A webhook event of `streamId` with a fresh id. */
export function makeWebhookEvent(streamId: string, type = 'stream.started'): WebhookEvent {
  return {
    id: `msg_${generateStreamId()}`,
    type,
    timestamp: new Date().toISOString(),
    data: { streamId, note: 'Café 🎥 "quoted"' },
  };
}

/** `base` plus `seconds`, as an ISO-8601 timestamp. */
function at(seconds: number): string {
  return new Date(Date.UTC(2024, 0, 1) + seconds * 1000).toISOString();
}

export function describeStateStore(name: string, factory: StateStoreFactory): void {
  describe(`StateStore contract: ${name}`, () => {
    const opened: StateStore[] = [];

    async function fresh(): Promise<StateStore> {
      const store = await factory.create();
      opened.push(store);
      return store;
    }

    async function reopen(): Promise<StateStore> {
      const store = await factory.reopen();
      opened.push(store);
      return store;
    }

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((store) => store.close()));
    });

    it('starts empty', async () => {
      const store = await fresh();
      expect(await store.listStreams()).toEqual([]);
    });

    it('creates and gets a stream', async () => {
      const store = await fresh();
      const record = makeRecord({ name: 'Main stage' });
      await store.createStream(record);
      expect(await store.getStream(record.id)).toEqual(record);
    });

    it('returns copies, not live references', async () => {
      const store = await fresh();
      const record = makeRecord();
      await store.createStream(record);
      record.name = 'changed by the caller';
      const got = (await store.getStream(record.id))!;
      expect(got.name).toBe('test stream');
      got.name = 'changed again';
      expect((await store.getStream(record.id))!.name).toBe('test stream');
    });

    it('keeps names with any Unicode intact', async () => {
      const store = await fresh();
      const record = makeRecord({ name: 'Café 🎥 "quoted" \\ back' });
      await store.createStream(record);
      expect((await store.getStream(record.id))!.name).toBe(record.name);
    });

    it('lists streams oldest first, whatever the creation order', async () => {
      const store = await fresh();
      const middle = makeRecord({ createdAt: at(20), updatedAt: at(20) });
      const newest = makeRecord({ createdAt: at(30), updatedAt: at(30) });
      const oldest = makeRecord({ createdAt: at(10), updatedAt: at(10) });
      for (const record of [middle, newest, oldest]) await store.createStream(record);
      const ids = (await store.listStreams()).map((r) => r.id);
      expect(ids).toEqual([oldest.id, middle.id, newest.id]);
    });

    it('orders streams created in the same millisecond by id', async () => {
      const store = await fresh();
      const records = ['c', 'a', 'b'].map((id) => makeRecord({ id }));
      for (const record of records) await store.createStream(record);
      expect((await store.listStreams()).map((r) => r.id)).toEqual(['a', 'b', 'c']);
    });

    it('returns undefined for unknown ids and key hashes', async () => {
      const store = await fresh();
      await store.createStream(makeRecord());
      expect(await store.getStream('nope')).toBeUndefined();
      expect(await store.findStreamByKeyHash(hashStreamKey('nope'))).toBeUndefined();
      expect(await store.rotateStreamKey('nope', hashStreamKey('x'))).toBeUndefined();
      expect(await store.deleteStream('nope')).toBe(false);
    });

    it('refuses a duplicate id with ConflictError and keeps the original', async () => {
      const store = await fresh();
      const record = makeRecord();
      await store.createStream(record);
      const duplicate = makeRecord({ id: record.id, name: 'impostor' });
      await expect(store.createStream(duplicate)).rejects.toBeInstanceOf(ConflictError);
      expect(await store.getStream(record.id)).toEqual(record);
      expect(await store.findStreamByKeyHash(duplicate.keyHash)).toBeUndefined();
      expect(await store.listStreams()).toHaveLength(1);
    });

    it('refuses a duplicate key hash with ConflictError', async () => {
      const store = await fresh();
      const record = makeRecord();
      await store.createStream(record);
      const duplicate = makeRecord({ keyHash: record.keyHash });
      await expect(store.createStream(duplicate)).rejects.toBeInstanceOf(ConflictError);
      expect(await store.getStream(duplicate.id)).toBeUndefined();
      expect((await store.findStreamByKeyHash(record.keyHash))!.id).toBe(record.id);
    });

    it('finds a stream by its key hash', async () => {
      const store = await fresh();
      const [a, b] = [makeRecord(), makeRecord()];
      await store.createStream(a);
      await store.createStream(b);
      expect(await store.findStreamByKeyHash(a.keyHash)).toEqual(a);
      expect(await store.findStreamByKeyHash(b.keyHash)).toEqual(b);
    });

    it('rotates a key: the old hash finds nothing, the new one finds the stream', async () => {
      const store = await fresh();
      const record = makeRecord();
      await store.createStream(record);
      const newHash = hashStreamKey(generateStreamKey());
      const rotated = await store.rotateStreamKey(record.id, newHash);
      expect(rotated).toMatchObject({
        id: record.id,
        name: record.name,
        keyHash: newHash,
        createdAt: record.createdAt,
      });
      expect(rotated!.updatedAt).not.toBe(record.updatedAt);
      expect(Date.parse(rotated!.updatedAt)).toBeGreaterThan(Date.parse(record.updatedAt));
      expect(await store.findStreamByKeyHash(record.keyHash)).toBeUndefined();
      expect(await store.findStreamByKeyHash(newHash)).toEqual(rotated);
      expect(await store.getStream(record.id)).toEqual(rotated);
    });

    it('refuses to rotate to a key hash another stream holds', async () => {
      const store = await fresh();
      const [a, b] = [makeRecord(), makeRecord()];
      await store.createStream(a);
      await store.createStream(b);
      await expect(store.rotateStreamKey(a.id, b.keyHash)).rejects.toBeInstanceOf(ConflictError);
      expect(await store.getStream(a.id)).toEqual(a);
      expect((await store.findStreamByKeyHash(b.keyHash))!.id).toBe(b.id);
    });

    it('lets a rotated-away hash be used by a new stream', async () => {
      const store = await fresh();
      const record = makeRecord();
      await store.createStream(record);
      await store.rotateStreamKey(record.id, hashStreamKey(generateStreamKey()));
      const reuse = makeRecord({ keyHash: record.keyHash });
      await store.createStream(reuse);
      expect((await store.findStreamByKeyHash(record.keyHash))!.id).toBe(reuse.id);
    });

    it('deletes a stream with its key index entry', async () => {
      const store = await fresh();
      const [keep, drop] = [makeRecord(), makeRecord()];
      await store.createStream(keep);
      await store.createStream(drop);
      expect(await store.deleteStream(drop.id)).toBe(true);
      expect(await store.getStream(drop.id)).toBeUndefined();
      expect(await store.findStreamByKeyHash(drop.keyHash)).toBeUndefined();
      expect((await store.listStreams()).map((r) => r.id)).toEqual([keep.id]);
      expect(await store.deleteStream(drop.id)).toBe(false);
      expect(await store.getStream(keep.id)).toEqual(keep);
    });

    it('can re-create a deleted id and reuse its key hash', async () => {
      const store = await fresh();
      const record = makeRecord();
      await store.createStream(record);
      await store.deleteStream(record.id);
      await store.createStream(record);
      expect(await store.findStreamByKeyHash(record.keyHash)).toEqual(record);
    });

    it('persists 50 concurrent creates', async () => {
      const store = await fresh();
      const records = Array.from({ length: 50 }, (_, i) =>
        makeRecord({ createdAt: at(i), updatedAt: at(i) }),
      );
      await Promise.all(records.map((record) => store.createStream(record)));
      expect((await store.listStreams()).map((r) => r.id)).toEqual(records.map((r) => r.id));
      await store.close();
      const reopened = await reopen();
      expect(await reopened.listStreams()).toEqual(records);
    });

    it('lets exactly one of many concurrent creates with the same id win', async () => {
      const store = await fresh();
      const id = generateStreamId();
      const attempts = Array.from({ length: 10 }, () => makeRecord({ id }));
      const results = await Promise.allSettled(attempts.map((r) => store.createStream(r)));
      const fulfilled = results.filter((r) => r.status === 'fulfilled');
      const rejected = results.filter((r) => r.status === 'rejected');
      expect(fulfilled).toHaveLength(1);
      for (const result of rejected) expect(result.reason).toBeInstanceOf(ConflictError);
      expect(await store.listStreams()).toHaveLength(1);
    });

    it('keeps every change of a concurrent mix of writes', async () => {
      const store = await fresh();
      const records = Array.from({ length: 20 }, (_, i) =>
        makeRecord({ createdAt: at(i), updatedAt: at(i) }),
      );
      for (const record of records) await store.createStream(record);
      const newHashes = records.map(() => hashStreamKey(generateStreamKey()));
      await Promise.all([
        ...records.slice(0, 10).map((r) => store.deleteStream(r.id)),
        ...records.slice(10).map((r, i) => store.rotateStreamKey(r.id, newHashes[10 + i])),
        store.createStream(makeRecord({ id: 'late', createdAt: at(100), updatedAt: at(100) })),
      ]);
      await store.close();
      const reopened = await reopen();
      const listed = await reopened.listStreams();
      expect(listed.map((r) => r.id)).toEqual([...records.slice(10).map((r) => r.id), 'late']);
      for (const [i, record] of records.slice(10).entries()) {
        expect((await reopened.findStreamByKeyHash(newHashes[10 + i]))!.id).toBe(record.id);
        expect(await reopened.findStreamByKeyHash(record.keyHash)).toBeUndefined();
      }
      for (const record of records.slice(0, 10)) {
        expect(await reopened.findStreamByKeyHash(record.keyHash)).toBeUndefined();
      }
    });

    it('keeps everything across a reopen', async () => {
      const store = await fresh();
      const [a, b, c] = [makeRecord(), makeRecord(), makeRecord()];
      for (const record of [a, b, c]) await store.createStream(record);
      const newHash = hashStreamKey(generateStreamKey());
      const rotated = await store.rotateStreamKey(b.id, newHash);
      await store.deleteStream(c.id);
      await store.close();

      const reopened = await reopen();
      expect(await reopened.getStream(a.id)).toEqual(a);
      expect(await reopened.getStream(b.id)).toEqual(rotated);
      expect(await reopened.getStream(c.id)).toBeUndefined();
      expect((await reopened.findStreamByKeyHash(newHash))!.id).toBe(b.id);
      expect(await reopened.findStreamByKeyHash(b.keyHash)).toBeUndefined();
      expect(await reopened.findStreamByKeyHash(c.keyHash)).toBeUndefined();
      await expect(reopened.createStream(makeRecord({ id: a.id }))).rejects.toBeInstanceOf(
        ConflictError,
      );
    });

    it('closes idempotently and refuses calls afterwards', async () => {
      const store = await fresh();
      await store.close();
      await store.close();
      await expect(store.getStream('x')).rejects.toThrow(/closed/);
      await expect(store.createStream(makeRecord())).rejects.toThrow(/closed/);
    });

    it('refuses a malformed record with a TypeError', async () => {
      const store = await fresh();
      await expect(store.createStream(makeRecord({ id: '' }))).rejects.toBeInstanceOf(TypeError);
      await expect(
        store.createStream(makeRecord({ createdAt: 'yesterday' })),
      ).rejects.toBeInstanceOf(TypeError);
      expect(await store.listStreams()).toEqual([]);
    });

    it('updates a stream: name and the record setting, back to the default with null', async () => {
      const store = await fresh();
      const record = makeRecord();
      await store.createStream(record);
      const named = await store.updateStream(record.id, { name: 'renamed', record: false });
      expect(named).toMatchObject({ id: record.id, name: 'renamed', record: false });
      expect(named!.keyHash).toBe(record.keyHash);
      expect(await store.getStream(record.id)).toEqual(named);
      const on = await store.updateStream(record.id, { record: true });
      expect(on).toMatchObject({ name: 'renamed', record: true });
      const back = await store.updateStream(record.id, { record: null });
      expect(back).not.toHaveProperty('record');
      await expect((await reopen()).getStream(record.id)).resolves.toEqual(back);
      expect(await store.updateStream('missing', { name: 'x' })).toBeUndefined();
      await expect(store.updateStream(record.id, { name: '' })).rejects.toBeInstanceOf(TypeError);
    });

    it('keeps the record setting and the visibility given on create, and changes visibility', async () => {
      const store = await fresh();
      const record = makeRecord({ record: false, visibility: 'private' });
      await store.createStream(record);
      expect(await store.getStream(record.id)).toEqual(record);
      expect(await store.findStreamByKeyHash(record.keyHash)).toEqual(record);
      const plain = makeRecord();
      await store.createStream(plain);
      expect(await store.getStream(plain.id)).not.toHaveProperty('visibility');
      const opened = await store.updateStream(record.id, { visibility: 'public' });
      expect(opened).toMatchObject({ record: false, visibility: 'public' });
      await expect((await reopen()).getStream(record.id)).resolves.toEqual(opened);
      await expect(
        store.updateStream(record.id, { visibility: 'secret' as never }),
      ).rejects.toBeInstanceOf(TypeError);
      await expect(
        store.createStream(makeRecord({ visibility: 'hidden' as never })),
      ).rejects.toBeInstanceOf(TypeError);
    });

    it('keeps recordings: per stream newest first, unfinished ones, updates, deletes', async () => {
      const store = await fresh();
      const old = makeRecording(['s1'], 10, { status: 'ready', endedAt: at(20) });
      const live = makeRecording(['s1'], 30);
      const composed = makeRecording(['s1', 's2'], 20, { name: 'duo', layout: 'grid' });
      for (const r of [old, live, composed]) await store.createRecording(r);
      await expect(store.createRecording(live)).rejects.toBeInstanceOf(ConflictError);
      expect((await store.listRecordings('s1')).map((r) => r.id)).toEqual([
        live.id,
        composed.id,
        old.id,
      ]);
      expect(await store.listRecordings('s2')).toEqual([composed]);
      expect(await store.listRecordings('s3')).toEqual([]);
      expect((await store.listUnfinishedRecordings()).map((r) => r.id).sort()).toEqual(
        [live.id, composed.id].sort(),
      );

      const done = await store.updateRecording(live.id, {
        status: 'ready',
        endedAt: at(40),
        durationSeconds: 10.5,
        parts: 2,
      });
      expect(done).toMatchObject({ status: 'ready', durationSeconds: 10.5, parts: 2 });
      expect(done!.updatedAt).not.toBe(live.updatedAt);
      expect(await store.getRecording(live.id)).toEqual(done);
      expect((await store.listUnfinishedRecordings()).map((r) => r.id)).toEqual([composed.id]);

      const reopened = await reopen();
      expect(await reopened.getRecording(composed.id)).toEqual(composed);
      expect(await reopened.deleteRecording(composed.id)).toBe(true);
      expect(await reopened.deleteRecording(composed.id)).toBe(false);
      expect(await reopened.updateRecording(composed.id, { status: 'failed' })).toBeUndefined();
      expect(await reopened.getRecording(composed.id)).toBeUndefined();
      expect(await reopened.listRecordings('s2')).toEqual([]);
      expect(await reopened.listUnfinishedRecordings()).toEqual([]);
      await expect(
        reopened.createRecording({ ...old, id: 'rec_x', streamIds: [] }),
      ).rejects.toBeInstanceOf(TypeError);
      await expect(
        reopened.updateRecording(old.id, { status: 'done' as never }),
      ).rejects.toBeInstanceOf(TypeError);
    });

    describe('webhook outbox', () => {
      const A = 'http://127.0.0.1:9/a';
      const B = 'http://127.0.0.1:9/b';
      const claimAll = (store: StateStore, now = Date.now() + 1, leaseMs = 60_000) =>
        store.claimWebhookDeliveries({ now, limit: 100, leaseMs });

      it('queues an event per target and leases each delivery to one claimer', async () => {
        const store = await fresh();
        const event = makeWebhookEvent('s1');
        expect(await store.enqueueWebhook(event, [A, B, A])).toBe(true);
        expect(await store.webhookOutboxStats()).toEqual({ pending: 2, dead: 0 });
        const claimed = await claimAll(store);
        expect(claimed.map((d) => d.target).sort()).toEqual([A, B]);
        for (const delivery of claimed) {
          expect(delivery.event).toEqual(event);
          expect(delivery.attempts).toBe(0);
        }
        expect(await claimAll(store)).toEqual([]);
        for (const delivery of claimed) {
          expect(await store.completeWebhookDelivery(delivery, { kind: 'delivered' })).toBe(true);
        }
        expect(await store.webhookOutboxStats()).toEqual({ pending: 0, dead: 0 });
        expect(await claimAll(store, Date.now() + 120_000)).toEqual([]);
      });

      it('is idempotent on the event id and refuses a malformed event', async () => {
        const store = await fresh();
        const event = makeWebhookEvent('s1');
        expect(await store.enqueueWebhook(event, [A])).toBe(true);
        expect(await store.enqueueWebhook({ ...event, type: 'other' }, [A])).toBe(false);
        expect(await store.webhookOutboxStats()).toMatchObject({ pending: 1 });
        const bad = { ...makeWebhookEvent('s1'), data: {} } as unknown as WebhookEvent;
        await expect(store.enqueueWebhook(bad, [A])).rejects.toBeInstanceOf(TypeError);
      });

      it("delivers a stream's events to a target in order, other streams meanwhile", async () => {
        const store = await fresh();
        const [first, second] = [makeWebhookEvent('s1'), makeWebhookEvent('s1', 'stream.ended')];
        const other = makeWebhookEvent('s2');
        for (const event of [first, second, other]) await store.enqueueWebhook(event, [A]);
        const batch = await claimAll(store);
        expect(batch.map((d) => d.event.id).sort()).toEqual([first.id, other.id].sort());
        // The second event of s1 waits for the first: when the leases expire, the heads are
        // claimed again, never the event behind one.
        const expired = await claimAll(store, Date.now() + 120_000);
        expect(expired.map((d) => d.event.id).sort()).toEqual([first.id, other.id].sort());
        const head = expired.find((d) => d.event.id === first.id)!;
        expect(await store.completeWebhookDelivery(head, { kind: 'delivered' })).toBe(true);
        const next = await claimAll(store);
        expect(next.map((d) => d.event.id)).toEqual([second.id]);
      });

      it('retries at the given time with the attempt count and the last error', async () => {
        const store = await fresh();
        const event = makeWebhookEvent('s1');
        const later = makeWebhookEvent('s1', 'stream.ended');
        await store.enqueueWebhook(event, [A]);
        await store.enqueueWebhook(later, [A]);
        const [delivery] = await claimAll(store);
        const retryAt = Date.now() + 5000;
        expect(
          await store.completeWebhookDelivery(delivery, {
            kind: 'retry',
            retryAt,
            error: 'HTTP 503',
          }),
        ).toBe(true);
        expect(await claimAll(store, retryAt - 1)).toEqual([]);
        const [again] = await claimAll(store, retryAt);
        expect(again).toMatchObject({ attempts: 1, lastError: 'HTTP 503' });
        expect(again.event).toEqual(event);
        // Given up: dead-lettered, and the stream's next event is due with a fresh count.
        await store.completeWebhookDelivery(again, { kind: 'dead', error: 'HTTP 410' });
        const dead = await store.listDeadWebhooks();
        expect(dead).toHaveLength(1);
        expect(dead[0]).toMatchObject({ target: A, attempts: 2, error: 'HTTP 410', event });
        expect(Date.parse(dead[0].deadAt)).not.toBeNaN();
        const [next] = await claimAll(store);
        expect(next).toMatchObject({ attempts: 0, event: later });
        expect(next.lastError).toBeUndefined();
        expect(await store.webhookOutboxStats()).toEqual({ pending: 1, dead: 1 });
      });

      it('moves an expired lease to the next claimer and refuses the old one', async () => {
        const store = await fresh();
        await store.enqueueWebhook(makeWebhookEvent('s1'), [A]);
        const now = Date.now() + 1;
        const [first] = await store.claimWebhookDeliveries({ now, limit: 10, leaseMs: 100 });
        expect(
          await store.claimWebhookDeliveries({ now: now + 50, limit: 10, leaseMs: 100 }),
        ).toEqual([]);
        const [second] = await store.claimWebhookDeliveries({
          now: now + 100,
          limit: 10,
          leaseMs: 100,
        });
        expect(second.event.id).toBe(first.event.id);
        expect(second.lease).not.toBe(first.lease);
        expect(await store.completeWebhookDelivery(first, { kind: 'delivered' })).toBe(false);
        expect(await store.webhookOutboxStats()).toMatchObject({ pending: 1 });
        expect(await store.completeWebhookDelivery(second, { kind: 'delivered' })).toBe(true);
        expect(await store.webhookOutboxStats()).toMatchObject({ pending: 0 });
      });

      it('never hands out a delivery again while its completion is being written', async () => {
        const store = await fresh();
        const [first, second] = [makeWebhookEvent('s1'), makeWebhookEvent('s1', 'stream.ended')];
        await store.enqueueWebhook(first, [A]);
        await store.enqueueWebhook(second, [A]);
        const [delivery] = await claimAll(store);
        let done = false;
        const completing = store
          .completeWebhookDelivery(delivery, { kind: 'delivered' })
          .finally(() => (done = true));
        const during: string[] = [];
        while (!done) {
          for (const d of await claimAll(store)) during.push(d.event.id);
          await new Promise((resolve) => setImmediate(resolve));
        }
        expect(await completing).toBe(true);
        // Only the next event can have been claimed, once the first was delivered.
        expect(during.filter((id) => id === first.id)).toEqual([]);
      });

      it('hands each due delivery to exactly one of concurrent claimers', async () => {
        const store = await fresh();
        const events = Array.from({ length: 20 }, (_, i) => makeWebhookEvent(`s${i}`));
        for (const event of events) await store.enqueueWebhook(event, [A]);
        const now = Date.now() + 1;
        const batches = await Promise.all(
          Array.from({ length: 5 }, () =>
            store.claimWebhookDeliveries({ now, limit: 6, leaseMs: 60_000 }),
          ),
        );
        const ids = batches.flat().map((d) => d.event.id);
        expect(ids).toHaveLength(20);
        expect(new Set(ids).size).toBe(20);
      });

      it('keeps pending events and dead letters across a reopen', async () => {
        const store = await fresh();
        const [kept, dropped] = [makeWebhookEvent('s1'), makeWebhookEvent('s2')];
        await store.enqueueWebhook(kept, [A, B]);
        await store.enqueueWebhook(dropped, [A]);
        const claimed = await claimAll(store, Date.now() + 1, 1000);
        const drop = claimed.find((d) => d.event.id === dropped.id)!;
        await store.completeWebhookDelivery(drop, { kind: 'dead', error: 'HTTP 404' });
        await store.close();
        const reopened = await reopen();
        expect(await reopened.webhookOutboxStats()).toEqual({ pending: 2, dead: 1 });
        expect((await reopened.listDeadWebhooks())[0].event).toEqual(dropped);
        // Claimed before the "restart" and never completed: due again once the lease is over.
        const again = await claimAll(reopened, Date.now() + 1001);
        expect(again.map((d) => d.target).sort()).toEqual([A, B]);
        for (const delivery of again) expect(delivery.event).toEqual(kept);
      });
    });
  });
}
