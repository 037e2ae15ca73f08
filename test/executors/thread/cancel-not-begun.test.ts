import { expect, it } from 'vitest';
import type { TaskOutcome } from '../../../src/executors/thread/outcome.js';
import type { TaskSettledListener } from '../../../src/executors/thread/task-record.js';
import { fixture, openPool } from './helpers.js';

function listener(): TaskSettledListener & { outcome: Promise<TaskOutcome>; begun?: boolean } {
  let settle: (outcome: TaskOutcome) => void = () => {};
  const outcome = new Promise<TaskOutcome>((resolve) => {
    settle = resolve;
  });
  const made: TaskSettledListener & { outcome: Promise<TaskOutcome>; begun?: boolean } = {
    outcome,
    taskSettled: (ended, begun) => {
      made.begun = begun;
      settle(ended);
    },
  };
  return made;
}

it('cancelNotBegun withdraws the tasks no worker began, and leaves a task that blocks its worker running', async () => {
  const { pool } = await openPool({
    minThreads: 1,
    maxThreads: 1,
    concurrentTasksPerWorker: 1,
    abortGraceMs: 200,
  });
  const blockFor = pool.task<number, number>({ module: fixture('faults.mjs'), exportName: 'blockFor' });
  await pool.run(blockFor, 0);
  const [running, linedUp, queued, other] = [listener(), listener(), listener(), listener()];
  pool.submit(blockFor, 1_500, undefined, running);
  pool.submit(blockFor, 0, undefined, linedUp);
  pool.submit(blockFor, 0, undefined, queued);
  pool.submit(blockFor, 0, undefined, other);
  await new Promise((resolve) => setTimeout(resolve, 300));

  const mine = new Set<TaskSettledListener>([running, linedUp, queued]);
  expect(pool.cancelNotBegun((submitter) => mine.has(submitter), 'the engine closed')).toBe(2);

  // The running task blocks the worker past abortGraceMs: a grace deadline would have terminated it.
  expect(await running.outcome).toEqual({ kind: 'succeeded', output: 1_500 });
  expect(await linedUp.outcome).toEqual({ kind: 'cancelled', reason: 'the engine closed' });
  expect(await queued.outcome).toEqual({ kind: 'cancelled', reason: 'the engine closed' });
  expect(await other.outcome).toEqual({ kind: 'succeeded', output: 0 });
  // Its listener hears which began (an engine counts no attempt that did not). The lined-up one did:
  // the blocked worker read the withdrawal only after it had refilled its slot with it.
  expect([running, linedUp, queued, other].map((task) => task.begun)).toEqual([true, true, false, true]);
});

it("cancelling a task lined up behind one that blocks its worker leaves that one running (run()'s signal)", async () => {
  const { pool } = await openPool({
    minThreads: 1,
    maxThreads: 1,
    concurrentTasksPerWorker: 1,
    abortGraceMs: 200,
  });
  const blockFor = pool.task<number, number>({ module: fixture('faults.mjs'), exportName: 'blockFor' });
  await pool.run(blockFor, 0);
  const running = pool.run(blockFor, 1_500);
  const cancel = new AbortController();
  const linedUp = pool.run(blockFor, 0, { signal: cancel.signal });
  await new Promise((resolve) => setTimeout(resolve, 300));

  cancel.abort('not needed');
  // Before: the abort set a grace deadline of 200 ms, the worker could not read the abort while it
  // was blocked, and the pool terminated it: the running task ended worker_lost.
  expect(await running).toEqual({ kind: 'succeeded', output: 1_500 });
  expect(await linedUp).toEqual({ kind: 'cancelled', reason: 'not needed' });
});
