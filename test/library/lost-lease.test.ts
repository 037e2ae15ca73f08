import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { asQueueJobId } from '../../src/store/queue.js';
import { clockAhead } from '../server/clock-ahead.js';
import { durableKinds } from './durable-kinds.js';
import { fixture, openTestEngine } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function until(test: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

for (const kind of durableKinds) {
  describe.skipIf(kind.skip !== undefined)(`a lost lease on ${kind.name}`, () => {
    it("reports the store's outcome, not the one it could not record, when another engine took the job over", async () => {
      const durable = await kind.make(0);
      cleanups.push(() => durable.cleanup());
      const { engine, events } = await openTestEngine({ store: durable.store(10_000), maxInFlight: 1 });
      engine.task('waitsForFile', { module: fixture(), exportName: 'waitsForFile' });
      const dir = (await import('node:os')).tmpdir();
      const file = join(dir, `valkyrie-lost-lease-${process.pid}-${Date.now()}-${kind.name}`);
      cleanups.push(() => import('node:fs/promises').then((fs) => fs.rm(file, { force: true })));
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
      await writeFile(file, 'from the stalled engine');
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
  });
}
