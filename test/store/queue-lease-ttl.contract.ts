import { describe, expect, it } from 'vitest';
import type { ClaimRequest } from '../../src/store/queue.js';
import type { StoresFactory } from './fixture.js';
import { queueOnManualClock } from './queue-clock.js';

const largestTtlMs = 2 ** 31 - 1;

/** TTLs no store may lease for: each would give a lease that never expires, has expired, or fails. */
const badTtls: ReadonlyArray<readonly [string, number]> = [
  ['NaN', Number.NaN],
  ['a negative TTL', -1000],
  ['zero', 0],
  ['a fraction', 1.5],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['2^31', 2 ** 31],
];

const expected = (what: string, received: number) =>
  new RegExp(
    `^${what}: expected a whole number of milliseconds from 1 to ${largestTtlMs}, received ${received}$`,
  );

/**
 * A lease's TTL, the same on every store: claim, enqueueAndClaim, claimOrWait and renew refuse one
 * that is not a whole number of milliseconds from 1 to 2^31 - 1 with VK_USAGE naming it, before
 * anything is written. (SQLite leased a job for ever on a NaN TTL, its expiry stored as null;
 * Postgres failed with 'invalid input syntax for type bigint'; both took a negative TTL.)
 */
export function queueLeaseTtlContract(make: StoresFactory): void {
  const open = queueOnManualClock(make);

  describe('lease TTL', () => {
    for (const [what, ttlMs] of badTtls) {
      const request: ClaimRequest = { worker: 'w', limit: 10, ttlMs };

      it(`claim refuses ${what}, leasing nothing`, async () => {
        const { queue } = await open();
        await queue.enqueue([{ task: 't', payload: 1 }]);
        const claim = queue.claim(request);
        await expect(claim).rejects.toMatchObject({ code: 'VK_USAGE' });
        await expect(claim).rejects.toThrow(expected('claim: request.ttlMs', ttlMs));
        // Still queued, and its first attempt is the next claim's.
        expect(await queue.claim({ ...request, ttlMs: 1000 })).toMatchObject([{ attempt: 1 }]);
      });

      it(`claimOrWait refuses ${what}, leasing nothing`, async () => {
        const { queue } = await open();
        await queue.enqueue([{ task: 't', payload: 1 }]);
        const claim = queue.claimOrWait(request, AbortSignal.timeout(5_000));
        await expect(claim).rejects.toMatchObject({ code: 'VK_USAGE' });
        await expect(claim).rejects.toThrow(expected('claim: request.ttlMs', ttlMs));
        expect(await queue.claim({ ...request, ttlMs: 1000 })).toMatchObject([{ attempt: 1 }]);
      });

      it(`enqueueAndClaim refuses ${what}, writing nothing`, async () => {
        const { queue } = await open();
        const both = queue.enqueueAndClaim([{ task: 't', payload: 1 }], request);
        await expect(both).rejects.toMatchObject({ code: 'VK_USAGE' });
        await expect(both).rejects.toThrow(expected('enqueueAndClaim: request.ttlMs', ttlMs));
        expect(await queue.claim({ ...request, ttlMs: 1000 })).toEqual([]);
      });

      it(`renew refuses ${what}, leaving the lease as it was`, async () => {
        const { queue, clock } = await open();
        await queue.enqueue([{ task: 't', payload: 1 }]);
        const [lease] = await queue.claim({ ...request, ttlMs: 1000 });
        if (lease === undefined) throw new Error('no lease');
        const renewal = queue.renew(lease, ttlMs);
        await expect(renewal).rejects.toMatchObject({ code: 'VK_USAGE' });
        await expect(renewal).rejects.toThrow(expected('renew: ttlMs', ttlMs));
        expect(await queue.staleWrites(lease.jobId)).toEqual([]);
        clock.advance(1001);
        expect(await queue.expireLeases()).toEqual([
          { kind: 'requeued', jobId: lease.jobId, token: lease.token },
        ]);
      });
    }

    it('leases for 1 ms and for 2^31 - 1 ms, and renews for either', async () => {
      const { queue, clock } = await open();
      await queue.enqueue([
        { task: 't', payload: 1 },
        { task: 't', payload: 2 },
      ]);
      const now = clock.now();
      const [short] = await queue.claim({ worker: 'w', limit: 1, ttlMs: 1 });
      const [long] = await queue.claim({ worker: 'w', limit: 1, ttlMs: largestTtlMs });
      expect([short?.expiresAt, long?.expiresAt]).toEqual([now + 1, now + largestTtlMs]);
      if (short === undefined || long === undefined) throw new Error('no lease');
      expect((await queue.renew(short, largestTtlMs)).expiresAt).toBe(now + largestTtlMs);
      expect((await queue.renew(long, 1)).expiresAt).toBe(now + 1);
    });
  });
}
