import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { storedCancellation } from '../../src/library/stored-job.js';
import { asQueueJobId } from '../../src/store/queue.js';
import { orAfter } from '../core/race-timeout.js';
import { clockAhead } from '../server/clock-ahead.js';
import { durableKinds } from './durable-kinds.js';
import { afterTest, fixture, openTestEngine, until } from './helpers.js';

/**
 * Makes `file` appear with `text` in one step: the task polls for it, and a plain writeFile let it
 * read the file created but still empty (a CI run saw output '' instead of 'done').
 */
async function writeWhole(file: string, text: string): Promise<void> {
  await writeFile(`${file}.partial`, text);
  await rename(`${file}.partial`, file);
}

for (const kind of durableKinds) {
  describe.skipIf(kind.skip !== undefined)(`a lost lease on ${kind.name}`, () => {
    it("reports the store's outcome, not the one it could not record, when another engine took the job over", async () => {
      const durable = await kind.make(0);
      afterTest(() => durable.cleanup());
      const { engine, events } = await openTestEngine({ store: durable.store(10_000), maxInFlight: 1 });
      engine.task('waitsForFile', { module: fixture(), exportName: 'waitsForFile' });
      const dir = (await import('node:os')).tmpdir();
      const file = join(dir, `valkyrie-lost-lease-${process.pid}-${Date.now()}-${kind.name}`);
      afterTest(() => import('node:fs/promises').then((fs) => fs.rm(file, { force: true })));
      const job = engine.enqueue('waitsForFile', file);
      await until(() => events.some((event) => event.type === 'job.started'), 'the attempt to start');
      await until(() => job.storeId !== undefined, 'the job to be stored');

      // As if this engine's main thread had stalled past its lease: another engine, whose clock
      // reads a minute on, sweeps the lease and takes the job over.
      // (On a loaded machine this engine's own sweeper may have requeued it already.)
      const other = (await durable.openStores(clockAhead(60_000))).queue;
      await other.expireLeases();
      const [lease] = await other.claim({ worker: 'the other engine', limit: 1, ttlMs: 60_000 });
      expect(lease?.jobId).toBe(job.storeId);
      // This engine's attempt ends now: its completion (or its next renewal) is refused as stale.
      await writeWhole(file, 'from the stalled engine');
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (lease === undefined) throw new Error('the other engine claimed nothing');
      await other.complete([{ lease, outcome: { kind: 'succeeded', result: 'from the other engine' } }]);

      expect(await job.result).toEqual({ kind: 'succeeded', output: 'from the other engine', attempts: 2 });
      expect(events.filter((event) => event.type === 'job.succeeded')).toEqual([
        {
          type: 'job.succeeded',
          jobId: job.id,
          task: 'waitsForFile',
          attempts: 2,
          output: 'from the other engine',
        },
      ]);
      expect(await engine.getStoredJob(job.storeId ?? '')).toMatchObject({
        state: 'succeeded',
        outcome: { kind: 'succeeded', output: 'from the other engine', attempts: 2 },
      });
      expect(await other.staleWrites(asQueueJobId(job.storeId ?? ''))).not.toEqual([]);
    }, 30_000);
    it("settles a retry whose lease was lost before a renewal noticed with the store's outcome", async () => {
      const durable = await kind.make(0);
      afterTest(() => durable.cleanup());
      // A long lease: no renewal comes between the cancellation elsewhere and the attempt's end.
      const { engine, events } = await openTestEngine({ store: durable.store(60_000), maxInFlight: 1 });
      engine.task('throwsOnceFileExists', { module: fixture(), exportName: 'throwsOnceFileExists' });
      const dir = (await import('node:os')).tmpdir();
      const file = join(dir, `valkyrie-lost-retry-${process.pid}-${Date.now()}-${kind.name}`);
      afterTest(() => import('node:fs/promises').then((fs) => fs.rm(file, { force: true })));
      const retry = { maxAttempts: 3, retryOn: ['threw' as const] };
      const job = engine.enqueue('throwsOnceFileExists', file, { retry });
      await until(() => events.some((event) => event.type === 'job.started'), 'the attempt to start');
      await until(() => job.storeId !== undefined, 'the job to be stored');

      // Another process cancels the job; this engine's attempt then throws, and its retry's
      // release is refused as stale.
      const other = (await durable.openStores(systemClock)).queue;
      const id = asQueueJobId(job.storeId ?? '');
      expect((await other.cancel(id, storedCancellation('cancelled elsewhere', 1))).kind).toBe('cancelled');
      await writeWhole(file, 'the attempt threw');

      expect(await orAfter(job.result, 15_000, 'still pending')).toEqual({
        kind: 'cancelled',
        reason: 'cancelled elsewhere',
        attempts: 1,
      });
      expect(engine.stats()).toMatchObject({ queued: 0, unsettled: 0 });
      expect(events.filter((event) => event.type === 'job.started')).toHaveLength(1);
    }, 30_000);
    it('runs a job claimed again while its lost attempt still runs here as a record of its own', async () => {
      const durable = await kind.make(0);
      afterTest(() => durable.cleanup());
      const { engine, events } = await openTestEngine({
        pool: { minThreads: 2, maxThreads: 2 },
        store: durable.store(60_000),
        maxInFlight: 2,
      });
      engine.task('waitsForAttemptFile', { module: fixture(), exportName: 'waitsForAttemptFile' });
      const dir = (await import('node:os')).tmpdir();
      const file = join(dir, `valkyrie-reclaimed-${process.pid}-${Date.now()}-${kind.name}`);
      afterTest(() =>
        import('node:fs/promises').then((fs) =>
          Promise.all([1, 2].map((attempt) => fs.rm(`${file}.${attempt}`, { force: true }))),
        ),
      );
      const job = engine.enqueue('waitsForAttemptFile', file);
      const started = () => events.filter((event) => event.type === 'job.started');
      await until(() => started().length === 1, 'the attempt to start');
      await until(() => job.storeId !== undefined, 'the job to be stored');

      // As if this engine had stalled past its lease: another engine's sweep requeues the job, and
      // this engine claims it again while its first attempt still runs.
      const other = (await durable.openStores(clockAhead(120_000))).queue;
      expect(await other.expireLeases()).toHaveLength(1);
      await until(() => started().length === 2, 'the job to be claimed again');
      expect(started()[1]).toMatchObject({ task: 'waitsForAttemptFile', attempt: 2 });
      expect(started()[1]?.jobId).not.toBe(job.id);
      // The lost attempt ends first, while the handle already waits on the store for the new
      // attempt's outcome.
      expect(engine.stats().inFlight).toBe(2);
      await writeWhole(`${file}.1`, 'lost');
      await until(() => engine.stats().inFlight === 1, 'the lost attempt to end');
      await writeWhole(`${file}.2`, 'done');
      // Soon after the job ends here, not at the lease's pace (a third of its 60 s).
      expect(await orAfter(job.result, 5_000, 'still pending')).toEqual({
        kind: 'succeeded',
        output: 'done',
        attempts: 2,
      });
    }, 30_000);
  });
}
