import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Completion, Lease } from '../../src/store/queue.js';
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

const succeeded = (lease: Lease, token = lease.token): Completion => ({
  lease: { jobId: lease.jobId, token },
  outcome: { kind: 'succeeded' },
});

/** 64 jobs claimed together (one token), as a pool that hands them to workers in turn gets them back. */
async function claimedJobs(): Promise<{ queue: Stores['queue']; leases: Lease[] }> {
  stores = openSqliteStores(join(dir, 'state.db'));
  const { queue } = stores;
  await queue.enqueue(Array.from({ length: 64 }, (_, i) => ({ task: 'noop', payload: i })));
  const leases = await queue.claim({ worker: 'w', limit: 64, ttlMs: 60_000 });
  expect(leases).toHaveLength(64);
  return { queue, leases };
}

async function states(queue: Stores['queue'], leases: readonly Lease[]): Promise<string[]> {
  const jobs = await queue.getJobs(leases.map((lease) => lease.jobId));
  const byId = new Map(jobs.map((job) => [job.id, job.state]));
  return leases.map((lease) => byId.get(lease.jobId) ?? 'missing');
}

// A batch of completions whose ids are a stride apart settles by one range update that steps over
// the rows between (queue-batch-writes.ts): those rows must stay as they were.
describe('SQLite queue: completions a stride apart', () => {
  it.each([2, 3, 4])('settles every %i-th job and leaves the jobs between them leased', async (stride) => {
    const { queue, leases } = await claimedJobs();
    const picked = leases.filter((_, i) => i % stride === 0);
    const results = await queue.complete(picked.map((lease) => succeeded(lease)));
    expect(results.map((result) => result.kind)).toEqual(picked.map(() => 'completed'));
    expect(await states(queue, leases)).toEqual(
      leases.map((_, i) => (i % stride === 0 ? 'succeeded' : 'leased')),
    );
  });

  it('settles the rest one by one when one of the run carries a stale token, and records it', async () => {
    const { queue, leases } = await claimedJobs();
    const odd = leases.filter((_, i) => i % 2 === 1);
    const staleAt = 10;
    const results = await queue.complete(
      odd.map((lease, i) => (i === staleAt ? succeeded(lease, lease.token + 7) : succeeded(lease))),
    );
    expect(results.map((result) => result.kind)).toEqual(
      odd.map((_, i) => (i === staleAt ? 'stale' : 'completed')),
    );
    const staleJob = odd[staleAt] as Lease;
    expect(await states(queue, leases)).toEqual(
      leases.map((lease, i) => (i % 2 === 0 || lease === staleJob ? 'leased' : 'succeeded')),
    );
    expect(await queue.staleWrites(staleJob.jobId)).toHaveLength(1);
  });
});
