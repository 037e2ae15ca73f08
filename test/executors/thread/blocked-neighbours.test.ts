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
    });
  });
});
