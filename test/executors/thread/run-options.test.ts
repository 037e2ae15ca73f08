import { describe, expect, it } from 'vitest';
import type { RunTaskOptions } from '../../../src/executors/thread/task-record.js';
import type { TaskModuleRef } from '../../../src/executors/thread/thread-pool.js';
import { fixture, openPool } from './helpers.js';

const onePool = { minThreads: 1, maxThreads: 1 };
const poolConfig = (message: string) => ({ code: 'VK_POOL_CONFIG', message });

describe('ThreadPool: what run(), task(), onEvent() and close() are given', () => {
  // The signal was listened to after the task was counted: run() rejected with a TypeError from
  // inside submit, and close() then waited for that task for ever.
  it('a signal that is not an AbortSignal rejects, and the pool still closes', async () => {
    const { pool } = await openPool(onePool);
    const echo = pool.task({ module: fixture('echo.mjs') });
    const bad = { signal: { aborted: false } } as unknown as RunTaskOptions;
    await expect(pool.run(echo, 1, bad)).rejects.toMatchObject(
      poolConfig('run(): option "signal" must be an AbortSignal; received an object'),
    );
    expect(pool.stats()).toEqual({ threads: 1, queued: 0, running: 0 });
    const closed = await Promise.race([
      pool.close().then(() => 'closed'),
      new Promise((resolve) => setTimeout(() => resolve('still waiting after 2 s'), 2000)),
    ]);
    expect(closed).toBe('closed');
  });

  // Called from the pool's message handler when the task logged: a TypeError there was an
  // uncaught exception in the caller's process.
  it('onLog and onProgress must be functions', async () => {
    const { pool } = await openPool(onePool);
    const context = pool.task({ module: fixture('echo.mjs'), exportName: 'context' });
    const onLog = 'console' as unknown as RunTaskOptions['onLog'];
    await expect(pool.run(context, 1, { onLog })).rejects.toMatchObject(
      poolConfig('run(): option "onLog" must be a function; received "console"'),
    );
    await expect(pool.run(context, 1, { onLog: () => {} })).resolves.toMatchObject({ kind: 'succeeded' });
  });

  // Ignored, a misspelt timeout left the task without one.
  it('refuses an option it does not know, and options that are not an object', async () => {
    const { pool } = await openPool(onePool);
    const echo = pool.task({ module: fixture('echo.mjs') });
    const typo = { timeout: 5000 } as unknown as RunTaskOptions;
    await expect(pool.run(echo, 1, typo)).rejects.toMatchObject(
      poolConfig(
        'run(): unknown option "timeout" (known: timeoutMs, signal, attempt, isolated, onProgress, onLog)',
      ),
    );
    await expect(pool.run(echo, 1, 5000 as unknown as RunTaskOptions)).rejects.toMatchObject(
      poolConfig('run(): options must be an object; received 5000'),
    );
  });

  it('task() refuses a field it does not know rather than running the default export', async () => {
    const { pool } = await openPool(onePool);
    const ref = { module: fixture('echo.mjs'), export: 'sleep' } as unknown as TaskModuleRef;
    expect(() => pool.task(ref)).toThrow('task(): unknown option "export" (known: module, exportName)');
  });

  // Subscribed as it was, the first task's event threw from a microtask and ended the process.
  it('onEvent() takes only a function', async () => {
    const { pool } = await openPool(onePool);
    expect(() => pool.onEvent(5 as unknown as () => void)).toThrow(
      'onEvent(): the listener must be a function; received number',
    );
  });

  // BullMQ's close(true) forces; here it closed with no deadline, waiting for every task.
  it('close() takes { deadlineMs } only', async () => {
    const { pool } = await openPool(onePool);
    const close = pool.close as (options: unknown) => Promise<void>;
    await expect(close.call(pool, true)).rejects.toMatchObject(
      poolConfig('close(): expected { deadlineMs? }; received true'),
    );
    await expect(close.call(pool, { deadline: 5 })).rejects.toMatchObject(
      poolConfig('close(): unknown option "deadline" (known: deadlineMs)'),
    );
    await pool.close({ deadlineMs: 1000 });
  });
});
