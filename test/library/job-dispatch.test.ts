import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { ThreadPool } from '../../src/executors/thread/thread-pool.js';
import { type EngineQueue, MemoryEngineQueue } from '../../src/library/engine-queue.js';
import { EngineEventListeners } from '../../src/library/events.js';
import { JobDispatch } from '../../src/library/job-dispatch.js';
import { JobRecord } from '../../src/library/job-record.js';
import { resolveJobOptions, retryDefaults } from '../../src/library/options.js';
import { fixture } from './helpers.js';

/** The in-memory queue behind a `take` that answers a turn of the event loop later. */
function slowTakeQueue(onReady: () => void, takes: number[]): EngineQueue<JobRecord> {
  const inner = new MemoryEngineQueue<JobRecord>(systemClock, onReady);
  return {
    get size() {
      return inner.size;
    },
    add: (entry) => inner.add(entry),
    // Claims at once and answers later, as a store's claim commits before its reply arrives.
    take: (limit, into) => {
      const taken = inner.take(limit, into);
      takes.push(taken);
      return new Promise((resolve) => setImmediate(() => resolve(taken)));
    },
    settle: (entry, outcome) => inner.settle(entry, outcome),
    cancel: (entry) => inner.cancel(entry),
    drain: () => inner.drain(),
  };
}

const pools: ThreadPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.destroy()));
});

async function setUp(maxInFlight: number) {
  const pool = new ThreadPool({ minThreads: 1, maxThreads: 1 });
  pools.push(pool);
  await pool.ready();
  const takes: number[] = [];
  const dispatch = new JobDispatch({
    pool,
    listeners: new EngineEventListeners(),
    clock: systemClock,
    agingIntervalMs: 60_000,
    maxInFlight,
    queue: ({ onReady }) => slowTakeQueue(onReady, takes),
  });
  const poolTask = pool.task({ module: fixture(), exportName: 'sleep' });
  const task = { name: 'sleep', moduleUrl: poolTask.moduleUrl, exportName: poolTask.exportName };
  const { attemptEnded, progressReported, logReported } = dispatch;
  const jobTask = { task, poolTask, attemptEnded, progressReported, logReported };
  let seq = 1;
  const job = (ms: number) =>
    new JobRecord(seq++, jobTask, ms, resolveJobOptions('test', undefined, retryDefaults));
  return { dispatch, takes, job };
}

describe('JobDispatch over a queue whose take is asynchronous', () => {
  it('runs every job, never more than maxInFlight at once, one take at a time', async () => {
    const { dispatch, takes, job } = await setUp(4);
    const jobs = Array.from({ length: 20 }, () => job(1));
    for (const record of jobs) dispatch.admit(record);
    const outcomes = await Promise.all(jobs.map((record) => record.result));
    expect(outcomes.every((outcome) => outcome.kind === 'succeeded')).toBe(true);
    expect(takes.reduce((sum, taken) => sum + taken, 0)).toBe(20);
    expect(Math.max(...takes)).toBeLessThanOrEqual(4);
    expect(dispatch.stats()).toEqual({ queued: 0, inFlight: 0, unsettled: 0 });
  });

  it('cancels, without starting them, jobs that a take pending at stop() returns', async () => {
    const { dispatch, takes, job } = await setUp(4);
    const record = job(1);
    dispatch.admit(record);
    await new Promise((resolve) => queueMicrotask(() => resolve(undefined)));
    dispatch.stop('stopped by the test');
    await expect(record.result).resolves.toEqual({
      kind: 'cancelled',
      reason: 'stopped by the test',
      attempts: 0,
    });
    expect(takes).toEqual([1]);
    expect(dispatch.stats()).toEqual({ queued: 0, inFlight: 0, unsettled: 0 });
  });

  it('settles every job even when a node listener throws, and the error still surfaces', async () => {
    const { dispatch, job } = await setUp(4);
    const jobs = Array.from({ length: 3 }, () => job(1));
    jobs[1]?.onConcluded(() => {
      throw new Error('a node listener failed');
    });
    // The listener's error is rethrown on its own (uncaught); caught here instead of by the runner.
    const runnerHandlers = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    const uncaught: unknown[] = [];
    process.on('uncaughtException', (error) => uncaught.push(error));
    try {
      for (const record of jobs) dispatch.admit(record);
      const outcomes = await Promise.all(jobs.map((record) => record.result));
      expect(outcomes.map((outcome) => outcome.kind)).toEqual(['succeeded', 'succeeded', 'succeeded']);
      await new Promise((resolve) => setImmediate(resolve));
      expect(uncaught).toMatchObject([{ message: 'a node listener failed' }]);
    } finally {
      process.removeAllListeners('uncaughtException');
      for (const handler of runnerHandlers) process.on('uncaughtException', handler);
    }
  });
});
