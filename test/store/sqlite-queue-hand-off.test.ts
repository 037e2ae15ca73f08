import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ClaimRequest, Lease } from '../../src/store/queue.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import { tempDir } from './factories.js';

let dir = '';
let removeDir = async () => {};
let stores: Stores | undefined;
beforeEach(async () => {
  ({ dir, remove: removeDir } = await tempDir());
});
afterEach(async () => {
  await stores?.close();
  stores = undefined;
  await removeDir();
});

const request = (worker: string, limit = 10): ClaimRequest => ({ worker, limit, ttlMs: 60_000 });

/** claimOrWait, once its claim has committed empty and it waits (a few turns of the event loop). */
async function waiting(queue: Stores['queue'], claim: ClaimRequest, signal = AbortSignal.timeout(5_000)) {
  const leases = queue.claimOrWait(claim, signal);
  for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
  // Wrapped: an async function returning a promise would wait for it.
  return { leases };
}

const summary = (leases: Lease[]) => leases.map((lease) => [lease.task, lease.worker, lease.attempt]);

describe('SQLite queue: hand-off to a worker of this process', () => {
  it("leases an enqueue's jobs to the waiting worker in the enqueue's own write: the wait resolves with them", async () => {
    stores = openSqliteStores(join(dir, 'state.db'));
    const { queue } = stores;
    const { leases } = await waiting(queue, request('w'));
    const [first, second] = await queue.enqueue([
      { task: 'a', payload: 1 },
      { task: 'b', payload: 2 },
    ]);
    const handed = await leases;
    expect(summary(handed)).toEqual([
      ['a', 'w', 1],
      ['b', 'w', 1],
    ]);
    expect(handed.map((lease) => lease.jobId)).toEqual([first?.job.id, second?.job.id]);
    for (const lease of handed)
      expect(await queue.getJob(lease.jobId)).toMatchObject({ state: 'leased', attempts: 1 });
    await expect(
      queue.complete(handed.map((lease) => ({ lease, outcome: { kind: 'succeeded' } }))),
    ).resolves.toMatchObject([{ kind: 'completed' }, { kind: 'completed' }]);
  });

  it('hands the worker its own copy of each payload, as a claim reads it, not the submitted object', async () => {
    stores = openSqliteStores(join(dir, 'state.db'));
    const { queue } = stores;
    const { leases } = await waiting(queue, request('w'));
    const payload = { n: 1, at: new Date(0) };
    await queue.enqueue([{ task: 't', payload }]);
    payload.n = 2;
    const [lease] = await leases;
    expect(lease?.payload).toEqual({ n: 1, at: '1970-01-01T00:00:00.000Z' });
  });

  it('hands each enqueue to the longest-waiting worker, and the next one to the next', async () => {
    stores = openSqliteStores(join(dir, 'state.db'));
    const { queue } = stores;
    const { leases: older } = await waiting(queue, request('older'));
    const { leases: newer } = await waiting(queue, request('newer'));
    await queue.enqueue([{ task: 'one', payload: null }]);
    expect(summary(await older)).toEqual([['one', 'older', 1]]);
    await queue.enqueue([{ task: 'two', payload: null }]);
    expect(summary(await newer)).toEqual([['two', 'newer', 1]]);
  });

  it('wakes the waiter, leasing nothing to it, for a batch a claim of its would not take whole', async () => {
    stores = openSqliteStores(join(dir, 'state.db'));
    const { queue } = stores;
    const { leases } = await waiting(queue, request('w', 1));
    const enqueued = await queue.enqueue([
      { task: 'a', payload: null },
      { task: 'b', payload: null },
    ]);
    expect(await leases).toEqual([]);
    for (const { job } of enqueued) expect(await queue.getJob(job.id)).toMatchObject({ state: 'queued' });
    expect(summary(await queue.claim(request('w', 1)))).toEqual([['a', 'w', 1]]);
  });

  it('hands nothing to a waiter whose signal aborted', async () => {
    stores = openSqliteStores(join(dir, 'state.db'));
    const { queue } = stores;
    const abort = new AbortController();
    const { leases } = await waiting(queue, request('gone'), abort.signal);
    abort.abort();
    expect(await leases).toEqual([]);
    const [created] = await queue.enqueue([{ task: 't', payload: null }]);
    if (created === undefined) throw new Error('the enqueue returned no job');
    expect(await queue.getJob(created.job.id)).toMatchObject({ state: 'queued', attempts: 0 });
  });
});
