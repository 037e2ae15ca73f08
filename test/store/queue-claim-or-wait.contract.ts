import { afterEach, describe, expect, it } from 'vitest';
import type { ClaimRequest, Lease, QueueStore } from '../../src/store/queue.js';
import type { OpenedStores, StoresFactory } from './fixture.js';

const request: ClaimRequest = { worker: 'w', limit: 10, ttlMs: 60_000 };

/** A worker's loop: claimOrWait until it has leases or `signal` aborts. */
async function leasesBy(queue: QueueStore, signal: AbortSignal): Promise<Lease[]> {
  while (!signal.aborted) {
    const leases = await queue.claimOrWait(request, signal);
    if (leases.length > 0) return leases;
  }
  return [];
}

/**
 * QueueStore.claimOrWait, a worker's one loop: a claim when jobs are ready, else a wait that may hand
 * it jobs enqueued meanwhile, by this process or another; [] when it woke without any, so that the
 * caller claims again; [] at once when its signal aborts.
 */
export function queueClaimOrWaitContract(make: StoresFactory): void {
  let opened: OpenedStores | undefined;
  afterEach(async () => {
    await opened?.cleanup();
    opened = undefined;
  });

  describe('claimOrWait', () => {
    it('leases ready jobs at once, in queue order, as claim does', async () => {
      opened = await make();
      const { queue } = opened.stores;
      await queue.enqueue([
        { task: 'a', payload: 1 },
        { task: 'b', payload: 2 },
      ]);
      const leases = await queue.claimOrWait(request, AbortSignal.timeout(5_000));
      expect(leases.map((lease) => [lease.task, lease.payload, lease.worker, lease.attempt])).toEqual([
        ['a', 1, 'w', 1],
        ['b', 2, 'w', 1],
      ]);
    });

    it('gets a job enqueued while it waits, from this process or another', async () => {
      opened = await make({ queue: { pollIntervalMs: 20 } });
      const { queue } = opened.stores;
      const other = await opened.openAnother({ queue: { pollIntervalMs: 20 } });
      for (const [from, task] of [
        [queue, 'here'],
        [other.queue, 'elsewhere'],
      ] as const) {
        const signal = AbortSignal.timeout(5_000);
        const waiting = leasesBy(queue, signal);
        await new Promise((resolve) => setTimeout(resolve, 50));
        const [created] = await from.enqueue([{ task, payload: null }]);
        const leases = await waiting;
        expect(signal.aborted).toBe(false);
        expect(leases.map((lease) => [lease.jobId, lease.task])).toEqual([[created?.job.id, task]]);
        await expect(
          queue.complete(leases.map((lease) => ({ lease, outcome: { kind: 'succeeded' } }))),
        ).resolves.toMatchObject([{ kind: 'completed' }]);
      }
    });

    it('resolves [] when its signal aborts, and leaves nothing that takes later jobs', async () => {
      opened = await make();
      const { queue } = opened.stores;
      const abort = new AbortController();
      const waiting = queue.claimOrWait(request, abort.signal);
      abort.abort();
      expect(await waiting).toEqual([]);
      const [created] = await queue.enqueue([{ task: 't', payload: null }]);
      expect(await queue.claim(request)).toMatchObject([{ jobId: created?.job.id }]);
    });
  });
}
