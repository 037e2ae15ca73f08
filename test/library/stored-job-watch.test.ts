import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { TaskOutcome } from '../../src/executors/thread/outcome.js';
import { StoredJobWatch } from '../../src/library/stored-job-watch.js';
import type { QueueStore } from '../../src/store/queue.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

it('looks up every watched job in one read per interval, settles those that ended, and stops when none is left', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'valkyrie-watched-'));
  const stores = openSqliteStores(join(dir, 'state.db'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  cleanups.push(() => stores.close());
  const reads = { many: 0, one: 0 };
  const queue = stores.queue;
  const counted: QueueStore = Object.assign(Object.create(queue) as QueueStore, {
    getJobs: (ids: Parameters<QueueStore['getJobs']>[0]) => {
      reads.many++;
      return queue.getJobs(ids);
    },
    getJob: (id: Parameters<QueueStore['getJob']>[0]) => {
      reads.one++;
      return queue.getJob(id);
    },
  });
  const ended: Array<[string, TaskOutcome]> = [];
  const watched = new StoredJobWatch<{ name: string; attempt: number }>(
    counted,
    (read) => read,
    (entry, outcome) => ended.push([entry.name, outcome]),
    20,
  );
  cleanups.push(async () => watched.close());

  const created = await queue.enqueue(Array.from({ length: 40 }, (_, i) => ({ task: 't', payload: i })));
  created.forEach((result, i) => {
    watched.add(result.job.id, { name: `job${i}`, attempt: 0 });
  });
  const claimed = await queue.claim({ worker: 'elsewhere', limit: 40, ttlMs: 60_000 });
  await queue.complete(
    claimed.slice(0, 30).map((lease) => ({ lease, outcome: { kind: 'succeeded', result: lease.payload } })),
  );
  await expect.poll(() => ended.length, { timeout: 5_000 }).toBe(30);
  expect(watched.size).toBe(10);
  await queue.complete(claimed.slice(30).map((lease) => ({ lease, outcome: { kind: 'succeeded' } })));
  await expect.poll(() => ended.length, { timeout: 5_000 }).toBe(40);

  expect(ended[0]).toEqual(['job0', { kind: 'succeeded', output: 0, attempts: 1 }]);
  expect(reads.one).toBe(0);
  // One read per look, however many jobs are watched; none once every job has ended.
  const readsWhenDone = reads.many;
  expect(readsWhenDone).toBeLessThan(40);
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(reads.many).toBe(readsWhenDone);
});
