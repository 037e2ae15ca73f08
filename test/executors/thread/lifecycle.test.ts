import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isValkyrieError } from '../../../src/core/errors.js';
import type { ThreadPool } from '../../../src/executors/thread/thread-pool.js';
import { fixture, fullStrength, openPool, waitForEvent } from './helpers.js';

describe('ThreadPool: cancellation', () => {
  it('a queued task is cancelled without running; a running one sees its signal abort', async () => {
    const { pool, events } = await openPool({ minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 1 });
    const sleep = pool.task<number, string>({ module: fixture('echo.mjs'), exportName: 'sleep' });
    const running = new AbortController();
    const queued = new AbortController();
    const first = pool.run(sleep, 60_000, { signal: running.signal });
    const second = pool.run(sleep, 1, { signal: queued.signal });
    await waitForEvent(pool, 'task.started');
    queued.abort(new Error('no longer needed'));
    await expect(second).resolves.toEqual({ kind: 'cancelled', reason: 'no longer needed' });
    running.abort();
    await expect(first).resolves.toEqual({ kind: 'cancelled', reason: 'This operation was aborted' });
    expect(pool.stats()).toEqual({ threads: 1, queued: 0, running: 0 });
    expect(events.filter((event) => event.type === 'task.cancelled')).toHaveLength(2);
    expect(events.filter((event) => event.type === 'task.started')).toHaveLength(1);
  });

  it('an already aborted signal cancels at once', async () => {
    const { pool } = await openPool({ minThreads: 1, maxThreads: 1 });
    const echo = pool.task({ module: fixture('echo.mjs') });
    await expect(pool.run(echo, 1, { signal: AbortSignal.abort('stop') })).resolves.toEqual({
      kind: 'cancelled',
      reason: 'stop',
    });
  });

  // String() throws on these: it did so inside the signal's abort listener, an uncaught exception
  // that ended the caller's process, and synchronously out of run() for one already aborted.
  it('a reason that String() cannot convert is shown as inspect() shows it', async () => {
    const { pool } = await openPool({ minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 1 });
    const sleep = pool.task<number, string>({ module: fixture('echo.mjs'), exportName: 'sleep' });
    const nullPrototype: unknown = Object.assign(Object.create(null), { why: 'gone' });
    const running = new AbortController();
    const queued = new AbortController();
    const first = pool.run(sleep, 60_000, { signal: running.signal });
    const second = pool.run(sleep, 1, { signal: queued.signal });
    await waitForEvent(pool, 'task.started');
    queued.abort(nullPrototype);
    running.abort({
      toString() {
        throw new Error('no text for this reason');
      },
    });
    await expect(second).resolves.toEqual({
      kind: 'cancelled',
      reason: "[Object: null prototype] { why: 'gone' }",
    });
    await expect(first).resolves.toEqual({ kind: 'cancelled', reason: '{ toString: [Function: toString] }' });
    await expect(pool.run(sleep, 1, { signal: AbortSignal.abort(nullPrototype) })).resolves.toEqual({
      kind: 'cancelled',
      reason: "[Object: null prototype] { why: 'gone' }",
    });
  });
});

describe('ThreadPool: close and destroy', () => {
  it('close() drains queued and running tasks, then refuses new ones; it is idempotent', async () => {
    const { pool } = await openPool({ minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 1 });
    const sleep = pool.task<number, string>({ module: fixture('echo.mjs'), exportName: 'sleep' });
    const outcomes = Promise.all([pool.run(sleep, 20), pool.run(sleep, 20), pool.run(sleep, 20)]);
    const closed = pool.close();
    expect(pool.close()).toBe(closed);
    await expect(pool.run(sleep, 1)).rejects.toSatisfy(
      (error) => isValkyrieError(error) && error.code === 'VK_POOL_CLOSED',
    );
    await closed;
    expect(await outcomes).toEqual(Array(3).fill({ kind: 'succeeded', output: 'slept' }));
    expect(pool.stats()).toEqual({ threads: 0, queued: 0, running: 0 });
  });

  it('close({ deadlineMs }) cancels what is left at the deadline', async () => {
    const { pool } = await openPool({ minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 1 });
    const sleep = pool.task<number, string>({ module: fixture('echo.mjs'), exportName: 'sleep' });
    const running = pool.run(sleep, 60_000);
    const queued = pool.run(sleep, 1);
    await pool.close({ deadlineMs: 50 });
    const cancelled = { kind: 'cancelled', reason: 'the thread pool was destroyed' };
    await expect(running).resolves.toEqual(cancelled);
    await expect(queued).resolves.toEqual(cancelled);
  });

  it('destroy() cancels everything at once; close() after it resolves too', async () => {
    const { pool } = await openPool({ minThreads: 2, maxThreads: 2 });
    const sleep = pool.task<number, string>({ module: fixture('echo.mjs'), exportName: 'sleep' });
    const outcomes = Promise.all(Array.from({ length: 5 }, () => pool.run(sleep, 60_000)));
    const destroyed = pool.destroy();
    expect(pool.destroy()).toBe(destroyed);
    await destroyed;
    await pool.close();
    for (const outcome of await outcomes) expect(outcome.kind).toBe('cancelled');
  });

  it('await using closes the pool', async () => {
    let escaped: ThreadPool | undefined;
    {
      await using scoped = (await openPool({ minThreads: 1, maxThreads: 1 })).pool;
      escaped = scoped;
    }
    const echo = escaped.task({ module: fixture('echo.mjs') });
    await expect(escaped.run(echo, 1)).rejects.toThrow(/closing/);
    expect(escaped.stats().threads).toBe(0);
  });
});

describe('ThreadPool: the process', () => {
  it('is not kept alive by an idle pool that was never closed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'valkyrie-pool-'));
    try {
      const script = join(dir, 'main.mjs');
      const poolModule = new URL('../../../dist/executors/thread/thread-pool.js', import.meta.url).href;
      writeFileSync(
        script,
        [
          `import { ThreadPool } from ${JSON.stringify(poolModule)};`,
          'const pool = new ThreadPool({ minThreads: 2, maxThreads: 2 });',
          `const echo = pool.task({ module: ${JSON.stringify(fixture('echo.mjs').href)} });`,
          "console.log(JSON.stringify(await pool.run(echo, 'done')));",
        ].join('\n'),
      );
      const child = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 20_000 });
      expect(child.error).toBeUndefined();
      expect(child.status).toBe(0);
      expect(child.stdout.trim()).toBe('{"kind":"succeeded","output":"done"}');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ThreadPool: scaling', () => {
  it('starts workers up to maxThreads on queue depth, and retires idle ones down to minThreads', async () => {
    const { pool, events } = await openPool({
      minThreads: 1,
      maxThreads: 3,
      concurrentTasksPerWorker: 1,
      idleTimeoutMs: 0,
      heartbeatIntervalMs: 20,
    });
    const sleep = pool.task<number, string>({ module: fixture('echo.mjs'), exportName: 'sleep' });
    const retired = new Promise<void>((resolve) => {
      pool.onEvent((event) => {
        if (event.type === 'pool.scaled' && event.reason === 'idle' && event.threads === 1) resolve();
      });
    });
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => pool.run(sleep, 100)));
    expect(outcomes.every((outcome) => outcome.kind === 'succeeded')).toBe(true);
    const scaledUp = events.filter((event) => event.type === 'pool.scaled' && event.reason === 'demand');
    expect(scaledUp).toEqual([{ type: 'pool.scaled', threads: 3, previous: 1, reason: 'demand' }]);
    await retired;
    await fullStrength(pool, 1);
  });
});
