import { describe, expect, it } from 'vitest';
import { engineStoreKinds, openOn } from './durable-stores.js';
import { fixture } from './helpers.js';

for (const [name, make, skip] of engineStoreKinds) {
  describe.skipIf(skip !== undefined)(`a task's error on ${name}`, () => {
    it("keeps an AggregateError's errors, in the handle and in the store", async () => {
      const engine = await openOn(await make());
      const task = engine.task('anyFails', { module: fixture(), exportName: 'anyFails' });
      const job = engine.enqueue(task);
      const outcome = await job.result;
      expect(outcome).toMatchObject({
        kind: 'failed',
        reason: 'threw',
        error: {
          name: 'AggregateError',
          message: 'All promises were rejected',
          errors: [
            { name: 'Error', message: 'the primary refused', cause: { message: 'ECONNREFUSED' } },
            { name: 'TypeError', message: 'the replica answered garbage' },
          ],
        },
      });
      if (job.storeId !== undefined) {
        expect(await engine.getStoredJob(job.storeId)).toMatchObject({ state: 'failed', outcome });
      }
    });
  });
}
