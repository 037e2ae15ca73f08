import { describe, expect, it } from 'vitest';
import { type Engine, openEngine } from '../../src/library/engine.js';
import { durableKinds } from './durable-kinds.js';
import { afterTest, fixture } from './helpers.js';

for (const kind of durableKinds) {
  describe.skipIf(kind.skip !== undefined)(`a job's retry policy on ${kind.name}`, () => {
    it("is the enqueuing engine's, also where a worker engine with other defaults runs it", async () => {
      const durable = await kind.make(0);
      afterTest(() => durable.cleanup());
      const open = async (options: Parameters<typeof openEngine>[0]) => {
        const engine: Engine = await openEngine({ store: durable.store(30_000), ...options });
        afterTest(() => engine.destroy());
        return engine;
      };
      // The producer retries a task's errors by default; the worker's default retries them more.
      const retrying = await open({ runJobs: false, retry: { maxAttempts: 4, retryOn: ['threw'] } });
      const plain = await open({ runJobs: false });
      const worker = await open({
        pool: { minThreads: 1, maxThreads: 1 },
        retry: { maxAttempts: 6, retryOn: ['threw', 'worker_lost'] },
      });
      worker.task('flaky', { module: fixture(), exportName: 'flaky' });
      worker.task('fails', { module: fixture(), exportName: 'fails' });

      const flaky = retrying.enqueue('flaky', { succeedOn: 3 });
      const failing = retrying.enqueue('fails', null);
      const once = plain.enqueue('fails', null);
      expect(await flaky.result).toEqual({ kind: 'succeeded', output: 3, attempts: 3 });
      expect(await failing.result).toMatchObject({ kind: 'failed', reason: 'threw', attempts: 4 });
      // Enqueued with the library's defaults (a task's error is not retried): not the worker's six.
      expect(await once.result).toMatchObject({ kind: 'failed', reason: 'threw', attempts: 1 });
    }, 30_000);
  });
}
