import { describe, expect, it } from 'vitest';
import type { ThreadPoolOptions } from '../../../src/executors/thread/config.js';
import type { TaskOutcome, WorkerLossReason } from '../../../src/executors/thread/outcome.js';
import type { ThreadPool } from '../../../src/executors/thread/thread-pool.js';
import { fixture, fullStrength, openPool } from './helpers.js';

/**
 * A worker that dies right after a task on it finished must not take that task's result with it:
 * the result was already decided in the worker, so the pool reports it as succeeded, and the task
 * that ended the worker is lost once (not put back in line as if it had never started).
 *
 * One worker with one slot: the pool sends the finishing task and the faulty one in one message,
 * and the worker starts the faulty one in the same turn of its event loop as the first one ends.
 * Each round first runs both task types unarmed on the fresh worker, so neither waits for its
 * module to load (which would let the first result out before the fault, hiding it).
 */
const oneSlot: ThreadPoolOptions = { minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 1 };

interface Round {
  readonly first: TaskOutcome;
  readonly faulty: TaskOutcome;
}

async function roundsOf(
  pool: ThreadPool,
  rounds: number,
  faultyExport: string,
  firstExport: 'default' | 'syncDouble',
  faultyTimeoutMs?: number,
): Promise<Round[]> {
  const faulty = pool.task<boolean, string>({
    module: fixture('armed-faults.mjs'),
    exportName: faultyExport,
  });
  const first = pool.task<number, number>({ module: fixture('echo.mjs'), exportName: firstExport });
  const results: Round[] = [];
  for (let i = 0; i < rounds; i++) {
    await fullStrength(pool, 1);
    // Both modules loaded in the fresh worker, so nothing waits for an import below.
    await Promise.all([pool.run(first, -1), pool.run(faulty, false)]);
    const options = faultyTimeoutMs === undefined ? {} : { timeoutMs: faultyTimeoutMs };
    const [firstOutcome, faultyOutcome] = await Promise.all([
      pool.run(first, i),
      pool.run(faulty, true, options),
    ]);
    results.push({ first: firstOutcome, faulty: faultyOutcome });
  }
  return results;
}

async function expectResultsKept(
  options: ThreadPoolOptions,
  rounds: number,
  faultyExport: string,
  expectedFaulty: (outcome: TaskOutcome) => void,
  firstExport: 'default' | 'syncDouble' = 'default',
  faultyTimeoutMs?: number,
): Promise<void> {
  const { pool, events } = await openPool(options);
  const results = await roundsOf(pool, rounds, faultyExport, firstExport, faultyTimeoutMs);
  const expectedOutput = (i: number): number => (firstExport === 'syncDouble' ? 2 * i : i);
  const lostResults = results.filter(
    (round, i) => round.first.kind !== 'succeeded' || round.first.output !== expectedOutput(i),
  ).length;
  // One worker per round: the faulty task ran once, not again on the replacement.
  const workersLost = events.filter((event) => event.type === 'worker.replaced').length;
  expect({ lostResults, workersLost }).toEqual({ lostResults: 0, workersLost: rounds });
  for (const round of results) expectedFaulty(round.faulty);
}

function lostWith(reason: WorkerLossReason): (outcome: TaskOutcome) => void {
  return (outcome) => expect(outcome).toMatchObject({ kind: 'worker_lost', reason });
}

describe('ThreadPool: a result is kept when the next task on its worker ends the worker', () => {
  it('process.exit() at the start of the next task (async first task)', async () => {
    await expectResultsKept(oneSlot, 10, 'exits', lostWith('exited'));
  });

  it('process.exit() at the start of the next task (synchronous first task)', async () => {
    await expectResultsKept(oneSlot, 8, 'exits', lostWith('exited'), 'syncDouble');
  });

  it('process.exit() in a task started together with one that finished synchronously', async () => {
    await expectResultsKept(
      { ...oneSlot, concurrentTasksPerWorker: 2 },
      8,
      'exits',
      lostWith('exited'),
      'syncDouble',
    );
  });

  it('process.exit() after an await, in a task running beside the one that finished', async () => {
    await expectResultsKept(
      { ...oneSlot, concurrentTasksPerWorker: 2 },
      8,
      'exitsAfterAwait',
      lostWith('exited'),
    );
  });

  it('a busy loop in the next task (unresponsive worker)', async () => {
    await expectResultsKept(
      { ...oneSlot, heartbeatIntervalMs: 50, maxMissedHeartbeats: 3 },
      10,
      'busyLoop',
      lostWith('unresponsive'),
    );
  });

  it('a busy loop in the next task that ignores its timeout (worker terminated)', async () => {
    await expectResultsKept(
      { ...oneSlot, abortGraceMs: 50, heartbeatIntervalMs: 500, maxMissedHeartbeats: 6 },
      5,
      'busyLoop',
      (outcome) => expect(outcome).toEqual({ kind: 'timed_out', timeoutMs: 50 }),
      'default',
      50,
    );
  }, 60_000);

  it('the next task runs past resourceLimits', async () => {
    await expectResultsKept(
      { ...oneSlot, resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 } },
      5,
      'outOfMemory',
      lostWith('resource_limits'),
    );
  });
});
