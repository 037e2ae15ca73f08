import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../src/library/events.js';
import type { ClaimRequest, EnqueueResult, Lease, NewQueueJob, QueueStore } from '../../src/store/queue.js';
import { fixture } from './helpers.js';
import { engineOnProxiedPostgres, postgres, proxiedQueue, signal } from './proxied-store.js';

/**
 * `queue` as Postgres may order an engine's first claim and first enqueue: the claim, asked for
 * before the enqueue, runs on its own lane once the enqueue has committed (a visible-first enqueue
 * then makes a second round trip, its flush, before it answers) and answers first. Here the claim
 * is held until the enqueue has committed, and the enqueue's answer until the claim has answered and
 * the engine has had a turn to map it.
 */
function claimSeesEnqueueFirst(queue: QueueStore) {
  const asked = signal();
  const committed = signal();
  const answered = signal();
  let claims = 0;
  let enqueues = 0;
  const claim = async (request: ClaimRequest): Promise<Lease[]> => {
    if (claims++ > 0) return queue.claim(request);
    asked.resolve();
    await committed.promise;
    try {
      return await queue.claim(request);
    } finally {
      answered.resolve();
    }
  };
  const enqueue = async (jobs: readonly NewQueueJob[]): Promise<EnqueueResult[]> => {
    if (enqueues++ > 0) return queue.enqueue(jobs);
    try {
      return await queue.enqueue(jobs);
    } finally {
      committed.resolve();
      await answered.promise;
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { store: proxiedQueue(queue, { claim, enqueue }), claimAsked: asked.promise };
}

describe.skipIf(postgres?.skip !== undefined)('a claim asked for before an enqueue, on Postgres', () => {
  /** An engine on a fresh schema whose first claim sees its first enqueue's jobs before that enqueue answers. */
  async function engineWithHeldClaim() {
    const proxied: { held?: ReturnType<typeof claimSeesEnqueueFirst> } = {};
    const engine = await engineOnProxiedPostgres({ pool: { minThreads: 1, maxThreads: 1 } }, (queue) => {
      proxied.held = claimSeesEnqueueFirst(queue);
      return proxied.held.store;
    });
    const held = proxied.held;
    if (held === undefined) throw new Error('the store was not proxied');
    const events: EngineEvent[] = [];
    engine.onEvent((event) => events.push(event));
    const sleep = engine.task<number, string>('sleep', { module: fixture(), exportName: 'sleep' });
    // The claim the task's registration asked for is under way before anything is enqueued.
    await held.claimAsked;
    const startedIds = () => events.flatMap((event) => (event.type === 'job.started' ? [event.jobId] : []));
    return { engine, sleep, startedIds };
  }

  // It leased them before the enqueue had told the engine their ids: the engine took its own jobs
  // for another process's and ran them as records of their own, and each cancel, finding its job
  // running there, reported that attempt (attempts: 1 for all, as once seen in CI under load).
  it('counts no attempt for jobs each cancelled right after its enqueue', async () => {
    const { engine, sleep, startedIds } = await engineWithHeldClaim();
    const jobs = Array.from({ length: 20 }, () => engine.enqueue(sleep, 1));
    const cancels = jobs.map((job) => engine.cancel(job, 'at once'));
    expect(await Promise.all(cancels)).toEqual(jobs.map(() => true));
    const results = await Promise.all(jobs.map((job) => job.result));
    expect(results).toEqual(jobs.map(() => ({ kind: 'cancelled', reason: 'at once', attempts: 0 })));
    expect(startedIds()).toEqual([]);
    for (const job of jobs) {
      expect(await engine.getStoredJob(job.storeId ?? '')).toMatchObject({ attempts: 0 });
    }
  });

  it('runs each job once, as the job its handle names', async () => {
    const { engine, sleep, startedIds } = await engineWithHeldClaim();
    const jobs = Array.from({ length: 5 }, () => engine.enqueue(sleep, 1));
    const results = await Promise.all(jobs.map((job) => job.result));
    expect(results).toEqual(jobs.map(() => ({ kind: 'succeeded', output: 'slept', attempts: 1 })));
    expect(startedIds().sort()).toEqual(jobs.map((job) => job.id).sort());
  });
});
