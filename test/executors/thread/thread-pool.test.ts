import { describe, expect, it } from 'vitest';
import { isValkyrieError } from '../../../src/core/errors.js';
import type { TaskLogEntry } from '../../../src/executors/thread/task-record.js';
import { fixture, openPool } from './helpers.js';

describe('ThreadPool: running tasks', () => {
  it('runs a default export and returns its output as data', async () => {
    const { pool } = await openPool({ minThreads: 1, maxThreads: 1 });
    const echo = pool.task<{ n: number }, { n: number }>({ module: fixture('echo.mjs') });
    await expect(pool.run(echo, { n: 7 })).resolves.toEqual({ kind: 'succeeded', output: { n: 7 } });
  });

  it('runs named exports, sync or async, from a path or a URL', async () => {
    const { pool } = await openPool({ minThreads: 1, maxThreads: 1 });
    const double = pool.task<number, number>({
      module: fixture('echo.mjs').pathname,
      exportName: 'syncDouble',
    });
    await expect(pool.run(double, 21)).resolves.toEqual({ kind: 'succeeded', output: 42 });
    expect(pool.task({ module: fixture('echo.mjs'), exportName: 'syncDouble' })).toBe(double);
  });

  it('gives the task its attempt, a signal, a logger and a progress reporter', async () => {
    const { pool, events } = await openPool({ minThreads: 1, maxThreads: 1 });
    const context = pool.task({ module: fixture('echo.mjs'), exportName: 'context' });
    const progress: unknown[] = [];
    const logs: TaskLogEntry[] = [];
    const outcome = await pool.run(context, 'in', {
      attempt: 3,
      onProgress: (value) => progress.push(value),
      onLog: (entry) => logs.push(entry),
    });
    expect(outcome).toEqual({ kind: 'succeeded', output: { attempt: 3, taskId: 1, aborted: false } });
    expect(progress).toEqual([{ step: 1 }, { step: 2 }]);
    expect(logs).toEqual([{ level: 'info', message: 'hello from the task', fields: { input: 'in' } }]);
    expect(events.map((event) => event.type)).toEqual([
      'task.started',
      'task.progress',
      'task.log',
      'task.progress',
      'task.succeeded',
    ]);
  });

  it('keeps each output with its own task across batches and workers', async () => {
    const { pool } = await openPool({ minThreads: 2, maxThreads: 2, concurrentTasksPerWorker: 8 });
    const withThread = pool.task<number, { input: number; threadId: number }>({
      module: fixture('echo.mjs'),
      exportName: 'withThread',
    });
    const outcomes = await Promise.all(Array.from({ length: 2_000 }, (_, i) => pool.run(withThread, i)));
    const threads = new Set<number>();
    outcomes.forEach((outcome, i) => {
      expect(outcome.kind === 'succeeded' && outcome.output.input).toBe(i);
      if (outcome.kind === 'succeeded') threads.add(outcome.output.threadId);
    });
    expect(threads.size).toBe(2);
  });

  it('refuses module references a worker would resolve against the wrong directory', async () => {
    const { pool } = await openPool({ minThreads: 1, maxThreads: 1 });
    for (const module of ['./task.js', 'some-package', 42, new URL('https://example.com/task.js')]) {
      try {
        pool.task({ module: module as string });
        expect.unreachable();
      } catch (error) {
        expect(isValkyrieError(error) && error.code).toBe('VK_TASK_MODULE');
        expect((error as Error).message).toContain(module === 42 ? 'received 42' : `received "${module}"`);
      }
    }
    expect(() => pool.task({ module: fixture('echo.mjs'), exportName: '' })).toThrow(/exportName/);
  });

  it('rejects bad per-task options, naming the option and the value', async () => {
    const { pool } = await openPool({ minThreads: 1, maxThreads: 1 });
    const echo = pool.task({ module: fixture('echo.mjs') });
    await expect(pool.run(echo, 1, { timeoutMs: -5 })).rejects.toThrow(/"timeoutMs".*received -5/);
    await expect(pool.run(echo, 1, { attempt: 0 })).rejects.toThrow(/"attempt".*received 0/);
  });
});
