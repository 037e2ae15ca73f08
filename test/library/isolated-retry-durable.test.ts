import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { asQueueJobId } from '../../src/store/queue.js';
import { clockAhead } from '../server/clock-ahead.js';
import { durableKinds } from './durable-kinds.js';
import { afterTest, fixture, openTestEngine, until } from './helpers.js';

for (const kind of durableKinds) {
  describe.skipIf(kind.skip !== undefined)(`a suspect's forgiven attempt on ${kind.name}`, () => {
    it('is not counted in the store either: a lost lease after it is within maxAttempts there too', async () => {
      const durable = await kind.make(0);
      afterTest(() => durable.cleanup());
      const dir = await mkdtemp(join(tmpdir(), 'valkyrie-suspect-'));
      afterTest(() => rm(dir, { recursive: true, force: true }));
      const { engine, events } = await openTestEngine({ store: durable.store(30_000) });
      const waits = engine.task('waits', { module: fixture(), exportName: 'waitsForAttemptFile' });
      const exits = engine.task<number, never>('exits', { module: fixture(), exportName: 'exitsAfter' });
      // Waits on the one thread while the culprit beside it ends the thread: a suspect, forgiven.
      const suspect = engine.enqueue(waits, join(dir, 'never'), { retry: { maxAttempts: 2 } });
      await until(() => events.some((event) => event.type === 'job.started'), 'the suspect to start');
      engine.enqueue(exits, 50, { retry: { retryOn: [] } });
      const secondStarted = (event: (typeof events)[number]) =>
        event.type === 'job.started' && event.task === 'waits' && event.attempt === 2;
      await until(() => events.some(secondStarted), "the suspect's second attempt");
      expect(events).toContainEqual(
        expect.objectContaining({ type: 'job.retried', task: 'waits', attempt: 1 }),
      );

      // Its second attempt, the first counted, loses its lease (as when its process dies): the engine
      // would run it once more (maxAttempts 2), and so does the store now. Before: failed runner_lost.
      const stores = await durable.openStores(clockAhead(60_000));
      const id = asQueueJobId(suspect.storeId ?? '');
      await until(async () => (await stores.queue.getJob(id))?.state === 'leased', 'the second lease');
      expect(await stores.queue.expireLeases()).toMatchObject([{ kind: 'requeued', jobId: id }]);
      // The engine is still open and may lease it again at once: then as attempt 3, within the bound.
      const requeued = await stores.queue.getJob(id);
      const leasedAgain = requeued?.state === 'leased';
      expect(requeued).toMatchObject(leasedAgain ? { attempts: 3 } : { state: 'queued', attempts: 2 });
    }, 30_000);
  });
}
