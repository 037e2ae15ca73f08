import { describe, expect, it } from 'vitest';
import type { ClaimRequest, Completion, LeaseRef } from '../../src/store/queue.js';
import type { StoresFactory } from './fixture.js';
import { queueOnManualClock } from './queue-clock.js';

const largestLimit = 2 ** 31 - 1;

/** Limits no claim may take: each failed as VK_STORE in the database's words, or was bent silently. */
const badLimits: ReadonlyArray<readonly [string, number]> = [
  ['NaN', Number.NaN],
  ['a negative limit', -1],
  ['a fraction', 1.5],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['2^31', 2 ** 31],
];

const limitMessage = (call: string, received: number) =>
  new RegExp(
    `^${call}: request\\.limit: expected a whole number from 0 to ${largestLimit}, received ${received}$`,
  );

function circular(): unknown {
  const value: { self?: unknown } = {};
  value.self = value;
  return value;
}

/** Outcomes with no JSON, each refused in completions[1] of a batch. */
const badOutcomes: ReadonlyArray<readonly [string, Completion['outcome'], RegExp]> = [
  ['a BigInt result', { kind: 'succeeded', result: 1n }, /Do not know how to serialize a BigInt$/],
  ['a circular result', { kind: 'succeeded', result: circular() }, /Converting circular structure to JSON$/],
  ['a function as result', { kind: 'succeeded', result: () => 1 }, /its result is a function$/],
  [
    'a BigInt in a failure detail',
    { kind: 'failed', error: 'boom', detail: { code: 1n } },
    /Do not know how to serialize a BigInt$/,
  ],
];

/**
 * What claim and complete refuse, the same on every store: a claim's limit must be a whole number
 * from 0 to 2^31 - 1, and a completion's outcome must have JSON; else VK_USAGE naming the argument,
 * nothing leased or written. (Both stores failed such calls as VK_STORE with the database's or
 * JSON.stringify's words, leased nothing for a negative limit, and rounded a fraction down.)
 */
export function queueClaimCompleteInputContract(make: StoresFactory): void {
  const open = queueOnManualClock(make);

  describe('claim limit', () => {
    for (const [what, limit] of badLimits) {
      const request: ClaimRequest = { worker: 'w', limit, ttlMs: 1000 };

      it(`claim refuses ${what}, leasing nothing`, async () => {
        const { queue } = await open();
        await queue.enqueue([{ task: 't', payload: 1 }]);
        const claim = queue.claim(request);
        await expect(claim).rejects.toMatchObject({ code: 'VK_USAGE' });
        await expect(claim).rejects.toThrow(limitMessage('claim', limit));
        expect(await queue.claim({ ...request, limit: 1 })).toMatchObject([{ attempt: 1 }]);
      });

      it(`claimOrWait refuses ${what}, leasing nothing`, async () => {
        const { queue } = await open();
        await queue.enqueue([{ task: 't', payload: 1 }]);
        const claim = queue.claimOrWait(request, AbortSignal.timeout(5_000));
        await expect(claim).rejects.toMatchObject({ code: 'VK_USAGE' });
        await expect(claim).rejects.toThrow(limitMessage('claim', limit));
        expect(await queue.claim({ ...request, limit: 1 })).toMatchObject([{ attempt: 1 }]);
      });

      it(`enqueueAndClaim refuses ${what}, writing nothing`, async () => {
        const { queue } = await open();
        const both = queue.enqueueAndClaim([{ task: 't', payload: 1 }], request);
        await expect(both).rejects.toMatchObject({ code: 'VK_USAGE' });
        await expect(both).rejects.toThrow(limitMessage('enqueueAndClaim', limit));
        expect(await queue.claim({ ...request, limit: 1 })).toEqual([]);
      });
    }

    it('leases none for 0 and every ready job for 2^31 - 1', async () => {
      const { queue } = await open();
      await queue.enqueue([
        { task: 't', payload: 1 },
        { task: 't', payload: 2 },
      ]);
      expect(await queue.claim({ worker: 'w', limit: 0, ttlMs: 1000 })).toEqual([]);
      expect(await queue.claim({ worker: 'w', limit: largestLimit, ttlMs: 1000 })).toHaveLength(2);
    });
  });

  describe('complete input', () => {
    for (const [what, outcome, reason] of badOutcomes) {
      it(`refuses a batch with ${what} whole, writing nothing`, async () => {
        const { queue } = await open();
        await queue.enqueue([
          { task: 't', payload: 1 },
          { task: 't', payload: 2 },
        ]);
        const leases: LeaseRef[] = await queue.claim({ worker: 'w', limit: 2, ttlMs: 1000 });
        const [first, second] = leases;
        if (first === undefined || second === undefined) throw new Error('two leases expected');
        const completion = queue.complete([
          { lease: first, outcome: { kind: 'succeeded', result: 1 } },
          { lease: second, outcome },
        ]);
        await expect(completion).rejects.toMatchObject({ code: 'VK_USAGE' });
        await expect(completion).rejects.toThrow(
          new RegExp(`^complete: completions\\[1\\]\\.outcome: cannot be written as JSON: ${reason.source}`),
        );
        // Neither was settled: both leases are still current.
        expect(
          await queue.complete([
            { lease: first, outcome: { kind: 'succeeded' } },
            { lease: second, outcome: { kind: 'succeeded' } },
          ]),
        ).toEqual([
          { kind: 'completed', jobId: first.jobId },
          { kind: 'completed', jobId: second.jobId },
        ]);
      });
    }
  });
}
