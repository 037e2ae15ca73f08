import { describe, expect, it } from 'vitest';
import { openEngine } from '../../src/library/engine.js';
import type { EngineStoreOptions } from '../../src/library/options.js';
import { durableKinds } from './durable-kinds.js';
import { afterTest, fixture, openTestEngine, until } from './helpers.js';

for (const kind of durableKinds) {
  describe.skipIf(kind.skip !== undefined)(`close() on ${kind.name}`, () => {
    it('waits for running attempts only: delayed jobs and retries stay queued in the store', async () => {
      const durable = await kind.make(0);
      afterTest(() => durable.cleanup());
      const { engine, events } = await openTestEngine({ store: durable.store(30_000) });
      const sleep = engine.task<number, string>('sleep', { module: fixture(), exportName: 'sleep' });
      const flaky = engine.task('flaky', { module: fixture(), exportName: 'flaky' });
      const running = engine.enqueue(sleep, 200);
      const delayed = engine.enqueue(sleep, 1, { delayMs: 3_600_000 });
      // Fails its first attempt, and would try again in an hour.
      const retried = engine.enqueue(
        flaky,
        { succeedOn: 2 },
        { retry: { retryOn: ['threw'], delayMs: 3_600_000 } },
      );
      while (!events.some((event) => event.type === 'job.retried')) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }

      // A SIGTERM handler's close(): before the fix it waited for the delayed hour.
      await engine.close();
      expect(await running.result).toEqual({ kind: 'succeeded', output: 'slept', attempts: 1 });
      for (const [job, attempts] of [
        [delayed, 0],
        [retried, 1],
      ] as const) {
        expect(await job.result).toEqual({
          kind: 'cancelled',
          reason: 'the engine closed before it ran the job here; the job stays queued in the store',
          attempts,
        });
      }

      const next = await openEngine({ store: durable.store(2_000), runJobs: false });
      afterTest(() => next.destroy());
      expect(await next.getStoredJob(delayed.storeId ?? '')).toMatchObject({ state: 'queued', attempts: 0 });
      expect(await next.getStoredJob(retried.storeId ?? '')).toMatchObject({ state: 'queued', attempts: 1 });
    }, 30_000);
    it('writes the jobs enqueued just before it first: their handles resolve with a storeId, or refused', async () => {
      const durable = await kind.make(0);
      afterTest(() => durable.cleanup());
      const store = { ...(durable.store(30_000) as object), capacity: 2 } as EngineStoreOptions;
      const { engine } = await openTestEngine({ store });
      const echo = engine.task('echo', { module: fixture() });
      const kept = engine.enqueueMany([
        { task: echo, input: 1 },
        { task: echo, input: 2 },
      ]);
      // Its own submission, past the capacity: refused on its own.
      const refused = engine.enqueue(echo, 3);
      const storeIdsOnResult = kept.map((job) => job.result.then(() => job.storeId));
      await engine.close();
      const reason = 'the engine closed before it ran the job here; the job stays queued in the store';
      for (const job of kept) expect(await job.result).toEqual({ kind: 'cancelled', reason, attempts: 0 });
      expect(await Promise.all(storeIdsOnResult)).toEqual(kept.map((job) => job.storeId));
      expect(kept.map((job) => job.storeId)).not.toContain(undefined);
      expect(await refused.result).toMatchObject({
        kind: 'cancelled',
        reason: expect.stringContaining('(capacity 2)') as unknown,
        code: 'VK_QUEUE_FULL',
      });
      // A cancellation by close() is no refusal: no code.
      expect(await kept[0]?.result).not.toHaveProperty('code');
      expect(refused.storeId).toBeUndefined();

      const next = await openEngine({ store: durable.store(2_000), runJobs: false });
      afterTest(() => next.destroy());
      for (const job of kept) {
        expect(await next.getStoredJob(job.storeId ?? '')).toMatchObject({ state: 'queued', attempts: 0 });
      }
    }, 30_000);
  });
}

for (const kind of durableKinds) {
  describe.skipIf(kind.skip !== undefined)(`close() on ${kind.name}, with jobs handed to the pool`, () => {
    it('gives back the jobs no worker has begun instead of waiting for them to run', async () => {
      const durable = await kind.make(0);
      afterTest(() => durable.cleanup());
      // One slot: one job runs, and maxInFlight 3 hands two more to the pool (one lined up in the worker).
      const { engine, events } = await openTestEngine({
        store: durable.store(30_000),
        pool: { minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 1 },
        maxInFlight: 3,
      });
      const sleep = engine.task<number, string>('sleep', { module: fixture(), exportName: 'sleep' });
      const jobs = [1, 2, 3].map(() => engine.enqueue(sleep, 1_000));
      while (events.filter((event) => event.type === 'job.started').length < 3) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }

      const started = performance.now();
      await engine.close();
      // Before: close() waited for all three, one after the other (3 s).
      expect(performance.now() - started).toBeLessThan(1_900);
      const outcomes = await Promise.all(jobs.map((job) => job.result));
      expect(outcomes[0]).toEqual({ kind: 'succeeded', output: 'slept', attempts: 1 });
      const reason = 'the engine closed before it ran the job here; the job stays queued in the store';
      // Never begun: no attempt counted, in the handle nor in the store (before: 1 in both).
      for (const outcome of outcomes.slice(1))
        expect(outcome).toEqual({ kind: 'cancelled', reason, attempts: 0 });

      const next = await openEngine({ store: durable.store(2_000), runJobs: false });
      afterTest(() => next.destroy());
      for (const job of jobs.slice(1)) {
        expect(await next.getStoredJob(job.storeId ?? '')).toMatchObject({ state: 'queued', attempts: 0 });
      }
    }, 30_000);

    it('a job it gave back runs as attempt 1 in the next engine, within maxAttempts: 1', async () => {
      const durable = await kind.make(0);
      afterTest(() => durable.cleanup());
      const pool = { minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 1 };
      const { engine, events } = await openTestEngine({ store: durable.store(30_000), pool, maxInFlight: 2 });
      const sleep = engine.task<number, string>('sleep', { module: fixture(), exportName: 'sleep' });
      engine.task('flaky', { module: fixture(), exportName: 'flaky' });
      const running = engine.enqueue(sleep, 300);
      // Lined up behind the sleep in the one slot; it would succeed on any attempt, and may have one.
      const givenBack = engine.enqueue('flaky', { succeedOn: 1 }, { retry: { maxAttempts: 1 } });
      while (events.filter((event) => event.type === 'job.started').length < 2) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await engine.close();
      expect(await running.result).toMatchObject({ kind: 'succeeded', attempts: 1 });
      expect(await givenBack.result).toMatchObject({ kind: 'cancelled', attempts: 0 });

      const { engine: next, events: nextEvents } = await openTestEngine({ store: durable.store(30_000) });
      next.task('flaky', { module: fixture(), exportName: 'flaky' });
      const id = givenBack.storeId ?? '';
      await until(async () => (await next.getStoredJob(id))?.state === 'succeeded', 'the job to run');
      // Before: it ran as attempt 2 of 1 (ctx.attempt 2), its stored attempts 2.
      expect(await next.getStoredJob(id)).toMatchObject({
        attempts: 1,
        outcome: { kind: 'succeeded', output: 1, attempts: 1 },
      });
      expect(nextEvents).toContainEqual({
        type: 'job.started',
        jobId: expect.any(String),
        task: 'flaky',
        attempt: 1,
      });
    }, 30_000);
  });
}
