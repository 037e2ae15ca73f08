import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import type { ClaimRequest, EnqueueResult, QueueJobId, QueueStore } from '../../src/store/queue.js';
import type { Stores } from '../../src/store/store.js';
import { dropSchema, postgresSkipReason, postgresUrl, uniqueSchema } from './postgres-server.js';

const onServer = 'Postgres queue: hand-off of new jobs to a waiting claimer';
const request: ClaimRequest = { worker: 'w1', limit: 2, ttlMs: 5000 };
const idOf = (results: readonly EnqueueResult[]): QueueJobId => {
  const [result] = results;
  if (result === undefined) throw new Error('nothing enqueued');
  return result.job.id;
};

describe.skipIf(postgresSkipReason !== undefined)(
  postgresSkipReason === undefined ? onServer : `${onServer} (skipped: ${postgresSkipReason})`,
  () => {
    let schema = '';
    const opened: Stores[] = [];
    beforeEach(() => {
      schema = uniqueSchema();
    });
    afterEach(async () => {
      for (const stores of opened.splice(0)) await stores.close();
      await dropSchema(schema);
    });
    const open = async () => {
      const stores = await openPostgresStores(postgresUrl, { schema });
      opened.push(stores);
      return stores.queue;
    };

    /** Listening, then a claim that finds nothing: the store is registered as a waiter. */
    async function idleClaimer(): Promise<QueueStore> {
      const queue = await open();
      const listening = new AbortController();
      listening.abort();
      await queue.waitForWork(listening.signal);
      expect(await queue.claim(request)).toEqual([]);
      return queue;
    }

    it("leases new jobs to the waiting claimer in the enqueue's own commit, up to its claim's limit", async () => {
      const claimer = await idleClaimer();
      const submitter = await open();
      const woken = claimer.waitForWork(new AbortController().signal);
      const results = await submitter.enqueue(['a', 'b', 'c'].map((task) => ({ task, payload: { task } })));
      const ids = results.map((result) => result.job.id);
      // Committed with the jobs, before the claimer has done anything.
      const states = await Promise.all(ids.map(async (id) => (await submitter.getJob(id))?.state));
      expect(states).toEqual(['leased', 'leased', 'queued']);
      await woken;
      const leases = await claimer.claim({ ...request, limit: 10 });
      expect(leases).toMatchObject([
        { jobId: ids[0], worker: 'w1', task: 'a', payload: { task: 'a' }, attempt: 1, token: 1 },
        { jobId: ids[1], worker: 'w1', task: 'b', payload: { task: 'b' }, attempt: 1, token: 1 },
      ]);
      // Real leases: their tokens fence, and the job past the limit is claimed as usual.
      const [first, second] = leases;
      if (first === undefined || second === undefined) throw new Error('no leases');
      expect(await claimer.complete([{ lease: first, outcome: { kind: 'succeeded' } }])).toEqual([
        { kind: 'completed', jobId: ids[0] },
      ]);
      expect(
        await submitter.complete([{ lease: { ...second, token: 0 }, outcome: { kind: 'succeeded' } }]),
      ).toEqual([{ kind: 'stale', jobId: ids[1], token: 0 }]);
      expect((await submitter.claim(request)).map((lease) => lease.task)).toEqual(['c']);
    });

    it('reads back a job too large for the notification; a claim that finds jobs unregisters', async () => {
      const claimer = await idleClaimer();
      const submitter = await open();
      const large = idOf(await submitter.enqueue([{ task: 'big', payload: { text: 'x'.repeat(10_000) } }]));
      await claimer.waitForWork(new AbortController().signal);
      const [lease] = await claimer.claim(request);
      expect(lease).toMatchObject({ jobId: large, task: 'big', attempt: 1 });
      expect((lease?.payload as { text: string }).text).toHaveLength(10_000);
      const later = idOf(await submitter.enqueue([{ task: 'later', payload: null }]));
      expect((await submitter.getJob(later))?.state).toBe('queued');
    });

    it('hands over nothing while the queue holds other jobs, delayed ones included', async () => {
      const submitter = await open();
      await submitter.enqueue([{ task: 'delayed', payload: null, notBefore: Date.now() + 60_000 }]);
      await idleClaimer();
      const fresh = idOf(await submitter.enqueue([{ task: 'fresh', payload: null }]));
      expect((await submitter.getJob(fresh))?.state).toBe('queued');
    });

    it('gives handed-over leases back to the queue when the store closes before claiming them', async () => {
      const claimer = await idleClaimer();
      const submitter = await open();
      const woken = claimer.waitForWork(new AbortController().signal);
      const id = idOf(await submitter.enqueue([{ task: 'a', payload: null }]));
      await woken;
      await opened[0]?.close();
      expect(await submitter.getJob(id)).toMatchObject({ state: 'queued', attempts: 1 });
      expect(await submitter.claim(request)).toMatchObject([{ jobId: id, attempt: 2, token: 2 }]);
    });
  },
);
