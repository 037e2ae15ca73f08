import { describe, expect, it } from 'vitest';
import { orAfter } from '../core/race-timeout.js';
import { durableStoreKinds, openOn } from './durable-stores.js';
import { fixture, until } from './helpers.js';

// Two worker engines on one store (two processes, as a deployment runs them): each enqueues, each runs.
for (const [name, make, skip] of durableStoreKinds) {
  describe.skipIf(skip !== undefined)(`two engines that run jobs on one ${name} store`, () => {
    it("resolve the handles of an engine's jobs that the other engine ran", async () => {
      const store = await make();
      // One slot, held by a long job: the quick jobs it enqueues after it can only run on `other`.
      const busy = await openOn(store, {
        pool: { minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 1 },
        maxInFlight: 1,
      });
      const other = await openOn(store);
      busy.task('sleep', { module: fixture(), exportName: 'sleep' });
      for (const engine of [busy, other])
        engine.task('whereRun', { module: fixture(), exportName: 'whereRun' });
      let ranByOther = 0;
      other.onEvent((event) => {
        if (event.type === 'job.succeeded') ranByOther++;
      });
      const blocker = busy.enqueue<number, string>('sleep', 10_000);
      await until(() => busy.stats().inFlight === 1, 'the long job to start');
      const quick = [1, 2, 3].map((i) => busy.enqueue<number, unknown>('whereRun', i));

      const outcomes = await orAfter(Promise.all(quick.map((job) => job.result)), 5_000, 'timed out');

      expect(outcomes).not.toBe('timed out');
      expect(ranByOther).toBe(3);
      expect(outcomes).toEqual(
        [1, 2, 3].map((i) => ({ kind: 'succeeded', output: { pid: process.pid, input: i }, attempts: 1 })),
      );
      expect(busy.stats()).toMatchObject({ queued: 0, unsettled: 1 });
      await busy.cancel(blocker);
    });

    it("resolve the handle of an engine's delayed job that the other engine cancelled in the store", async () => {
      const store = await make();
      const [owner, other] = [await openOn(store), await openOn(store)];
      for (const engine of [owner, other]) engine.task('echo', { module: fixture() });
      const job = owner.enqueue<string, string>('echo', 'later', { delayMs: 60_000 });
      await until(() => job.storeId !== undefined, 'the job to be stored');

      expect(await other.cancelStored(job.storeId ?? '', 'superseded')).toBe(true);
      expect(await orAfter(job.result, 5_000, 'timed out')).toEqual({
        kind: 'cancelled',
        reason: 'superseded',
        attempts: 0,
      });
    });
  });
}
