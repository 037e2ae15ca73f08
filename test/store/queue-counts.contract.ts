import { describe, expect, it } from 'vitest';
import { asQueueJobId, type Lease, type NewQueueJob, type QueueStore } from '../../src/store/queue.js';
import type { StoresFactory } from './fixture.js';
import { queueOnManualClock } from './queue-clock.js';

const job = (task: string): NewQueueJob => ({ task, payload: { task } });
const jobs = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => job(`${prefix}${i}`));
const claim = (queue: QueueStore, limit = 1000) => queue.claim({ worker: 'w', limit, ttlMs: 1000 });
const succeeded = (leases: readonly Lease[]) =>
  leases.map((lease) => ({ lease, outcome: { kind: 'succeeded' } as const }));

/**
 * What stores keep as running totals or write in bulk must read back exactly as the one-row-at-a-time
 * writes would: the queued count behind VK_QUEUE_FULL through every move into and out of `queued`,
 * ids, payloads and outcomes of batches larger than any one statement takes, and an outcome's JSON
 * that the caller made (Completion.outcomeJson), written as given.
 */
export function queueCountsContract(make: StoresFactory): void {
  const open = queueOnManualClock(make);
  const refusedWith = (queued: number) =>
    expect.objectContaining({
      code: 'VK_QUEUE_FULL',
      message: expect.stringContaining(`holds ${queued} queued`),
    });

  describe('queued count', () => {
    it('follows claims, completions, releases and lease expiry exactly', async () => {
      const { queue, clock } = await open({ capacity: 3 });
      await queue.enqueue(jobs('a', 3));
      await expect(queue.enqueue([job('x')])).rejects.toEqual(refusedWith(3));

      const [first, second] = await claim(queue, 2);
      if (first === undefined || second === undefined) throw new Error('no leases');
      await queue.enqueue(jobs('b', 2));
      await expect(queue.enqueue([job('x')])).rejects.toEqual(refusedWith(3));

      await queue.complete(succeeded([first]));
      await expect(queue.enqueue([job('x')])).rejects.toEqual(refusedWith(3));
      // A released job counts again, even past capacity: it was admitted once.
      await queue.release([{ lease: second }]);
      await expect(queue.enqueue([job('x')])).rejects.toEqual(refusedWith(4));

      expect(await claim(queue)).toHaveLength(4);
      await queue.enqueue(jobs('c', 3));
      clock.advance(1000);
      expect(await queue.expireLeases()).toHaveLength(4);
      await expect(queue.enqueue([job('x')])).rejects.toEqual(refusedWith(7));

      expect(await claim(queue)).toHaveLength(7);
      await expect(queue.enqueue(jobs('d', 3))).resolves.toHaveLength(3);
    });

    it('leaves the count alone for jobs leased as they are written', async () => {
      const { queue } = await open({ capacity: 2 });
      const request = { worker: 'w', limit: 10, ttlMs: 1000 };
      expect((await queue.enqueueAndClaim(jobs('a', 2), request)).leases).toHaveLength(2);
      await expect(queue.enqueue(jobs('b', 2))).resolves.toHaveLength(2);
      await expect(queue.enqueue([job('x')])).rejects.toEqual(refusedWith(2));
    });
  });

  describe('large batches', () => {
    const size = 150;

    it('gives every job of a large batch its own id, in order, with its own payload', async () => {
      const { queue } = await open();
      const ascending = (ids: readonly number[]) => {
        expect(ids).toEqual([...ids].sort((x, y) => x - y));
        expect(new Set(ids).size).toBe(ids.length);
      };
      // Nothing else ready: written leased at once.
      const { leases } = await queue.enqueueAndClaim(jobs('b', size), {
        worker: 'w',
        limit: 1000,
        ttlMs: 1000,
      });
      expect(leases.map((lease) => lease.task)).toEqual(jobs('b', size).map((j) => j.task));
      ascending(leases.map((lease) => Number(lease.jobId)));
      const created = await queue.enqueue(jobs('a', size));
      const ids = created.map((result) => Number(result.job.id));
      ascending([...leases.map((lease) => Number(lease.jobId)), ...ids]);
      for (const at of [0, 63, 64, 127, 128, 143, 144, 147, 148, 149]) {
        const lease = leases[at];
        const id = created[at]?.job.id;
        if (id === undefined || lease === undefined) throw new Error('no job');
        expect(await queue.getJob(id)).toMatchObject({
          task: `a${at}`,
          payload: { task: `a${at}` },
          state: 'queued',
        });
        expect(await queue.getJob(lease.jobId)).toMatchObject({
          task: `b${at}`,
          state: 'leased',
          attempts: 1,
        });
      }
      expect((await claim(queue)).map((lease) => lease.task)).toEqual(jobs('a', size).map((j) => j.task));
    });

    it('settles a large batch of mixed outcomes, each read back as written', async () => {
      const { queue } = await open();
      await queue.enqueue(jobs('a', size));
      const leases = await claim(queue);
      const outcomeOf = (i: number) =>
        i % 3 === 0
          ? ({ kind: 'failed', error: `e${i}`, detail: { i } } as const)
          : i % 3 === 1
            ? ({ kind: 'succeeded', result: { i } } as const)
            : ({ kind: 'succeeded' } as const);
      const results = await queue.complete(leases.map((lease, i) => ({ lease, outcome: outcomeOf(i) })));
      expect(results).toEqual(leases.map((lease) => ({ kind: 'completed', jobId: lease.jobId })));
      for (const i of [0, 1, 2, 100, 101, size - 1]) {
        const lease = leases[i];
        if (lease === undefined) throw new Error('no lease');
        const outcome = outcomeOf(i);
        expect(await queue.getJob(lease.jobId)).toMatchObject({
          state: outcome.kind,
          outcome,
        });
      }
      expect(await claim(queue)).toEqual([]);
    });

    it('keeps what sets one job of a large batch apart from the rest', async () => {
      const { queue, clock } = await open();
      // One in each chunk of 64 rows a store might write by one statement.
      const odd = new Map<number, Partial<NewQueueJob>>([
        [10, { priority: 'high' }],
        [70, { notBefore: clock.now() - 1000 }],
        [140, { idempotencyKey: 'k140' }],
        [200, { maxAttempts: 1 }],
        [260, { onLeaseExpiry: 'fail' }],
      ]);
      const created = await queue.enqueue(jobs('a', 320).map((j, i) => ({ ...j, ...odd.get(i) })));
      for (const [i, extra] of odd) {
        const id = created[i]?.job.id ?? asQueueJobId('0');
        const { maxAttempts, onLeaseExpiry, ...readable } = extra;
        expect(await queue.getJob(id)).toMatchObject({ priority: 'normal', ...readable });
      }
      const leases = await claim(queue);
      expect(leases.map((lease) => lease.task).slice(0, 2)).toEqual(['a10', 'a0']);
      expect(leases).toHaveLength(320);
      clock.advance(1000);
      const expired = await queue.expireLeases();
      expect(expired.filter((lease) => lease.kind === 'failed').map((lease) => lease.jobId)).toEqual([
        created[200]?.job.id,
        created[260]?.job.id,
      ]);
    });

    it('leases exactly the jobs a large claim reads, around a delayed one and up to the limit', async () => {
      const { queue, clock } = await open();
      const submitted = jobs('a', size).map((j, i) =>
        i === 60 ? { ...j, notBefore: clock.now() + 5000 } : j,
      );
      const created = await queue.enqueue(submitted);
      const idOf = (i: number) => created[i]?.job.id ?? asQueueJobId('0');
      const first = await claim(queue, 50);
      expect(first.map((lease) => lease.task)).toEqual(jobs('a', 50).map((j) => j.task));
      expect(await queue.getJob(idOf(50))).toMatchObject({ state: 'queued', attempts: 0 });
      const rest = await claim(queue);
      const expected = jobs('a', size)
        .slice(50)
        .map((j) => j.task)
        .filter((task) => task !== 'a60');
      expect(rest.map((lease) => lease.task)).toEqual(expected);
      expect(await queue.getJob(idOf(60))).toMatchObject({ state: 'queued', attempts: 0 });
      expect(await queue.getJob(idOf(61))).toMatchObject({ state: 'leased', attempts: 1 });
    });

    it('reports a job taken over in the middle of a batch of consecutive jobs as stale', async () => {
      const { queue } = await open();
      await queue.enqueue(jobs('a', size));
      const leases = await claim(queue);
      const taken = leases[40];
      if (taken === undefined) throw new Error('no lease');
      // Given back and leased again: the batch below carries its first token, every other one current.
      await queue.release([{ lease: taken }]);
      const [again] = await claim(queue);
      expect(again).toMatchObject({ jobId: taken.jobId, attempt: 2 });
      const results = await queue.complete(succeeded(leases));
      expect(results.filter((result) => result.kind === 'stale')).toEqual([
        { kind: 'stale', jobId: taken.jobId, token: taken.token },
      ]);
      expect(await queue.getJob(taken.jobId)).toMatchObject({ state: 'leased', attempts: 2 });
      expect(await queue.getJob(leases[41]?.jobId ?? asQueueJobId('0'))).toMatchObject({
        state: 'succeeded',
      });
      expect((await queue.staleWrites()).map((write) => [write.jobId, write.action])).toEqual([
        [taken.jobId, 'complete'],
      ]);
    });

    it('settles a large batch out of id order, alike and mixed outcomes, reporting a job taken over', async () => {
      const { queue } = await open();
      await queue.enqueue(jobs('a', size));
      const leases = await claim(queue);
      // Given back and leased again: the batch carries its first token, like every other job's.
      const takenAt = 42;
      const taken = leases[takenAt];
      if (taken === undefined) throw new Error('no lease');
      await queue.release([{ lease: taken }]);
      expect(await claim(queue)).toMatchObject([{ jobId: taken.jobId, attempt: 2 }]);
      const outcomeOf = (i: number) =>
        i % 10 === 3
          ? ({ kind: 'succeeded', result: { i } } as const)
          : i % 10 === 7
            ? ({ kind: 'failed', error: `boom ${i}` } as const)
            : ({ kind: 'succeeded' } as const);
      // Two workers' results interleaved: evens, then odds, so no run of consecutive ids.
      const order = [...leases.keys()].sort((x, y) => (x % 2) - (y % 2) || x - y);
      const results = await queue.complete(
        order.map((i) => ({ lease: leases[i] ?? taken, outcome: outcomeOf(i) })),
      );
      expect(results.filter((result) => result.kind === 'stale')).toEqual([
        { kind: 'stale', jobId: taken.jobId, token: taken.token },
      ]);
      for (const [i, lease] of leases.entries()) {
        const stored = await queue.getJob(lease.jobId);
        if (i === takenAt) expect(stored).toMatchObject({ state: 'leased', attempts: 2 });
        else expect(stored).toMatchObject({ state: outcomeOf(i).kind, outcome: outcomeOf(i) });
      }
    });

    it('reports exactly the stale leases of a large batch and settles the rest', async () => {
      const { queue } = await open();
      await queue.enqueue(jobs('a', size));
      const leases = await claim(queue);
      const staleAt = new Set([5, 70, 149]);
      const results = await queue.complete(
        succeeded(leases).map((completion, i) =>
          staleAt.has(i)
            ? { ...completion, lease: { jobId: completion.lease.jobId, token: completion.lease.token + 1 } }
            : completion,
        ),
      );
      expect(results.map((result, i) => [i, result.kind]).filter(([, kind]) => kind === 'stale')).toEqual(
        [...staleAt].map((i) => [i, 'stale']),
      );
      expect((await queue.staleWrites()).map((write) => write.action)).toEqual([
        'complete',
        'complete',
        'complete',
      ]);
      const stillLeased = leases[70];
      if (stillLeased === undefined) throw new Error('no lease');
      expect(await queue.getJob(stillLeased.jobId)).toMatchObject({ state: 'leased' });
      expect(await queue.complete(succeeded([stillLeased]))).toEqual([
        { kind: 'completed', jobId: stillLeased.jobId },
      ]);
    });
  });

  describe('a job named twice in one batch', () => {
    it('settles it once, by its first completion, and reports the second as stale, as two calls would', async () => {
      const { queue } = await open();
      await queue.enqueue(jobs('a', 2));
      const [first, other] = await claim(queue);
      if (first === undefined || other === undefined) throw new Error('no leases');
      const results = await queue.complete([
        { lease: first, outcome: { kind: 'succeeded', result: 1 } },
        { lease: other, outcome: { kind: 'succeeded', result: 2 } },
        { lease: first, outcome: { kind: 'failed', error: 'again' } },
      ]);
      expect(results).toEqual([
        { kind: 'completed', jobId: first.jobId },
        { kind: 'completed', jobId: other.jobId },
        { kind: 'stale', jobId: first.jobId, token: first.token },
      ]);
      expect(await queue.getJob(first.jobId)).toMatchObject({
        state: 'succeeded',
        outcome: { kind: 'succeeded', result: 1 },
      });
      expect((await queue.staleWrites()).map((write) => [write.jobId, write.action])).toEqual([
        [first.jobId, 'complete'],
      ]);
    });

    it('lets a later completion of a job settle it when an earlier one in the batch was stale', async () => {
      const { queue } = await open();
      await queue.enqueue(jobs('a', 1));
      const [lease] = await claim(queue);
      if (lease === undefined) throw new Error('no lease');
      const old = { jobId: lease.jobId, token: lease.token - 1 };
      const results = await queue.complete([
        { lease: old, outcome: { kind: 'failed', error: 'late' } },
        { lease, outcome: { kind: 'succeeded', result: 'current' } },
      ]);
      expect(results).toEqual([
        { kind: 'stale', jobId: lease.jobId, token: old.token },
        { kind: 'completed', jobId: lease.jobId },
      ]);
      expect(await queue.getJob(lease.jobId)).toMatchObject({
        outcome: { kind: 'succeeded', result: 'current' },
      });
    });

    it('releases it once, by its first release, and reports the second as stale, as two calls would', async () => {
      const { queue, clock } = await open();
      await queue.enqueue(jobs('a', 1));
      const [lease] = await claim(queue);
      if (lease === undefined) throw new Error('no lease');
      const results = await queue.release([{ lease, notBefore: clock.now() + 500 }, { lease }]);
      expect(results).toEqual([
        { kind: 'released', jobId: lease.jobId },
        { kind: 'stale', jobId: lease.jobId, token: lease.token },
      ]);
      expect(await claim(queue)).toEqual([]);
      clock.advance(500);
      expect((await claim(queue)).map((again) => again.jobId)).toEqual([lease.jobId]);
    });
  });

  describe('outcome JSON', () => {
    it("writes a completion's outcome JSON when given, without encoding the outcome again", async () => {
      const { queue } = await open();
      await queue.enqueue(jobs('a', 3));
      const leases = await claim(queue);
      let encoded = 0;
      const result = {
        toJSON: () => {
          encoded++;
          return 'once';
        },
      };
      const outcome = { kind: 'succeeded', result } as const;
      const outcomeJson = JSON.stringify(outcome);
      // One alone and two in a batch: the stores write either way.
      const [first, ...rest] = leases.map((lease) => ({ lease, outcome, outcomeJson }));
      if (first === undefined) throw new Error('no leases');
      await queue.complete([first]);
      await queue.complete(rest);
      expect(encoded).toBe(1);
      for (const lease of leases) {
        expect(await queue.getJob(lease.jobId)).toMatchObject({
          outcome: { kind: 'succeeded', result: 'once' },
        });
      }
    });
  });
}
