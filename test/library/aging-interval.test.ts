import { describe, expect, it } from 'vitest';
import { openEngine } from '../../src/library/engine.js';
import { ManualClock } from '../core/manual-clock.js';
import { durableKinds } from './durable-kinds.js';
import { afterTest, until } from './helpers.js';

for (const kind of durableKinds) {
  describe.skipIf(kind.skip !== undefined)(`agingIntervalMs on ${kind.name}`, () => {
    it('orders the jobs the engine stores, as it orders those it holds', async () => {
      const durable = await kind.make(0);
      afterTest(() => durable.cleanup());
      const clock = new ManualClock(Date.now());
      const producer = await openEngine({
        store: durable.store(10_000),
        runJobs: false,
        agingIntervalMs: 1_000,
        clock,
      });
      afterTest(() => producer.destroy());
      const low = producer.enqueue('echo', 'low', { priority: 'low' });
      await until(() => low.storeId !== undefined, 'the low job to be stored');
      await clock.advance(1_500);
      const normal = producer.enqueue('echo', 'normal');
      await until(() => normal.storeId !== undefined, 'the normal job to be stored');
      // Ranked at T + 3 × 1 s and T + 1.5 s + 2 × 1 s: the low job has waited past an interval and a
      // half, and goes first. On the store's default of 60 s (the option not passed on to the store),
      // the normal job went first: T + 121.5 s against T + 180 s.
      const queue = (await durable.openStores(clock)).queue;
      const leases = await queue.claim({ worker: 'a test', limit: 2, ttlMs: 60_000 });
      expect(leases.map((lease) => lease.jobId)).toEqual([low.storeId, normal.storeId]);
    });
  });
}
