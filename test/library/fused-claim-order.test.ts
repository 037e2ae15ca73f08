import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { openSqliteEngineStore, storeEngineQueue } from '../../src/library/engine-store.js';
import { JobRecord, type JobTask } from '../../src/library/job-record.js';
import { resolveJobOptions, retryDefaults } from '../../src/library/options.js';
import type { QueueJobId } from '../../src/store/queue.js';
import { afterTest } from './helpers.js';

const task = { name: 'noop', moduleUrl: 'file:///noop.mjs', exportName: 'noop' };
const jobTask: JobTask = {
  task,
  poolTask: { typeId: 1, moduleUrl: task.moduleUrl, exportName: task.exportName },
  attemptEnded: () => {},
  progressReported: () => {},
  logReported: () => {},
};

/** A StoreEngineQueue on a fresh SQLite file, whose adopted leases are listed and dropped. */
async function fusedQueue() {
  const dir = await mkdtemp(join(tmpdir(), 'valkyrie-fused-claim-'));
  afterTest(() => rm(dir, { recursive: true, force: true }));
  const store = openSqliteEngineStore(
    {
      kind: 'sqlite',
      path: join(dir, 'state.db'),
      synchronous: 'normal',
      busyTimeoutMs: 5_000,
      leaseTtlMs: 60_000,
      capacity: 100,
    },
    { clock: systemClock, agingIntervalMs: 60_000 },
  );
  const adopted: QueueJobId[] = [];
  const queue = storeEngineQueue(store, {
    hooks: { onReady: () => {}, settled: () => {}, leaseLost: () => {} },
    adopt: (lease) => {
      adopted.push(lease.jobId);
      return undefined;
    },
    tasks: () => [task.name],
    runsJobs: true,
  });
  afterTest(() => queue.close());
  const entry = new JobRecord(1, jobTask, null, resolveJobOptions('test', undefined, retryDefaults));
  return { store, queue, adopted, entry };
}

/**
 * On SQLite a claim that does not write new jobs itself may share a group commit with an enqueue
 * written apart (held jobs no take came for, StoreEngineQueue.#storeHeldSoon) and lease its jobs.
 * That enqueue's results must be mapped to their entries before the claim's leases are
 * (StoreEngineQueue.#mapped), else the engine takes its own job for another process's, adopting it
 * as a second record while the first waits. Postgres: claim-before-enqueue.test.ts.
 */
it("maps a claim's lease on a job enqueued apart in the same SQLite commit to its entry", async () => {
  const { queue, adopted, entry } = await fusedQueue();
  queue.add(entry);
  // No take follows the add: the held entry is written at the end of this turn's I/O phase, and the
  // group commit that write joins is applied in the next turn's: a claim asked for now goes with it.
  await new Promise((resolve) => setImmediate(resolve));
  const into: (JobRecord | undefined)[] = [];
  expect(await queue.take(1, into)).toBe(1);
  expect(adopted).toEqual([]);
  expect(into[0]).toBe(entry);
  expect(entry.lease?.jobId).toBe(entry.storeId);
});

// A lease on another process's job put that claim's mapping off past its write (#mapped), and a
// cancel waited for that write alone, or for a batch written apart after it (another cancel's): it
// found its job not held back, and the store counted the claim's lease as an attempt the task never
// began (attempts: 1).
for (const writtenAfter of [false, true]) {
  it(`counts no attempt for a job cancelled while that claim, leasing another process's job too, is under way${writtenAfter ? ', after a cancel that wrote a job apart' : ''}`, async () => {
    const { store, queue, adopted, entry } = await fusedQueue();
    const [foreign] = await store.queue.enqueue([{ task: task.name, payload: null }]);
    queue.add(entry);
    await new Promise((resolve) => setImmediate(resolve));
    const into: (JobRecord | undefined)[] = [];
    const taken = queue.take(3, into);
    const cancels: Promise<boolean>[] = [];
    if (writtenAfter) {
      const other = new JobRecord(2, jobTask, null, resolveJobOptions('test', undefined, retryDefaults));
      queue.add(other);
      cancels.push(queue.cancel(other, 'at once'));
    }
    cancels.push(queue.cancel(entry, 'at once'));
    expect(await taken).toBe(0);
    expect(await Promise.all(cancels)).toEqual(cancels.map(() => true));
    expect(adopted).toEqual([foreign?.job.id]);
    expect(entry.attempt).toBe(0);
    expect(await store.queue.getJob(entry.storeId ?? ('' as QueueJobId))).toMatchObject({
      state: 'failed',
      attempts: 0,
    });
  });
}
