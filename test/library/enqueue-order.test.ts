import { describe, expect, it } from 'vitest';
import type { EnqueueResult, NewQueueJob, QueueStore } from '../../src/store/queue.js';
import { engineOnProxiedPostgres, postgres, proxiedQueue, signal } from './proxied-store.js';

/**
 * `queue` with its first enqueue answered only once its second has answered (and the engine has had
 * a turn to map it), as Postgres may answer two batches written on separate connections.
 */
function laterEnqueueAnswersFirst(queue: QueueStore) {
  const asked = [signal(), signal()];
  const secondAnswered = signal();
  let enqueues = 0;
  const enqueue = async (jobs: readonly NewQueueJob[]): Promise<EnqueueResult[]> => {
    const n = enqueues++;
    asked[n]?.resolve();
    if (n > 1) return queue.enqueue(jobs);
    try {
      return await queue.enqueue(jobs);
    } finally {
      if (n === 1) secondAnswered.resolve();
      else {
        await secondAnswered.promise;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  };
  return { store: proxiedQueue(queue, { enqueue }), asked: asked.map(({ promise }) => promise) };
}

/** A producer on Postgres whose first enqueue has been asked for, then its second, which answers first. */
async function producerWithBatchesOutOfOrder() {
  const proxied: { held?: ReturnType<typeof laterEnqueueAnswersFirst> } = {};
  const producer = await engineOnProxiedPostgres({ runJobs: false }, (queue) => {
    proxied.held = laterEnqueueAnswersFirst(queue);
    return proxied.held.store;
  });
  const [firstAsked, secondAsked] = proxied.held?.asked ?? [];
  const first = producer.enqueue('sleep', 1);
  await firstAsked;
  const second = producer.enqueue('sleep', 2);
  await secondAsked;
  return { producer, first, jobs: [first, second] };
}

describe.skipIf(postgres?.skip !== undefined)(
  'two enqueues in flight, the later answering first, on Postgres',
  () => {
    // The cancel waited for the last enqueue batch only: answered first, it left the job's own batch
    // unmapped, so the cancel found no store id and answered false, and the job stayed queued.
    it('a cancel cancels a job of the earlier batch', async () => {
      const { producer, first } = await producerWithBatchesOutOfOrder();
      expect(await producer.cancel(first, 'at once')).toBe(true);
      expect(await first.result).toEqual({ kind: 'cancelled', reason: 'at once', attempts: 0 });
      expect(await producer.getStoredJob(first.storeId ?? '')).toMatchObject({
        attempts: 0,
        outcome: { kind: 'cancelled', reason: 'at once' },
      });
    });

    // close() (drain) waited for the last batch only too: a job of the earlier batch was handed back
    // as waiting before its id was known, and its handle resolved with no store id, though the job
    // stays queued in the store.
    it('close() resolves the handles of both batches with their store ids', async () => {
      const { producer, jobs } = await producerWithBatchesOutOfOrder();
      const storeIdsOnResult = jobs.map((job) => job.result.then(() => job.storeId));
      await producer.close();
      const reason = 'the engine closed before it ran the job here; the job stays queued in the store';
      for (const job of jobs) expect(await job.result).toEqual({ kind: 'cancelled', reason, attempts: 0 });
      const storeIds = await Promise.all(storeIdsOnResult);
      expect(storeIds).toEqual(jobs.map((job) => job.storeId));
      expect(storeIds).not.toContain(undefined);
    });
  },
);
