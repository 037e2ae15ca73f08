import { describe, expect, it } from 'vitest';
import type { ThreadPoolOptions } from '../../../src/executors/thread/config.js';
import type { WorkerLossReason } from '../../../src/executors/thread/outcome.js';
import { fixture, fullStrength, openPool } from './helpers.js';

/**
 * Several tasks per worker, so the faulty task's worker is sent neighbours in the same message:
 * the worker runs them after it, and the faulty one stops the thread first. Those neighbours never
 * began, so they must run elsewhere, on their first and only run (start-gate.ts).
 */
const sharedWorkers: ThreadPoolOptions = {
  minThreads: 2,
  maxThreads: 2,
  concurrentTasksPerWorker: 8,
  heartbeatIntervalMs: 100,
  maxMissedHeartbeats: 5,
};

async function expectNeighboursRunOnce(
  exportName: string,
  reason: WorkerLossReason,
  options: ThreadPoolOptions = sharedWorkers,
): Promise<void> {
  const { pool } = await openPool(options);
  const faulty = pool.task({ module: fixture('faults.mjs'), exportName });
  const tally = pool.task<{ runs: SharedArrayBuffer; index: number }, number>({
    module: fixture('echo.mjs'),
    exportName: 'tally',
  });
  const neighbours = 12;
  const runs = new SharedArrayBuffer(4 * neighbours);
  const bad = pool.run(faulty, undefined);
  const others = await Promise.all(
    Array.from({ length: neighbours }, (_, index) => pool.run(tally, { runs, index })),
  );
  expect(others).toEqual(Array.from({ length: neighbours }, (_, i) => ({ kind: 'succeeded', output: i })));
  await expect(bad).resolves.toMatchObject({ kind: 'worker_lost', reason });
  expect([...new Int32Array(runs)]).toEqual(Array.from({ length: neighbours }, () => 1));
  await fullStrength(pool, 2);
}

describe('ThreadPool: tasks sent behind one that stops its worker never began, and run elsewhere once', () => {
  it('a busy loop', async () => {
    await expectNeighboursRunOnce('busyLoop', 'unresponsive');
  });

  it('process.exit', async () => {
    await expectNeighboursRunOnce('exitsAtOnce', 'exited');
  });

  it('an allocation past resourceLimits', async () => {
    await expectNeighboursRunOnce('outOfMemoryAtOnce', 'resource_limits', {
      ...sharedWorkers,
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
      // The allocation, with its garbage collections, can miss half a second of heartbeats on a
      // loaded machine (it was told unresponsive once in CI): this case is about the limit, not them.
      heartbeatIntervalMs: 1_000,
      maxMissedHeartbeats: 10,
    });
  });
});

describe('ThreadPool: a task sent to wait for a slot that is free when it arrives', () => {
  it('is timed from its start even when it blocks the thread at once', async () => {
    // One slot: the synchronous task takes it and frees it within the same message, so the busy
    // loop, sent to wait, finds it free. Heartbeats are far off: only its own timeout can end it.
    const { pool } = await openPool({
      minThreads: 1,
      maxThreads: 1,
      concurrentTasksPerWorker: 1,
      heartbeatIntervalMs: 60_000,
      abortGraceMs: 100,
    });
    const syncEcho = pool.task<number, number>({ module: fixture('echo.mjs'), exportName: 'syncEcho' });
    const busyLoop = pool.task<boolean, string>({ module: fixture('faults.mjs'), exportName: 'busyLoopIf' });
    // Both task types loaded first: a task whose module is loading waits, which would hide this.
    await pool.run(syncEcho, 0);
    await expect(pool.run(busyLoop, false)).resolves.toEqual({ kind: 'succeeded', output: 'did not spin' });
    const first = pool.run(syncEcho, 1);
    const blocked = pool.run(busyLoop, true, { timeoutMs: 200 });
    await expect(first).resolves.toEqual({ kind: 'succeeded', output: 1 });
    await expect(blocked).resolves.toEqual({ kind: 'timed_out', timeoutMs: 200 });
    await fullStrength(pool, 1);
  }, 5_000);
});
