import { describe, expect, it } from 'vitest';
import { fixture, openPool } from './helpers.js';

/** One thread of 16 slots: without isolation, every task shares it. */
const oneThread = { minThreads: 1, maxThreads: 1 };

describe('ThreadPool: tasks lost together are suspects, and a task can run alone', () => {
  it('a worker lost with several tasks running says so on each: sharedWith counts the others', async () => {
    const { pool } = await openPool(oneThread);
    const sleep = pool.task<number, string>({ module: fixture('echo.mjs'), exportName: 'sleep' });
    const exits = pool.task({ module: fixture('faults.mjs'), exportName: 'exits' });
    const sleepers = Array.from({ length: 3 }, () => pool.run(sleep, 5_000));
    const culprit = pool.run(exits, undefined);
    const outcomes = await Promise.all([...sleepers, culprit]);
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({ kind: 'worker_lost', reason: 'exited', sharedWith: 3 });
    }
  });

  it('isolated: waits for the worker to empty, runs alone, and takes only itself down', async () => {
    const { pool, events } = await openPool(oneThread);
    const sleep = pool.task<number, string>({ module: fixture('echo.mjs'), exportName: 'sleep' });
    const exits = pool.task({ module: fixture('faults.mjs'), exportName: 'exits' });
    const before = Array.from({ length: 5 }, () => pool.run(sleep, 100));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const culprit = pool.run(exits, undefined, { isolated: true });
    const after = Array.from({ length: 5 }, () => pool.run(sleep, 100));
    expect(await culprit).toMatchObject({ kind: 'worker_lost', reason: 'exited', sharedWith: 0 });
    const others = await Promise.all([...before, ...after]);
    expect(others).toEqual(Array.from({ length: 10 }, () => ({ kind: 'succeeded', output: 'slept' })));
    expect(events.filter((event) => event.type === 'worker.replaced')).toHaveLength(1);
    // It started once the five before it had ended, and the five after it only once it had.
    const at = (type: string, taskId: number) =>
      events.findIndex((event) => event.type === type && 'taskId' in event && event.taskId === taskId);
    const culpritStarted = at('task.started', 6);
    for (let taskId = 1; taskId <= 5; taskId++)
      expect(at('task.succeeded', taskId)).toBeLessThan(culpritStarted);
    for (let taskId = 7; taskId <= 11; taskId++)
      expect(at('task.started', taskId)).toBeGreaterThan(culpritStarted);
    expect(pool.stats()).toMatchObject({ queued: 0, running: 0 });
  });

  it('isolated on a busy pool at maxThreads: a worker is set aside, runs it alone, and is shared again after', async () => {
    const { pool, events } = await openPool({ minThreads: 2, maxThreads: 2 });
    const sleep = pool.task<number, string>({ module: fixture('echo.mjs'), exportName: 'sleep' });
    const busy = Array.from({ length: 40 }, () => pool.run(sleep, 50));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const alone = await pool.run(sleep, 50, { isolated: true });
    expect(alone).toEqual({ kind: 'succeeded', output: 'slept' });
    expect((await Promise.all(busy)).every((outcome) => outcome.kind === 'succeeded')).toBe(true);
    // Task 41 is the isolated one: on its worker, every other task ended before it began or began after it ended.
    const index = (type: string, taskId: number) =>
      events.findIndex((event) => event.type === type && 'taskId' in event && event.taskId === taskId);
    const began = index('task.started', 41);
    const ended = index('task.succeeded', 41);
    const start = events[began];
    const workerId = start?.type === 'task.started' ? start.workerId : -1;
    const neighbours = events.filter(
      (event) => event.type === 'task.started' && event.workerId === workerId && event.taskId !== 41,
    );
    expect(neighbours.length).toBeGreaterThan(0);
    for (const neighbour of neighbours) {
      if (neighbour.type !== 'task.started') continue;
      const ok =
        index('task.succeeded', neighbour.taskId) < began || index('task.started', neighbour.taskId) > ended;
      expect(ok, `task ${neighbour.taskId} ran beside the isolated task`).toBe(true);
    }
    const later = await Promise.all(Array.from({ length: 40 }, () => pool.run(sleep, 10)));
    expect(later.every((outcome) => outcome.kind === 'succeeded')).toBe(true);
    expect(pool.stats()).toEqual({ threads: 2, queued: 0, running: 0 });
  });

  it('isolated must be a boolean', async () => {
    const { pool } = await openPool(oneThread);
    const sleep = pool.task<number, string>({ module: fixture('echo.mjs'), exportName: 'sleep' });
    await expect(pool.run(sleep, 1, { isolated: 'yes' as unknown as boolean })).rejects.toThrow(
      /option "isolated" must be a boolean; received "yes"/,
    );
  });
});
