import { describe, expect, it } from 'vitest';
import { ThreadPool } from '../../src/executors/thread/thread-pool.js';
import { openEngine } from '../../src/library/engine.js';
import type { JobOutcome } from '../../src/library/events.js';
import { engineStoreKinds, openOn } from './durable-stores.js';
import { afterTest, fixture, until } from './helpers.js';

// The engine claimed each job the closed pool refused again at once: on a durable store hundreds
// of claims a second, every one counted as an attempt, for as long as the process lived.
describe('a pool given to an engine (options.pool), closed under it', () => {
  for (const [name, makeStore, skip] of engineStoreKinds) {
    it.skipIf(skip !== undefined)(
      `${name}: the engine closes, and refused jobs are not counted`,
      async () => {
        const store = await makeStore();
        const pool = new ThreadPool({ minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 1 });
        afterTest(() => pool.destroy());
        const engine = await openOn(store, { pool, maxInFlight: 2 });
        const sleep = engine.task<number, string>('sleep', { module: fixture(), exportName: 'sleep' });
        let started = 0;
        engine.onEvent((event) => {
          if (event.type === 'job.started') started++;
        });
        const jobs = [1, 2, 3].map(() => engine.enqueue(sleep, 60_000));
        await until(() => started >= 2, 'two jobs handed to the pool');
        await pool.destroy();
        const outcomes: JobOutcome[] = await Promise.all(jobs.map((job) => job.result));
        expect(outcomes.map((outcome) => outcome.kind)).toEqual(['cancelled', 'cancelled', 'cancelled']);
        // The first ran; the others were refused by the pool or never handed to it.
        expect(outcomes.slice(1).map((outcome) => outcome.attempts)).toEqual([0, 0]);
        expect(() => engine.enqueue(sleep, 1)).toThrow(expect.objectContaining({ code: 'VK_ENGINE_CLOSED' }));
        if (name === 'memory') return;
        await new Promise((resolve) => setTimeout(resolve, 200));
        const reader = await openEngine({ store, runJobs: false });
        afterTest(() => reader.destroy());
        const stored = await Promise.all(jobs.map((job) => reader.getStoredJob(job.storeId ?? '')));
        expect(stored.map((job) => [job?.state, job?.attempts])).toEqual([
          ['queued', 1],
          ['queued', 0],
          ['queued', 0],
        ]);
      },
    );
  }
});
