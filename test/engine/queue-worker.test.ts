import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type QueueJobHandler, QueueWorker } from '../../src/engine/queue-worker.js';
import { claimThenWait, type QueueStore } from '../../src/store/queue.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import { tempDir } from '../store/factories.js';

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

class ManualClock {
  at = 1_700_000_000_000;
  now = () => this.at;
}

async function openStores(clock = new ManualClock()): Promise<Stores> {
  const { dir, remove } = await tempDir();
  const stores = openSqliteStores(join(dir, 'state.db'), { queue: { clock } });
  cleanups.push(async () => {
    await stores.close();
    await remove();
  });
  return stores;
}

function startWorker(store: QueueStore, handler: QueueJobHandler, extra = {}) {
  const worker = new QueueWorker({ store, handler, worker: 'test-worker', ...extra });
  worker.start();
  cleanups.push(() => worker.close());
  return worker;
}

/** Resolves once `predicate` holds, re-checking on every turn of the event loop. */
async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((resolve) => setImmediate(resolve));
}

describe('QueueWorker', () => {
  it('runs every job once with at most `concurrency` at a time, and commits the outcomes', async () => {
    const { queue } = await openStores();
    let running = 0;
    let peak = 0;
    const seen: string[] = [];
    const worker = startWorker(
      queue,
      async ({ lease }) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setImmediate(resolve));
        running--;
        seen.push(lease.jobId);
        if (lease.task === 'bad') throw new Error('handler failed');
        return { doubled: (lease.payload as number) * 2 };
      },
      { concurrency: 4 },
    );
    const results = await queue.enqueue([
      ...Array.from({ length: 40 }, (_, i) => ({ task: 'ok', payload: i })),
      { task: 'bad', payload: 0 },
    ]);
    await until(() => seen.length === 41);
    await worker.close();
    expect(new Set(seen).size).toBe(41);
    expect(peak).toBeLessThanOrEqual(4);
    const [first] = results;
    const last = results.at(-1);
    if (first === undefined || last === undefined) throw new Error('no jobs');
    expect(await queue.getJob(first.job.id)).toMatchObject({
      state: 'succeeded',
      outcome: { kind: 'succeeded', result: { doubled: 0 } },
    });
    expect(await queue.getJob(last.job.id)).toMatchObject({
      state: 'failed',
      outcome: { kind: 'failed', error: 'handler failed' },
    });
  });

  it('leases at most concurrency + prefetch jobs, starting the prefetched ones as slots free', async () => {
    const { queue } = await openStores();
    const release: Array<() => void> = [];
    const started: string[] = [];
    startWorker(
      queue,
      ({ lease }) =>
        new Promise<void>((resolve) => {
          started.push(lease.task);
          release.push(resolve);
        }),
      { concurrency: 2, prefetch: 3 },
    );
    const results = await queue.enqueue(
      Array.from({ length: 10 }, (_, i) => ({ task: `t${i}`, payload: i })),
    );
    const leased = async () =>
      (await Promise.all(results.map((r) => queue.getJob(r.job.id)))).filter((job) => job?.state === 'leased')
        .length;
    await until(() => started.length === 2);
    // Let the claim loop settle; it must not take more than its room.
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(await leased()).toBe(5);
    expect(started).toEqual(['t0', 't1']);
    release.shift()?.();
    await until(() => started.length === 3);
    expect(started[2]).toBe('t2');
    while (started.length < 10 || release.length > 0) {
      release.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
  });

  it('claims at half capacity, or with less than a round left to start after a claim came back to idle slots', async () => {
    const { queue } = await openStores();
    const limits: number[] = [];
    const recording: QueueStore = {
      enqueue: (jobs) => queue.enqueue(jobs),
      claim: (request) => queue.claim(request),
      enqueueAndClaim: (jobs, request) => queue.enqueueAndClaim(jobs, request),
      renew: (lease, ttlMs) => queue.renew(lease, ttlMs),
      complete: (completions) => queue.complete(completions),
      release: (releases) => queue.release(releases),
      expireLeases: () => queue.expireLeases(),
      cancel: (id, outcome) => queue.cancel(id, outcome),
      waitForWork: (signal) => queue.waitForWork(signal),
      claimOrWait: (request, signal) => {
        limits.push(request.limit);
        return queue.claimOrWait(request, signal);
      },
      getJob: (id) => queue.getJob(id),
      getJobs: (ids) => queue.getJobs(ids),
      staleWrites: (id) => queue.staleWrites(id),
    };
    await queue.enqueue(Array.from({ length: 30 }, (_, i) => ({ task: `t${i}`, payload: i })));
    const release: Array<() => void> = [];
    let finished = 0;
    // Set when the test ends, passed or not, so that closing the worker does not wait for held jobs.
    let draining = false;
    startWorker(
      recording,
      () =>
        new Promise<void>((resolve) => {
          const finish = () => {
            finished++;
            resolve();
          };
          if (draining) finish();
          else release.push(finish);
        }),
      { concurrency: 2, prefetch: 8 },
    );
    try {
      await until(() => release.length === 2);
      // One job at a time, each settled before the next: the worker sees every count of waiting jobs.
      while (limits.length < 3 && finished < 20) {
        const done = finished;
        release.shift()?.();
        await until(() => finished === done + 1 && release.length === 2);
        for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      }
      // The first claim came back to idle slots: after it, not at half capacity free (5 jobs done, 3
      // left to start) but when less than a round was left (7 done). That claim came back with both
      // slots busy, so the next is at half capacity again.
      expect(limits).toEqual([10, 7, 5]);
    } finally {
      draining = true;
      for (const finish of release.splice(0)) finish();
    }
  });

  it('wakes for jobs enqueued while it sleeps', async () => {
    const { queue } = await openStores();
    const seen: string[] = [];
    startWorker(queue, async ({ lease }) => void seen.push(lease.task));
    await queue.enqueue([{ task: 'first', payload: null }]);
    await until(() => seen.length === 1);
    await queue.enqueue([{ task: 'second', payload: null }]);
    await until(() => seen.length === 2);
    expect(seen).toEqual(['first', 'second']);
  });

  it('renews held leases, and aborts a handler whose lease went stale', async () => {
    const clock = new ManualClock();
    const { queue } = await openStores(clock);
    let renewals = 0;
    // While paused, renewals are held back, as if this worker's process had stalled.
    let resume: (() => void) | undefined;
    let paused: Promise<void> | undefined;
    const counting: QueueStore = {
      enqueue: (jobs) => queue.enqueue(jobs),
      claim: (request) => queue.claim(request),
      enqueueAndClaim: (jobs, request) => queue.enqueueAndClaim(jobs, request),
      renew: async (lease, ttlMs) => {
        renewals++;
        await paused;
        return queue.renew(lease, ttlMs);
      },
      complete: (completions) => queue.complete(completions),
      release: (releases) => queue.release(releases),
      expireLeases: () => queue.expireLeases(),
      cancel: (id, outcome) => queue.cancel(id, outcome),
      waitForWork: (signal) => queue.waitForWork(signal),
      claimOrWait: (request, signal) => claimThenWait(counting, request, signal),
      getJob: (id) => queue.getJob(id),
      getJobs: (ids) => queue.getJobs(ids),
      staleWrites: (id) => queue.staleWrites(id),
    };
    let aborted: unknown;
    startWorker(
      counting,
      ({ signal }) =>
        new Promise((resolve) => {
          signal.addEventListener('abort', () => {
            aborted = signal.reason;
            resolve(undefined);
          });
        }),
      // One slot, held by the stuck handler, so the worker cannot claim the requeued job itself.
      { leaseTtlMs: 30, concurrency: 1, prefetch: 0 },
    );
    const [created] = await queue.enqueue([{ task: 'long', payload: null }]);
    await until(() => renewals >= 2);
    paused = new Promise((resolve) => {
      resume = resolve;
    });
    await until(() => renewals >= 4);
    // The lease expires under the store's clock and another worker takes the job.
    clock.at += 31;
    await queue.expireLeases();
    const [taken] = await queue.claim({ worker: 'other', limit: 1, ttlMs: 60_000 });
    if (taken === undefined) throw new Error('the expired job was not requeued');
    expect(taken.jobId).toBe(created?.job.id);
    resume?.();
    await until(() => aborted !== undefined);
    expect(aborted).toMatchObject({ code: 'VK_STALE_LEASE' });
    // The stale handler's result was dropped: the job is still the other worker's.
    expect(await queue.getJob(taken.jobId)).toMatchObject({ state: 'leased', attempts: 2 });
  });
});
