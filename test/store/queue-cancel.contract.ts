import { afterEach, describe, expect, it } from 'vitest';
import { asQueueJobId, type QueueStore } from '../../src/store/queue.js';
import type { OpenedStores, StoresFactory } from './fixture.js';
import { ManualClock } from './queue-clock.js';

const cancelled = { error: 'cancelled: by a test', detail: { kind: 'cancelled', reason: 'by a test' } };
const claim = (queue: QueueStore) => queue.claim({ worker: 'w', limit: 10, ttlMs: 1000 });

/** QueueStore.cancel: ends a queued, delayed or leased job once; a holder's lease is lost with it. */
export function queueCancelContract(make: StoresFactory): void {
  let opened: OpenedStores | undefined;
  afterEach(async () => {
    await opened?.cleanup();
    opened = undefined;
  });
  const open = async (capacity?: number) => {
    const clock = new ManualClock();
    opened = await make({ queue: capacity === undefined ? { clock } : { clock, capacity } });
    return { queue: opened.stores.queue, clock };
  };

  describe('cancel', () => {
    it('ends a queued job and a delayed one: failed with the outcome given, never claimed', async () => {
      const { queue, clock } = await open();
      const [now, later] = await queue.enqueue([
        { task: 't', payload: 1 },
        { task: 't', payload: 2, notBefore: clock.now() + 60_000 },
      ]);
      const ids = [now, later].map((result) => result?.job.id ?? asQueueJobId('0'));
      for (const id of ids) {
        expect(await queue.cancel(id, cancelled)).toEqual({ kind: 'cancelled', jobId: id, was: 'queued' });
      }
      clock.advance(120_000);
      expect(await claim(queue)).toEqual([]);
      for (const id of ids) {
        expect(await queue.getJob(id)).toMatchObject({
          state: 'failed',
          attempts: 0,
          outcome: { kind: 'failed', ...cancelled },
        });
      }
      // Idempotent: a second cancel changes nothing.
      expect(await queue.cancel(ids[0] ?? asQueueJobId('0'), cancelled)).toEqual({
        kind: 'finished',
        jobId: ids[0],
      });
    });

    it("ends a leased job, and its holder's renew, completion and release are refused as stale", async () => {
      const { queue } = await open();
      await queue.enqueue([{ task: 't', payload: 1 }]);
      const [lease] = await claim(queue);
      if (lease === undefined) throw new Error('nothing was claimed');
      expect(await queue.cancel(lease.jobId, cancelled)).toMatchObject({ kind: 'cancelled', was: 'leased' });
      await expect(queue.renew(lease, 1000)).rejects.toMatchObject({ code: 'VK_STALE_LEASE' });
      expect(await queue.complete([{ lease, outcome: { kind: 'succeeded', result: 'late' } }])).toEqual([
        { kind: 'stale', jobId: lease.jobId, token: lease.token },
      ]);
      expect(await queue.release([{ lease }])).toEqual([
        { kind: 'stale', jobId: lease.jobId, token: lease.token },
      ]);
      expect(await queue.expireLeases()).toEqual([]);
      expect(await queue.getJob(lease.jobId)).toMatchObject({
        state: 'failed',
        attempts: 1,
        outcome: { kind: 'failed', ...cancelled },
      });
    });

    it("frees a cancelled queued job's place in the queue's capacity, and only a queued one's", async () => {
      const { queue } = await open(2);
      const [first] = await queue.enqueue([
        { task: 't', payload: 1 },
        { task: 't', payload: 2 },
      ]);
      await expect(queue.enqueue([{ task: 't', payload: 3 }])).rejects.toMatchObject({
        code: 'VK_QUEUE_FULL',
      });
      await queue.cancel(first?.job.id ?? asQueueJobId('0'), cancelled);
      expect((await queue.enqueue([{ task: 't', payload: 3 }])).map((result) => result.kind)).toEqual([
        'created',
      ]);
      // A leased job held no place: cancelling it frees none, and cancelling again frees nothing more.
      const [leased] = await queue.claim({ worker: 'w', limit: 1, ttlMs: 1000 });
      await queue.enqueue([{ task: 't', payload: 4 }]);
      await queue.cancel(leased?.jobId ?? asQueueJobId('0'), cancelled);
      await queue.cancel(first?.job.id ?? asQueueJobId('0'), cancelled);
      await expect(queue.enqueue([{ task: 't', payload: 5 }])).rejects.toMatchObject({
        code: 'VK_QUEUE_FULL',
      });
    });

    it('leaves a finished job as it was, and answers missing for an id it does not hold', async () => {
      const { queue } = await open();
      await queue.enqueue([{ task: 't', payload: 1 }]);
      const [lease] = await claim(queue);
      if (lease === undefined) throw new Error('nothing was claimed');
      await queue.complete([{ lease, outcome: { kind: 'succeeded', result: 'done' } }]);
      expect(await queue.cancel(lease.jobId, cancelled)).toEqual({ kind: 'finished', jobId: lease.jobId });
      expect(await queue.getJob(lease.jobId)).toMatchObject({
        state: 'succeeded',
        outcome: { kind: 'succeeded', result: 'done' },
      });
      for (const id of ['999999', 'x', '']) {
        expect(await queue.cancel(asQueueJobId(id), cancelled)).toEqual({ kind: 'missing', jobId: id });
      }
    });
  });
}
