import { describe, expect, it } from 'vitest';
import { durableKinds } from './durable-kinds.js';
import { afterTest, fixture, openTestEngine, until } from './helpers.js';

/**
 * A cancel of a written job that waits in the store ran beside a claim already under way: on
 * Postgres the claim could lease the job here (held back for the cancel, never started) and count an
 * attempt, which the handle and the store then reported (attempts: 1 for a task that never began).
 */
for (const kind of durableKinds) {
  describe.skipIf(kind.skip !== undefined)(`a cancel racing a claim, ${kind.name}`, () => {
    it('counts no attempt for a written job whose task never started', async () => {
      const durable = await kind.make(0);
      afterTest(() => durable.cleanup());
      const { engine, events } = await openTestEngine({ store: durable.store(30_000), maxInFlight: 1 });
      const sleep = engine.task<number, string>('sleep', { module: fixture(), exportName: 'sleep' });
      const jobs = Array.from({ length: 40 }, () => engine.enqueue(sleep, 3));
      await until(() => jobs.every((job) => job.storeId !== undefined), 'the jobs to be written');
      // One cancel after another, each while the engine claims the next job between runs of 3 ms.
      for (const job of jobs.slice(1)) {
        await engine.cancel(job, 'late');
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 6));
      }
      const outcomes = await Promise.all(jobs.map((job) => job.result));
      const startedIds = new Set(
        events.flatMap((event) => (event.type === 'job.started' ? [event.jobId] : [])),
      );
      const wrong: { job: string; attempts: number; stored: number | undefined }[] = [];
      for (const [i, job] of jobs.entries()) {
        const outcome = outcomes[i];
        if (outcome?.kind !== 'cancelled' || startedIds.has(job.id)) continue;
        const stored = (await engine.getStoredJob(job.storeId ?? ''))?.attempts;
        if (outcome.attempts !== 0 || stored !== 0)
          wrong.push({ job: job.id, attempts: outcome.attempts, stored });
      }
      expect(wrong).toEqual([]);
    });
  });
}
