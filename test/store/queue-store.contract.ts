import { afterEach, describe, expect, it } from 'vitest';
import { priorities } from '../../src/core/priority.js';
import {
  asQueueJobId,
  type Lease,
  type NewQueueJob,
  type QueueOptions,
  type QueueStore,
} from '../../src/store/queue.js';
import type { OpenedStores, StoresFactory } from './fixture.js';
import { ManualClock } from './queue-clock.js';

const aging = 1000;
const job = (task: string, extra: Partial<NewQueueJob> = {}): NewQueueJob => ({
  task,
  payload: { task },
  ...extra,
});
const tasks = (leases: readonly Lease[]) => leases.map((lease) => lease.task);
const claimAll = (queue: QueueStore, ttlMs = 10_000) => queue.claim({ worker: 'w1', limit: 1000, ttlMs });

/** The QueueStore lifecycle every implementation must honour; time is a ManualClock throughout. */
export function queueStoreContract(make: StoresFactory): void {
  let opened: OpenedStores | undefined;
  afterEach(async () => {
    await opened?.cleanup();
    opened = undefined;
  });
  const open = async (options: QueueOptions = {}) => {
    const clock = new ManualClock();
    const queueOptions = { clock, agingIntervalMs: aging, ...options };
    opened = await make({ queue: queueOptions });
    const { openAnother } = opened;
    return {
      queue: opened.stores.queue,
      clock,
      another: async () => (await openAnother({ queue: queueOptions })).queue,
    };
  };

  describe('queue order', () => {
    it('claims by priority, first in first out within one', async () => {
      const { queue } = await open();
      await queue.enqueue([job('n1'), job('l1', { priority: 'low' }), job('h1', { priority: 'high' })]);
      await queue.enqueue([
        job('n2'),
        job('c1', { priority: 'critical' }),
        job('b1', { priority: 'background' }),
      ]);
      expect(tasks(await claimAll(queue))).toEqual(['c1', 'h1', 'n1', 'n2', 'l1', 'b1']);
    });

    it('keeps queue order in large claims too', async () => {
      const { queue, clock } = await open();
      const levels = ['low', 'normal', 'high', 'background', 'critical'] as const;
      const jobs = Array.from({ length: 40 }, (_, i) =>
        job(`${levels[i % 5]}-${i}`, { priority: levels[i % 5] }),
      );
      await queue.enqueue(jobs.slice(0, 20));
      clock.advance(1);
      await queue.enqueue(jobs.slice(20));
      // More than a handful, so that stores which claim a few jobs differently take their batch path.
      const expected = jobs
        .map((j, i) => ({ task: j.task, rank: priorities.indexOf(levels[i % 5] ?? 'normal'), i }))
        .sort((a, b) => a.rank - b.rank || a.i - b.i)
        .map((entry) => entry.task);
      expect(tasks(await claimAll(queue))).toEqual(expected);
    });

    it('ages a waiting job one level per interval, so it overtakes newer jobs of the next level up', async () => {
      const { queue, clock } = await open();
      await queue.enqueue([job('old-low', { priority: 'low' })]);
      await queue.enqueue([job('normal-now')]);
      clock.advance(aging + 1);
      await queue.enqueue([job('normal-later')]);
      expect(tasks(await claimAll(queue))).toEqual(['normal-now', 'old-low', 'normal-later']);
    });

    it('hands out at most `limit` jobs per claim, continuing where the last one stopped', async () => {
      const { queue } = await open();
      await queue.enqueue(['a', 'b', 'c'].map((task) => job(task)));
      expect(tasks(await queue.claim({ worker: 'w', limit: 2, ttlMs: 1000 }))).toEqual(['a', 'b']);
      expect(tasks(await queue.claim({ worker: 'w', limit: 2, ttlMs: 1000 }))).toEqual(['c']);
      expect(await queue.claim({ worker: 'w', limit: 2, ttlMs: 1000 })).toEqual([]);
    });

    it('holds a delayed job until its not-before time, then ages it from there', async () => {
      const { queue, clock } = await open();
      const start = clock.now();
      await queue.enqueue([job('delayed', { notBefore: start + 5000, priority: 'high' }), job('now')]);
      expect(tasks(await claimAll(queue))).toEqual(['now']);
      clock.advance(4999);
      expect(await claimAll(queue)).toEqual([]);
      clock.advance(1);
      const [lease] = await claimAll(queue);
      expect(lease).toMatchObject({ task: 'delayed', payload: { task: 'delayed' }, attempt: 1 });
    });
  });

  describe('submission', () => {
    it('refuses a batch past capacity whole, with VK_QUEUE_FULL, writing nothing', async () => {
      const { queue } = await open({ capacity: 3 });
      await queue.enqueue([job('a'), job('b')]);
      await expect(queue.enqueue([job('c'), job('d')])).rejects.toMatchObject({ code: 'VK_QUEUE_FULL' });
      expect(tasks(await claimAll(queue))).toEqual(['a', 'b']);
      // Leased jobs no longer count as queued.
      await expect(queue.enqueue([job('c'), job('d'), job('e')])).resolves.toHaveLength(3);
    });

    it('holds capacity and idempotency across handles submitting at the same time', async () => {
      const { queue, another } = await open({ capacity: 10 });
      const second = await another();
      const six = (prefix: string) => Array.from({ length: 6 }, (_, i) => job(`${prefix}${i}`));
      const submissions = await Promise.allSettled([queue.enqueue(six('a')), second.enqueue(six('b'))]);
      expect(submissions.map((s) => s.status).sort()).toEqual(['fulfilled', 'rejected']);
      expect(await claimAll(queue)).toHaveLength(6);
      const keyed = await Promise.all(
        [queue, second, queue, second].map((store) =>
          store.enqueue([job('once', { idempotencyKey: 'same' })]),
        ),
      );
      expect(new Set(keyed.map(([result]) => result?.job.id)).size).toBe(1);
      expect(keyed.filter(([result]) => result?.kind === 'created')).toHaveLength(1);
    });

    it('returns the existing job for a repeated idempotency key within the window, a new one after', async () => {
      const { queue, clock } = await open({ idempotencyWindowMs: 60_000 });
      const [first] = await queue.enqueue([job('a', { idempotencyKey: 'k' })]);
      expect(first?.kind).toBe('created');
      clock.advance(59_999);
      const again = await queue.enqueue([
        job('a', { idempotencyKey: 'k' }),
        job('b', { idempotencyKey: 'k2' }),
      ]);
      expect(again.map((result) => result.kind)).toEqual(['existing', 'created']);
      expect(again[0]?.job.id).toBe(first?.job.id);
      clock.advance(2);
      const [later] = await queue.enqueue([job('a', { idempotencyKey: 'k' })]);
      expect(later?.kind).toBe('created');
      expect(later?.job.id).not.toBe(first?.job.id);
    });

    it('creates one job for a key repeated within one batch, and does not count the repeat', async () => {
      const { queue } = await open({ capacity: 1 });
      const results = await queue.enqueue([
        job('a', { idempotencyKey: 'k' }),
        job('a', { idempotencyKey: 'k' }),
      ]);
      expect(results.map((result) => result.kind)).toEqual(['created', 'existing']);
      expect(results[1]?.job.id).toBe(results[0]?.job.id);
      expect(await claimAll(queue)).toHaveLength(1);
    });

    it('reads a job back with its state and payload', async () => {
      const { queue } = await open();
      const [created] = await queue.enqueue([job('a', { payload: { n: [1, 'two'] }, priority: 'low' })]);
      const id = created?.job.id;
      if (id === undefined) throw new Error('no job');
      expect(await queue.getJob(id)).toMatchObject({
        task: 'a',
        payload: { n: [1, 'two'] },
        state: 'queued',
      });
    });
  });

  describe('leases', () => {
    it('never gives one job to two claimers, also across handles', async () => {
      const { queue, another } = await open();
      const second = await another();
      await queue.enqueue(Array.from({ length: 200 }, (_, i) => job(`t${i}`)));
      const claimers = [queue, second, queue, second].map(async (store, i) => {
        const mine: string[] = [];
        for (;;) {
          const leases = await store.claim({ worker: `w${i}`, limit: 7, ttlMs: 10_000 });
          if (leases.length === 0) return mine;
          mine.push(...leases.map((lease) => lease.jobId));
        }
      });
      const all = (await Promise.all(claimers)).flat();
      expect(all).toHaveLength(200);
      expect(new Set(all).size).toBe(200);
    });

    it('renews a lease from now, so it outlives its first expiry', async () => {
      const { queue, clock } = await open();
      await queue.enqueue([job('a')]);
      const [lease] = await queue.claim({ worker: 'w', limit: 1, ttlMs: 1000 });
      if (lease === undefined) throw new Error('no lease');
      clock.advance(900);
      const renewed = await queue.renew(lease, 1000);
      expect(renewed).toMatchObject({
        jobId: lease.jobId,
        token: lease.token,
        expiresAt: clock.now() + 1000,
      });
      clock.advance(900);
      expect(await queue.expireLeases()).toEqual([]);
      clock.advance(100);
      expect(await queue.expireLeases()).toEqual([
        { kind: 'requeued', jobId: lease.jobId, token: lease.token },
      ]);
    });

    it('refuses and records writes under a stale fencing token; the current holder settles the job', async () => {
      const { queue, clock } = await open();
      await queue.enqueue([job('a')]);
      const [old] = await queue.claim({ worker: 'w1', limit: 1, ttlMs: 1000 });
      if (old === undefined) throw new Error('no lease');
      clock.advance(1000);
      await queue.expireLeases();
      const [current] = await queue.claim({ worker: 'w2', limit: 1, ttlMs: 1000 });
      if (current === undefined) throw new Error('no second lease');
      expect(current.jobId).toBe(old.jobId);
      expect(current.token).toBeGreaterThan(old.token);
      expect(current.attempt).toBe(2);

      await expect(queue.renew(old, 1000)).rejects.toMatchObject({ code: 'VK_STALE_LEASE' });
      const stale = await queue.complete([{ lease: old, outcome: { kind: 'failed', error: 'late' } }]);
      expect(stale).toEqual([{ kind: 'stale', jobId: old.jobId, token: old.token }]);
      const done = await queue.complete([{ lease: current, outcome: { kind: 'succeeded', result: 42 } }]);
      expect(done).toEqual([{ kind: 'completed', jobId: current.jobId }]);
      // Settled: the current token is now stale too.
      const again = await queue.complete([{ lease: current, outcome: { kind: 'succeeded' } }]);
      expect(again[0]?.kind).toBe('stale');

      expect(await queue.getJob(old.jobId)).toMatchObject({
        state: 'succeeded',
        attempts: 2,
        outcome: { kind: 'succeeded', result: 42 },
      });
      const recorded = await queue.staleWrites(old.jobId);
      expect(recorded.map((write) => [write.action, write.token])).toEqual([
        ['renew', old.token],
        ['complete', old.token],
        ['complete', current.token],
      ]);
    });

    it('completes a batch, settling the current leases and reporting the stale one', async () => {
      const { queue } = await open();
      await queue.enqueue([job('a'), job('b')]);
      const [a, b] = await claimAll(queue);
      if (a === undefined || b === undefined) throw new Error('no leases');
      const results = await queue.complete([
        { lease: a, outcome: { kind: 'succeeded' } },
        { lease: { jobId: b.jobId, token: b.token + 1 }, outcome: { kind: 'succeeded' } },
        { lease: b, outcome: { kind: 'failed', error: 'boom' } },
      ]);
      expect(results.map((result) => result.kind)).toEqual(['completed', 'stale', 'completed']);
      expect(await queue.getJob(b.jobId)).toMatchObject({
        state: 'failed',
        outcome: { kind: 'failed', error: 'boom' },
      });
    });

    it('requeues an expired job by default, keeping its place, and fails it under policy `fail`', async () => {
      const { queue, clock } = await open();
      await queue.enqueue([job('keep'), job('lose', { onLeaseExpiry: 'fail' })]);
      await queue.enqueue([job('newer')]);
      const [keep, lose] = await queue.claim({ worker: 'w', limit: 2, ttlMs: 1000 });
      if (keep === undefined || lose === undefined) throw new Error('no leases');
      clock.advance(1000);
      const expired = await queue.expireLeases();
      expect(expired.map((lease) => [lease.kind, lease.jobId]).sort()).toEqual(
        [
          ['failed', lose.jobId],
          ['requeued', keep.jobId],
        ].sort(),
      );
      expect(await queue.expireLeases()).toEqual([]);
      expect(await queue.getJob(lose.jobId)).toMatchObject({
        state: 'failed',
        outcome: { kind: 'runner_lost', attempts: 1 },
      });
      expect(tasks(await claimAll(queue))).toEqual(['keep', 'newer']);
    });

    it('fails a job whose lease expires on its last attempt', async () => {
      const { queue, clock } = await open();
      await queue.enqueue([job('once', { maxAttempts: 1 })]);
      const [lease] = await claimAll(queue, 1000);
      clock.advance(1000);
      expect(await queue.expireLeases()).toMatchObject([{ kind: 'failed', jobId: lease?.jobId }]);
    });
  });

  describe('release', () => {
    it('gives a leased job back, not claimable before its not-before time, keeping its attempts', async () => {
      const { queue, clock } = await open();
      await queue.enqueue([job('retry', { priority: 'high' })]);
      const [lease] = await claimAll(queue);
      if (lease === undefined) throw new Error('no lease');
      const at = clock.now() + 5000;
      expect(await queue.release([{ lease, notBefore: at }])).toEqual([
        { kind: 'released', jobId: lease.jobId },
      ]);
      expect(await queue.getJob(lease.jobId)).toMatchObject({ state: 'queued', attempts: 1, notBefore: at });
      clock.advance(4999);
      expect(await claimAll(queue)).toEqual([]);
      clock.advance(1);
      const [again] = await claimAll(queue);
      expect(again).toMatchObject({ jobId: lease.jobId, attempt: 2, payload: { task: 'retry' } });
      expect(again?.token).toBeGreaterThan(lease.token);
    });

    it('ranks a released job as if enqueued at its not-before time, by its priority', async () => {
      const { queue, clock } = await open();
      await queue.enqueue([job('low', { priority: 'low' })]);
      const [lease] = await claimAll(queue);
      if (lease === undefined) throw new Error('no lease');
      await queue.release([{ lease }]);
      await queue.enqueue([job('normal')]);
      // Released now as `low`: behind a `normal` job enqueued at the same time…
      expect(tasks(await claimAll(queue))).toEqual(['normal', 'low']);
      await queue.enqueue([job('high', { priority: 'high' })]);
      const [high] = await claimAll(queue);
      if (high === undefined) throw new Error('no lease');
      await queue.release([{ lease: high, notBefore: clock.now() + 10 * aging }]);
      await queue.enqueue([job('background', { priority: 'background' })]);
      clock.advance(10 * aging);
      // …and aged from its not-before time: a background job that waited 10 intervals goes first.
      expect(tasks(await claimAll(queue))).toEqual(['background', 'high']);
    });

    it('refuses and records a release under a stale token; releases a batch otherwise', async () => {
      const { queue, clock } = await open();
      await queue.enqueue([job('a'), job('b')]);
      const [a, b] = await claimAll(queue, 1000);
      if (a === undefined || b === undefined) throw new Error('no leases');
      await queue.complete([{ lease: a, outcome: { kind: 'succeeded' } }]);
      const results = await queue.release([{ lease: a }, { lease: b, notBefore: clock.now() + 1 }]);
      expect(results).toEqual([
        { kind: 'stale', jobId: a.jobId, token: a.token },
        { kind: 'released', jobId: b.jobId },
      ]);
      expect((await queue.staleWrites(a.jobId)).map((write) => write.action)).toEqual(['release']);
      expect(await queue.getJob(a.jobId)).toMatchObject({ state: 'succeeded' });
      // A released job has no lease left to expire.
      clock.advance(1000);
      expect(await queue.expireLeases()).toEqual([]);
    });

    it('wakes a waiter when a released job is ready', async () => {
      const { queue } = await open();
      await queue.enqueue([job('a')]);
      const [lease] = await claimAll(queue);
      if (lease === undefined) throw new Error('no lease');
      const waiting = queue.waitForWork(new AbortController().signal);
      await queue.release([{ lease }]);
      await waiting;
      expect(tasks(await claimAll(queue))).toEqual(['a']);
    });
  });

  describe('claim by task', () => {
    it('claims only jobs of the named tasks, in queue order, and nothing for an empty list', async () => {
      const { queue } = await open();
      const levels = ['low', 'high'] as const;
      // More than a handful, so that stores which claim a few jobs differently take their batch path.
      await queue.enqueue(
        Array.from({ length: 30 }, (_, i) =>
          job(i % 3 === 0 ? 'other' : `mine-${i}`, { priority: levels[i % 2] }),
        ),
      );
      expect(await queue.claim({ worker: 'w', limit: 100, ttlMs: 1000, tasks: [] })).toEqual([]);
      const mine = Array.from({ length: 30 }, (_, i) => `mine-${i}`);
      const claimed = tasks(await queue.claim({ worker: 'w', limit: 100, ttlMs: 1000, tasks: mine }));
      expect(claimed).toHaveLength(20);
      expect(claimed.every((task) => task.startsWith('mine-'))).toBe(true);
      const rank = (task: string) => (Number(task.slice(5)) % 2 === 1 ? 0 : 1);
      expect(claimed).toEqual(
        [...claimed].sort((x, y) => rank(x) - rank(y) || Number(x.slice(5)) - Number(y.slice(5))),
      );
      const few = await queue.claim({ worker: 'w', limit: 3, ttlMs: 1000, tasks: ['other'] });
      expect(tasks(few)).toEqual(['other', 'other', 'other']);
      expect(await claimAll(queue)).toHaveLength(7);
    });
  });

  describe('enqueueAndClaim', () => {
    const request = { worker: 'w1', limit: 10, ttlMs: 1000, tasks: ['a', 'b', 'c', 'd'] };

    it('leases new jobs at once when nothing else is ready: real leases, in queue order', async () => {
      const { queue, clock } = await open();
      const enqueueAndClaim = queue.enqueueAndClaim.bind(queue);
      const { enqueued, leases } = await enqueueAndClaim([job('a'), job('b', { priority: 'high' })], request);
      expect(enqueued.map((result) => [result.kind, result.job.task])).toEqual([
        ['created', 'a'],
        ['created', 'b'],
      ]);
      expect(leases.map((lease) => [lease.task, lease.attempt, lease.worker])).toEqual([
        ['b', 1, 'w1'],
        ['a', 1, 'w1'],
      ]);
      expect(leases[1]).toMatchObject({ payload: { task: 'a' }, jobId: enqueued[0]?.job.id });
      expect(await claimAll(queue)).toEqual([]);
      expect((await queue.getJob(enqueued[0]?.job.id ?? asQueueJobId('0')))?.state).toBe('leased');
      const [first, second] = leases;
      if (first === undefined || second === undefined) throw new Error('two leases expected');
      await expect(queue.complete([{ lease: first, outcome: { kind: 'succeeded' } }])).resolves.toEqual([
        { kind: 'completed', jobId: first.jobId },
      ]);
      // The other lease expires like any claimed one, and the job is claimed again with a new token.
      clock.advance(1001);
      expect(await queue.expireLeases()).toEqual([
        { kind: 'requeued', jobId: second.jobId, token: second.token },
      ]);
      const [again] = await claimAll(queue);
      expect(again).toMatchObject({ task: 'a', attempt: 2 });
      expect(again?.token).toBeGreaterThan(second.token);
    });

    it('claims in queue order what was ready before, and leaves the rest queued', async () => {
      const { queue, clock } = await open();
      const enqueueAndClaim = queue.enqueueAndClaim.bind(queue);
      await queue.enqueue([job('a')]);
      clock.advance(1);
      const { leases } = await enqueueAndClaim([job('b'), job('c')], { ...request, limit: 2 });
      expect(tasks(leases)).toEqual(['a', 'b']);
      expect(tasks(await claimAll(queue))).toEqual(['c']);
    });

    it('leaves queued what the claim would not take: past the limit, other tasks, delayed, idempotent', async () => {
      const { queue, clock } = await open();
      const enqueueAndClaim = queue.enqueueAndClaim.bind(queue);
      const limited = await enqueueAndClaim([job('a'), job('b'), job('c')], { ...request, limit: 2 });
      expect(tasks(limited.leases)).toEqual(['a', 'b']);
      expect(tasks(await claimAll(queue))).toEqual(['c']);
      const other = await enqueueAndClaim([job('a'), job('x')], request);
      expect(tasks(other.leases)).toEqual(['a']);
      const delayed = await enqueueAndClaim([job('d', { notBefore: clock.now() + 10 })], request);
      expect(delayed.leases).toEqual([]);
      const keyed = await enqueueAndClaim([job('a', { idempotencyKey: 'k' })], request);
      expect(tasks(keyed.leases)).toEqual(['a']);
      const again = await enqueueAndClaim([job('a', { idempotencyKey: 'k' })], request);
      expect(again.enqueued.map((result) => result.kind)).toEqual(['existing']);
      expect(again.leases).toEqual([]);
      clock.advance(10);
      expect(tasks(await claimAll(queue))).toEqual(['x', 'd']);
    });

    it('is refused whole past capacity, like enqueue, writing nothing', async () => {
      const { queue } = await open({ capacity: 1 });
      const enqueueAndClaim = queue.enqueueAndClaim.bind(queue);
      await expect(enqueueAndClaim([job('a'), job('b')], request)).rejects.toMatchObject({
        code: 'VK_QUEUE_FULL',
      });
      expect(await claimAll(queue)).toEqual([]);
    });
  });

  describe('waitForWork', () => {
    it('resolves at once when a job is ready, and when the signal aborts', async () => {
      const { queue } = await open();
      const controller = new AbortController();
      const waiting = queue.waitForWork(controller.signal);
      controller.abort();
      await waiting;
      await queue.enqueue([job('a')]);
      await queue.waitForWork(new AbortController().signal);
    });

    it('rejects with VK_STORE once the stores are closed', async () => {
      const { queue } = await open();
      await opened?.stores.close();
      await expect(queue.waitForWork(new AbortController().signal)).rejects.toMatchObject({
        code: 'VK_STORE',
      });
    });

    it('wakes on an enqueue made after it started waiting, through this handle or another', async () => {
      const { queue, another } = await open({ pollIntervalMs: 50 });
      const second = await another();
      const local = queue.waitForWork(new AbortController().signal);
      await queue.enqueue([job('a')]);
      await local;
      await claimAll(queue);
      const remote = queue.waitForWork(new AbortController().signal);
      await second.enqueue([job('b')]);
      await remote;
      expect(tasks(await claimAll(queue))).toEqual(['b']);
    });
  });
}
