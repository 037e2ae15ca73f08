import { describe, expect, it } from 'vitest';
import type { Lease, NewQueueJob, QueueStore } from '../../src/store/queue.js';
import type { StoresFactory } from './fixture.js';
import { queueOnManualClock } from './queue-clock.js';

const job = (task: string, extra: Partial<NewQueueJob> = {}): NewQueueJob => ({
  task,
  payload: { task },
  ...extra,
});
const claimAll = (queue: QueueStore, ttlMs = 10_000) => queue.claim({ worker: 'w1', limit: 1000, ttlMs });

async function claimOne(queue: QueueStore, ttlMs?: number): Promise<Lease> {
  const [lease] = await claimAll(queue, ttlMs);
  if (lease === undefined) throw new Error('no lease');
  return lease;
}

/** QueueStore.release's `uncounted`: an attempt given back that does not count against maxAttempts. */
export function queueReleaseContract(make: StoresFactory): void {
  const open = queueOnManualClock(make);

  describe('uncounted release', () => {
    it('forgiven: keeps the attempt, and the bound grows by one', async () => {
      const { queue, clock } = await open();
      await queue.enqueue([job('twice', { maxAttempts: 2 })]);
      await queue.release([{ lease: await claimOne(queue, 1000), uncounted: 'forgiven' }]);
      expect(await queue.getJob((await claimOne(queue, 1000)).jobId)).toMatchObject({ attempts: 2 });
      clock.advance(1000);
      // Its second lease, the first counted, expired: requeued within maxAttempts 2 (before: failed).
      expect((await queue.expireLeases()).map((expired) => expired.kind)).toEqual(['requeued']);
      const third = await claimOne(queue, 1000);
      expect(third.attempt).toBe(3);
      clock.advance(1000);
      expect((await queue.expireLeases()).map((expired) => expired.kind)).toEqual(['failed']);
      expect(await queue.getJob(third.jobId)).toMatchObject({
        state: 'failed',
        outcome: { kind: 'runner_lost', attempts: 3 },
      });
    });

    it('takes the attempt back: the next lease carries the same attempt number', async () => {
      const { queue } = await open();
      await queue.enqueue([job('a'), job('b')]);
      const [a, b] = await claimAll(queue);
      if (a === undefined || b === undefined) throw new Error('no leases');
      expect(await queue.release([{ lease: a, uncounted: 'not_begun' }, { lease: b }])).toEqual([
        { kind: 'released', jobId: a.jobId },
        { kind: 'released', jobId: b.jobId },
      ]);
      expect(await queue.getJob(a.jobId)).toMatchObject({ state: 'queued', attempts: 0 });
      expect(await queue.getJob(b.jobId)).toMatchObject({ state: 'queued', attempts: 1 });
      const again = await claimAll(queue);
      expect(again.map((lease) => [lease.jobId, lease.attempt])).toEqual([
        [a.jobId, 1],
        [b.jobId, 2],
      ]);
      // A fresh token all the same: the given-back lease is stale.
      expect(again[0]?.token).toBeGreaterThan(a.token);
    });

    it('changes nothing under a stale token, and takes one attempt back for a job named twice', async () => {
      const { queue } = await open();
      await queue.enqueue([job('a'), job('b')]);
      const [a, b] = await claimAll(queue);
      if (a === undefined || b === undefined) throw new Error('no leases');
      await queue.release([{ lease: a }]);
      const a2 = await claimOne(queue);
      expect(a2.attempt).toBe(2);
      const results = await queue.release([
        { lease: a, uncounted: 'not_begun' },
        { lease: b, uncounted: 'not_begun' },
        { lease: b, uncounted: 'not_begun' },
      ]);
      expect(results.map((result) => result.kind)).toEqual(['stale', 'released', 'stale']);
      expect(await queue.getJob(a.jobId)).toMatchObject({ state: 'leased', attempts: 2 });
      expect(await queue.getJob(b.jobId)).toMatchObject({ state: 'queued', attempts: 0 });
    });

    it('is not counted against maxAttempts when a lease expires', async () => {
      const { queue, clock } = await open();
      await queue.enqueue([job('once', { maxAttempts: 1 })]);
      await queue.release([{ lease: await claimOne(queue, 1000), uncounted: 'not_begun' }]);
      const lease = await claimOne(queue, 1000);
      expect(lease.attempt).toBe(1);
      clock.advance(1000);
      // Its one counted attempt was lost: failed, as `runner_lost` after 1 attempt.
      expect((await queue.expireLeases()).map((expired) => expired.kind)).toEqual(['failed']);
      expect(await queue.getJob(lease.jobId)).toMatchObject({
        state: 'failed',
        attempts: 1,
        outcome: { kind: 'runner_lost', attempts: 1 },
      });
    });
  });
}
