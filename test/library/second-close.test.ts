import { describe, expect, it } from 'vitest';
import { type Clock, systemClock } from '../../src/core/clock.js';
import { ThreadPool } from '../../src/executors/thread/thread-pool.js';
import { engineStoreKinds, openOn } from './durable-stores.js';
import { afterTest, fixture, until } from './helpers.js';

/**
 * A second close() with a shorter deadline takes effect, and every call's promise resolves once the
 * engine (or pool) is closed. Before, a second call returned the first call's promise and dropped its
 * options: close() then close({ deadlineMs: 50 }) waited as long as the first, here a minute.
 */

/** `promise`, or 'still waiting' after `ms`: a close that ignored its deadline fails fast. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | 'still waiting'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still waiting'>((resolve) => {
    timer = setTimeout(() => resolve('still waiting'), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

for (const [name, makeStore, skip] of engineStoreKinds) {
  describe.skipIf(skip !== undefined)(`a second engine.close(), ${name} store`, () => {
    async function engineWithRunningJob() {
      const engine = await openOn(await makeStore(), { maxInFlight: 1 });
      const sleep = engine.task<number, string>('sleep', { module: fixture(), exportName: 'sleep' });
      let started = 0;
      engine.onEvent((event) => {
        if (event.type === 'job.started') started++;
      });
      const running = engine.enqueue(sleep, 60_000);
      await until(() => started > 0, 'the job to start');
      return { engine, sleep, running };
    }

    it('with a shorter deadline ends the close then, and both calls resolve', async () => {
      const { engine, running } = await engineWithRunningJob();
      const first = engine.close();
      const second = engine.close({ deadlineMs: 50 });
      expect(await within(Promise.all([first, second]), 5_000)).not.toBe('still waiting');
      expect(await running.result).toMatchObject({ kind: 'cancelled' });
    });

    it('with a longer deadline, or none, does not put the first one off; bad options reject', async () => {
      const { engine, running } = await engineWithRunningJob();
      const first = engine.close({ deadlineMs: 50 });
      const second = engine.close();
      const third = engine.close({ deadlineMs: 60_000 });
      await expect(engine.close({ deadline: 1 } as never)).rejects.toMatchObject({
        code: 'VK_ENGINE_CONFIG',
      });
      expect(await within(Promise.all([first, second, third]), 5_000)).not.toBe('still waiting');
      expect(await running.result).toMatchObject({ kind: 'cancelled' });
    });

    // A close() once closed has nothing to wait for: a timer it armed would be a deadline for nothing
    // (unref'd, it would not hold the process, but a caller's fake clock would see it).
    it.each(['close()', 'close({ deadlineMs: 50 })', 'destroy()'] as const)(
      'once closed by %s, resolves and arms no timer, whatever its deadline',
      async (closedBy) => {
        const armed: number[] = [];
        const clock: Clock = {
          now: () => systemClock.now(),
          setTimer: (callback, delayMs, options) => {
            armed.push(delayMs);
            return systemClock.setTimer(callback, delayMs, options);
          },
        };
        const engine = await openOn(await makeStore(), { clock, maxInFlight: 1 });
        const sleep = engine.task<number, string>('sleep', { module: fixture(), exportName: 'sleep' });
        const running = engine.enqueue(sleep, 60_000);
        const waiting = engine.enqueue(sleep, 60_000);
        if (closedBy === 'close()') {
          // Without a deadline close() waits for every job: these end first.
          await until(() => engine.stats().inFlight > 0, 'the job to start');
          await Promise.all([engine.cancel(running), engine.cancel(waiting)]);
          await engine.close();
        } else if (closedBy === 'destroy()') await engine.destroy();
        else await engine.close({ deadlineMs: 50 });
        expect(await waiting.result).toMatchObject({ kind: 'cancelled' });
        armed.length = 0;
        await engine.close({ deadlineMs: 60_000 });
        await engine.close({ deadlineMs: 1 });
        await engine[Symbol.asyncDispose]();
        expect(armed).toEqual([]);
      },
    );
  });
}

describe('a second ThreadPool.close()', () => {
  it('with a shorter deadline ends the close then, and both calls resolve', async () => {
    const pool = new ThreadPool({ minThreads: 1, maxThreads: 1 });
    afterTest(() => pool.destroy());
    const sleep = pool.task<number, string>({ module: fixture(), exportName: 'sleep' });
    const running = pool.run(sleep, 60_000);
    const first = pool.close();
    const second = pool.close({ deadlineMs: 50 });
    expect(await within(Promise.all([first, second]), 5_000)).not.toBe('still waiting');
    expect(await running).toEqual({ kind: 'cancelled', reason: 'the thread pool was destroyed' });
    await expect(pool.close(5_000 as never)).rejects.toMatchObject({ code: 'VK_POOL_CONFIG' });
  });
});
