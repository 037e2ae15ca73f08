import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { TaskOutcome } from '../../src/executors/thread/outcome.js';
import { StoredJobWatch, storedOutcomeOnceFinished } from '../../src/library/stored-job-watch.js';
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
    getJobs: (ids: Parameters<QueueStore['getJobs']>[0], options: Parameters<QueueStore['getJobs']>[1]) => {
      reads.many++;
      return queue.getJobs(ids, options);
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

it('reads at most its batch of jobs per look, finished ones only, the longest watched first, each in turn', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'valkyrie-watched-'));
  const stores = openSqliteStores(join(dir, 'state.db'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  cleanups.push(() => stores.close());
  const queue = stores.queue;
  const looks: Array<{ asked: number; answered: number }> = [];
  const counted: QueueStore = Object.assign(Object.create(queue) as QueueStore, {
    getJobs: async (
      ids: Parameters<QueueStore['getJobs']>[0],
      options: Parameters<QueueStore['getJobs']>[1],
    ) => {
      const jobs = await queue.getJobs(ids, options);
      looks.push({ asked: ids.length, answered: jobs.length });
      return jobs;
    },
  });
  const ended: string[] = [];
  const watched = new StoredJobWatch<{ name: string; attempt: number }>(
    counted,
    (read) => read,
    (entry) => ended.push(entry.name),
    20,
    10,
  );
  cleanups.push(async () => watched.close());
  const created = await queue.enqueue(Array.from({ length: 35 }, (_, i) => ({ task: 't', payload: i })));
  created.forEach((result, i) => {
    watched.add(result.job.id, { name: `job${i}`, attempt: 0 });
  });
  // The last job added ends first: it is read in its turn, after the 30 watched before it.
  const leases = await queue.claim({ worker: 'elsewhere', limit: 35, ttlMs: 60_000 });
  const last = leases.at(-1);
  if (last === undefined) throw new Error('nothing claimed');
  await queue.complete([{ lease: last, outcome: { kind: 'succeeded' } }]);
  await expect.poll(() => ended, { timeout: 5_000 }).toEqual(['job34']);
  expect(looks.every((look) => look.asked <= 10)).toBe(true);
  // The queued jobs looked at came back empty: only finished rows are read.
  expect(looks.slice(0, 3).map((look) => look.answered)).toEqual([0, 0, 0]);
  expect(looks.reduce((sum, look) => sum + look.asked, 0)).toBeGreaterThanOrEqual(35);
});

it('keeps reading a job whose reads fail until the store answers, instead of giving up', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'valkyrie-watched-'));
  const stores = openSqliteStores(join(dir, 'state.db'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  cleanups.push(() => stores.close());
  const queue = stores.queue;
  const [created] = await queue.enqueue([{ task: 't', payload: 1 }]);
  const [lease] = await queue.claim({ worker: 'elsewhere', limit: 1, ttlMs: 60_000 });
  if (created === undefined || lease === undefined) throw new Error('nothing claimed');
  await queue.complete([{ lease, outcome: { kind: 'succeeded', result: 7 } }]);
  let failures = 2;
  const flaky: QueueStore = Object.assign(Object.create(queue) as QueueStore, {
    getJob: (id: Parameters<QueueStore['getJob']>[0]) =>
      failures-- > 0 ? Promise.reject(new Error('the database is away')) : queue.getJob(id),
  });
  const outcome = await storedOutcomeOnceFinished(flaky, created.job.id, 10, new AbortController().signal);
  expect(outcome).toEqual({ kind: 'succeeded', output: 7, attempts: 1 });
});
