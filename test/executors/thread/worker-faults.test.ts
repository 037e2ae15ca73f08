import { describe, expect, it } from 'vitest';
import type { ThreadPoolOptions } from '../../../src/executors/thread/config.js';
import type { WorkerLossReason } from '../../../src/executors/thread/outcome.js';
import { fixture, fullStrength, openPool } from './helpers.js';

/**
 * Two workers, one task each at a time: the faulty task has a worker to itself, so every other
 * task runs on the other one (or on the replacement) and must succeed.
 */
const twoSingleSlotWorkers: ThreadPoolOptions = { minThreads: 2, maxThreads: 2, concurrentTasksPerWorker: 1 };

async function expectLostAndReplaced(
  exportName: string,
  reason: WorkerLossReason,
  message: RegExp,
  options: ThreadPoolOptions = twoSingleSlotWorkers,
): Promise<void> {
  const { pool, events } = await openPool(options);
  const faulty = pool.task({ module: fixture('faults.mjs'), exportName });
  const echo = pool.task<number, number>({ module: fixture('echo.mjs') });
  const bad = pool.run(faulty, undefined);
  const others = await Promise.all(Array.from({ length: 50 }, (_, i) => pool.run(echo, i)));
  expect(others).toEqual(Array.from({ length: 50 }, (_, i) => ({ kind: 'succeeded', output: i })));

  const outcome = await bad;
  expect(outcome).toMatchObject({ kind: 'worker_lost', reason });
  expect(outcome.kind === 'worker_lost' && outcome.message).toMatch(message);

  expect(events).toContainEqual({ type: 'task.failed', taskId: 1, outcome });
  await fullStrength(pool, 2);
  const replaced = events.filter((event) => event.type === 'worker.replaced');
  expect(replaced).toEqual([
    {
      type: 'worker.replaced',
      lostWorkerId: expect.any(Number),
      workerId: 3,
      reason,
      message: expect.any(String),
    },
  ]);
  const after = await Promise.all(Array.from({ length: 10 }, (_, i) => pool.run(echo, i)));
  expect(after.every((result) => result.kind === 'succeeded')).toBe(true);
}

describe('ThreadPool: a lost worker is replaced, and only its own tasks are lost', () => {
  it('a task that calls process.exit', async () => {
    await expectLostAndReplaced('exits', 'exited', /exited with code 3/);
  });

  it('an exception thrown from a timer crashes the worker', async () => {
    await expectLostAndReplaced('crashes', 'crashed', /crashed: Error: thrown from a timer/);
  });

  it('a task past resourceLimits (out of memory)', async () => {
    await expectLostAndReplaced('outOfMemory', 'resource_limits', /ran out of memory/, {
      ...twoSingleSlotWorkers,
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
    });
  });

  it('a busy loop stops the heartbeats', async () => {
    await expectLostAndReplaced('busyLoop', 'unresponsive', /stopped answering heartbeats for 1000 ms/, {
      ...twoSingleSlotWorkers,
      heartbeatIntervalMs: 200,
      maxMissedHeartbeats: 5,
    });
  });

  it('tasks sharing the lost worker end as worker_lost, not as failures', async () => {
    const { pool } = await openPool({ minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 4 });
    const exits = pool.task({ module: fixture('faults.mjs'), exportName: 'exits' });
    const sleep = pool.task<number, string>({ module: fixture('echo.mjs'), exportName: 'sleep' });
    const neighbours = [pool.run(sleep, 60_000), pool.run(sleep, 60_000)];
    const [exit, ...rest] = await Promise.all([pool.run(exits, undefined), ...neighbours]);
    for (const outcome of [exit, ...rest])
      expect(outcome).toMatchObject({ kind: 'worker_lost', reason: 'exited' });
    await fullStrength(pool, 1);
    await expect(pool.run(sleep, 1)).resolves.toEqual({ kind: 'succeeded', output: 'slept' });
  });
});

describe('ThreadPool: tasks waiting in a worker', () => {
  it('a task that had not started when its worker was lost runs on the replacement', async () => {
    const { pool } = await openPool({ minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 1 });
    const exits = pool.task({ module: fixture('faults.mjs'), exportName: 'exits' });
    const echo = pool.task<string, string>({ module: fixture('echo.mjs') });
    const [lost, waited] = await Promise.all([pool.run(exits, undefined), pool.run(echo, 'second')]);
    expect(lost).toMatchObject({ kind: 'worker_lost', reason: 'exited' });
    expect(waited).toEqual({ kind: 'succeeded', output: 'second' });
  });

  it('counts a waiting task’s timeout from when it starts, not from when it was sent', async () => {
    const { pool } = await openPool({ minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 1 });
    const sleep = pool.task<number, string>({ module: fixture('echo.mjs'), exportName: 'sleep' });
    const [first, second] = await Promise.all([
      pool.run(sleep, 300),
      pool.run(sleep, 10, { timeoutMs: 200 }),
    ]);
    expect(first).toEqual({ kind: 'succeeded', output: 'slept' });
    expect(second).toEqual({ kind: 'succeeded', output: 'slept' });
  });
});

describe('ThreadPool: timeouts', () => {
  it('aborts the signal of a task past its timeout; a task that stops in time keeps its worker', async () => {
    const { pool, events } = await openPool({ minThreads: 1, maxThreads: 1 });
    const sleep = pool.task<number, string>({ module: fixture('echo.mjs'), exportName: 'sleep' });
    await expect(pool.run(sleep, 60_000, { timeoutMs: 50 })).resolves.toEqual({
      kind: 'timed_out',
      timeoutMs: 50,
    });
    expect(events.some((event) => event.type === 'worker.replaced')).toBe(false);
    await expect(pool.run(sleep, 1)).resolves.toEqual({ kind: 'succeeded', output: 'slept' });
  });

  it('terminates the worker of a task that ignores its signal past the grace period', async () => {
    const { pool, events } = await openPool({
      minThreads: 1,
      maxThreads: 1,
      concurrentTasksPerWorker: 2,
      taskTimeoutMs: 100,
      abortGraceMs: 100,
    });
    const ignores = pool.task({ module: fixture('echo.mjs'), exportName: 'ignoresAbort' });
    const sleep = pool.task<number, string>({ module: fixture('echo.mjs'), exportName: 'sleep' });
    const [stuck, neighbour] = await Promise.all([
      pool.run(ignores, undefined),
      pool.run(sleep, 60_000, { timeoutMs: Number.POSITIVE_INFINITY }),
    ]);
    expect(stuck).toEqual({ kind: 'timed_out', timeoutMs: 100 });
    expect(neighbour).toMatchObject({ kind: 'worker_lost', reason: 'terminated' });
    expect(neighbour.kind === 'worker_lost' && neighbour.message).toMatch(
      /task \d+ ignored its abort signal for 100 ms/,
    );
    await fullStrength(pool, 1);
    expect(events.filter((event) => event.type === 'worker.replaced')).toHaveLength(1);
    await expect(pool.run(sleep, 1)).resolves.toEqual({ kind: 'succeeded', output: 'slept' });
  });
});
