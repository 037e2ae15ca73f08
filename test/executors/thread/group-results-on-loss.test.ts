import { describe, expect, it } from 'vitest';
import type { ThreadPoolOptions } from '../../../src/executors/thread/config.js';
import type { TaskOutcome, WorkerLossReason } from '../../../src/executors/thread/outcome.js';
import { fixture, fullStrength, openPool } from './helpers.js';

/**
 * Tasks posted to a worker in one message start one after another in the same turn of its event
 * loop. When the last of them blocks that loop (a busy loop, an allocation past resourceLimits),
 * the pool terminates the worker; the tasks that had already finished before it must keep their
 * real results, and only the blocking one is lost.
 *
 * One worker, four slots, so the pool sends all four tasks at once and the worker starts them all
 * from that one message. Each round first runs both task types unarmed on the fresh worker, so
 * no task waits for its module to load (which would let results out before the fault).
 */
const fourSlots: ThreadPoolOptions = {
  minThreads: 1,
  maxThreads: 1,
  concurrentTasksPerWorker: 4,
  heartbeatIntervalMs: 50,
  maxMissedHeartbeats: 3,
};

interface GroupRound {
  readonly finished: TaskOutcome[];
  readonly faulty: TaskOutcome;
}

async function groupRounds(
  options: ThreadPoolOptions,
  rounds: number,
  finishedExport: 'syncDouble' | 'default',
  faultyExport: string,
): Promise<{ results: GroupRound[]; workersReplaced: number }> {
  const { pool, events } = await openPool(options);
  const finished = pool.task<number, number>({ module: fixture('echo.mjs'), exportName: finishedExport });
  const faulty = pool.task<boolean, string>({
    module: fixture('armed-faults.mjs'),
    exportName: faultyExport,
  });
  const results: GroupRound[] = [];
  for (let round = 0; round < rounds; round++) {
    await fullStrength(pool, 1);
    await Promise.all([pool.run(finished, -1), pool.run(faulty, false)]);
    const group = [
      pool.run(finished, 10 * round),
      pool.run(finished, 10 * round + 1),
      pool.run(finished, 10 * round + 2),
    ];
    const faultyOutcome = pool.run(faulty, true);
    results.push({ finished: await Promise.all(group), faulty: await faultyOutcome });
  }
  const workersReplaced = events.filter((event) => event.type === 'worker.replaced').length;
  return { results, workersReplaced };
}

async function expectGroupResultsKept(
  options: ThreadPoolOptions,
  rounds: number,
  finishedExport: 'syncDouble' | 'default',
  faultyExport: string,
  lossReason: WorkerLossReason,
): Promise<void> {
  const { results, workersReplaced } = await groupRounds(options, rounds, finishedExport, faultyExport);
  const expected = (value: number): number => (finishedExport === 'syncDouble' ? 2 * value : value);
  const wrong = results.flatMap((round, i) =>
    round.finished.filter(
      (outcome, k) => outcome.kind !== 'succeeded' || outcome.output !== expected(10 * i + k),
    ),
  );
  expect({ wrong, workersReplaced }).toEqual({ wrong: [], workersReplaced: rounds });
  for (const round of results)
    expect(round.faulty).toMatchObject({ kind: 'worker_lost', reason: lossReason });
}

describe('ThreadPool: results of tasks started in one group survive a task in it that blocks the worker', () => {
  it('synchronous tasks, then a busy loop (unresponsive worker)', async () => {
    await expectGroupResultsKept(fourSlots, 4, 'syncDouble', 'busyLoop', 'unresponsive');
  });

  it('synchronous tasks, then an allocation past resourceLimits', async () => {
    await expectGroupResultsKept(
      {
        ...fourSlots,
        // Collecting near the limit stalls the thread; heartbeats must outlast that to see the overrun.
        heartbeatIntervalMs: 1_000,
        maxMissedHeartbeats: 10,
        resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
      },
      3,
      'syncDouble',
      'outOfMemory',
      'resource_limits',
    );
  });

  it('async tasks that end in the turn where a continuation beside them loops', async () => {
    await expectGroupResultsKept(fourSlots, 4, 'default', 'busyLoopAfterAwait', 'unresponsive');
  });
});

describe('ThreadPool: results too large for the journal are posted before the next task runs', () => {
  it('outputs past the journal size, then a busy loop', async () => {
    const { pool } = await openPool(fourSlots);
    const echo = pool.task<string, string>({ module: fixture('echo.mjs'), exportName: 'syncEcho' });
    const faulty = pool.task<boolean, string>({
      module: fixture('armed-faults.mjs'),
      exportName: 'busyLoop',
    });
    await Promise.all([pool.run(echo, ''), pool.run(faulty, false)]);
    const large = ['a', 'b', 'c'].map((letter) => letter.repeat(50 * 1024));
    const group = large.map((input) => pool.run(echo, input));
    const faultyOutcome = pool.run(faulty, true);
    expect(await Promise.all(group)).toEqual(large.map((output) => ({ kind: 'succeeded', output })));
    expect(await faultyOutcome).toMatchObject({ kind: 'worker_lost', reason: 'unresponsive' });
  });
});
