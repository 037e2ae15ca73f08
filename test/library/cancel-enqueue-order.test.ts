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

describe.skipIf(postgres?.skip !== undefined)(
  'a cancel while two enqueues are in flight, on Postgres',
  () => {
    // The cancel waited for the last enqueue batch only: answered first, it left the job's own batch
    // unmapped, so the cancel found no store id and answered false, and the job stayed queued.
    it('cancels a job whose batch answers after a later batch', async () => {
      const proxied: { held?: ReturnType<typeof laterEnqueueAnswersFirst> } = {};
      const producer = await engineOnProxiedPostgres({ runJobs: false }, (queue) => {
        proxied.held = laterEnqueueAnswersFirst(queue);
        return proxied.held.store;
      });
      const [firstAsked, secondAsked] = proxied.held?.asked ?? [];
      const first = producer.enqueue('sleep', 1);
      await firstAsked;
      producer.enqueue('sleep', 1);
      await secondAsked;
      expect(await producer.cancel(first, 'at once')).toBe(true);
      expect(await first.result).toEqual({ kind: 'cancelled', reason: 'at once', attempts: 0 });
      expect(await producer.getStoredJob(first.storeId ?? '')).toMatchObject({
        attempts: 0,
        outcome: { kind: 'cancelled', reason: 'at once' },
      });
    });
  },
);
