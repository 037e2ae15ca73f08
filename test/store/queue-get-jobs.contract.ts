import { afterEach, describe, expect, it } from 'vitest';
import { asQueueJobId, type QueueJobId } from '../../src/store/queue.js';
import type { OpenedStores, StoresFactory } from './fixture.js';

/**
 * QueueStore.getJobs, one read for many jobs (an engine watching the jobs other processes run): the
 * jobs that exist, in id order, whatever order or repeats the ids came in; ids that name no job,
 * or are not ids at all, are left out. Each job reads as getJob reads it.
 */
export function queueGetJobsContract(make: StoresFactory): void {
  let opened: OpenedStores | undefined;
  afterEach(async () => {
    await opened?.cleanup();
    opened = undefined;
  });

  describe('getJobs', () => {
    it('reads the jobs that exist in id order, each as getJob does, one state at a time', async () => {
      opened = await make();
      const { queue } = opened.stores;
      const created = await queue.enqueue([
        { task: 'a', payload: { n: 1 } },
        { task: 'b', payload: [2] },
        { task: 'c', payload: 'three' },
      ]);
      const ids = created.map((result) => result.job.id);
      const [a, b, c] = ids as [QueueJobId, QueueJobId, QueueJobId];
      const [lease] = await queue.claim({ worker: 'w', limit: 1, ttlMs: 60_000 });
      if (lease === undefined) throw new Error('nothing claimed');
      await queue.complete([{ lease, outcome: { kind: 'succeeded', result: { ok: true } } }]);

      const read = await queue.getJobs([c, asQueueJobId('999999'), a, b, a]);
      expect(read.map((job) => [job.id, job.task, job.state])).toEqual([
        [a, 'a', 'succeeded'],
        [b, 'b', 'queued'],
        [c, 'c', 'queued'],
      ]);
      for (const job of read) expect(job).toEqual(await queue.getJob(job.id));
      // Only those that ended, failed as succeeded: a look at a backlog reads none of its queued rows.
      await queue.cancel(c, { error: 'cancelled', detail: { kind: 'cancelled' } });
      const ended = await queue.getJobs([c, b, a], { finishedOnly: true });
      expect(ended.map((job) => [job.id, job.state])).toEqual([
        [a, 'succeeded'],
        [c, 'failed'],
      ]);
    });

    it('answers [] for no ids, unknown ids and ids that are not ids, without refusing', async () => {
      opened = await make();
      const { queue } = opened.stores;
      await queue.enqueue([{ task: 'a', payload: null }]);
      expect(await queue.getJobs([])).toEqual([]);
      expect(await queue.getJobs([asQueueJobId('424242'), asQueueJobId('x1'), asQueueJobId('-3')])).toEqual(
        [],
      );
    });
  });
}
