import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jobIdFor } from '../../src/core/ids.js';
import { closeInterruptedSteps, whenLost } from '../../src/engine/run-ownership.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import { tempDir } from '../store/factories.js';

/**
 * A resume ends the attempts its dead process lost when their loss became evident: when that process's
 * next heartbeat (every 2 s) was due, or later when the job's own records say so — a job started after
 * that did not end the moment it started — and never after now.
 */
describe('whenLost', () => {
  let stores: Stores;
  let remove: () => Promise<void>;
  beforeEach(async () => {
    const dir = await tempDir();
    remove = dir.remove;
    stores = openSqliteStores(join(dir.dir, 'state.db'));
  });
  afterEach(async () => {
    await stores.close();
    await remove();
  });

  it("takes the later of the next heartbeat due and the attempt's last step or log line, never after now", async () => {
    const run = await stores.runs.createRun({ workflowName: 'w', workflowPath: 'w.yml', createdAt: 0 });
    const [logged, stepped, quiet, done, earlier] = [1, 2, 3, 4, 5].map((n) => jobIdFor(run.id, n)) as [
      ReturnType<typeof jobIdFor>,
      ReturnType<typeof jobIdFor>,
      ReturnType<typeof jobIdFor>,
      ReturnType<typeof jobIdFor>,
      ReturnType<typeof jobIdFor>,
    ];
    const job = (id: typeof logged, key: string) => ({
      id,
      runId: run.id,
      key,
      name: key,
      matrix: {},
      status: 'running' as const,
    });
    await stores.runs.addJobs([
      job(logged, 'a'),
      job(stepped, 'b'),
      job(quiet, 'c'),
      job(done, 'd'),
      job(earlier, 'e'),
    ]);
    for (const id of [logged, stepped, quiet, earlier]) await stores.runs.updateJob(id, { startedAt: 1_500 });
    await stores.runs.updateJob(done, { status: 'succeeded', startedAt: 100, finishedAt: 9_000 });
    // Attempt 2 of e is running; its attempt 1 logged late, which says nothing of attempt 2.
    await stores.runs.updateJob(earlier, { attempt: 2, status: 'running', startedAt: 1_600 });
    const line = (jobId: typeof logged, at: number, jobAttempt?: number) => ({
      runId: run.id,
      jobId,
      stepIndex: 0,
      stream: 'stdout' as const,
      at,
      text: 'tick',
      ...(jobAttempt === undefined ? {} : { jobAttempt }),
    });
    await stores.logs.append([line(logged, 2_400), line(logged, 3_700), line(earlier, 5_000, 1)]);
    await stores.runs.recordStep({
      jobId: stepped,
      index: 0,
      name: 's',
      startedAt: 1_500,
      finishedAt: 2_000,
      outcome: 'success',
      conclusion: 'success',
    });
    await stores.runs.recordStep({ jobId: stepped, index: 1, name: 't', startedAt: 2_900 });

    // The last beat at -1_000: the next was due at 1_000.
    const lost = await whenLost(stores, run.id, await stores.runs.listJobs(run.id), -1_000, 3_500);
    expect(Object.fromEntries(lost.seen)).toEqual({
      // Its last line came after now by its runner's clock: never later than now.
      [logged]: 3_500,
      [stepped]: 2_900,
      // Nothing after its start, which came after the last heartbeat.
      [quiet]: 1_500,
      [earlier]: 1_600,
    });
    // A job quiet since before its owner's last beat ended when the next beat was due: the process
    // was alive at the beat, and gone by the next.
    const beaten = await whenLost(stores, run.id, await stores.runs.listJobs(run.id), 1_600, 9_000);
    expect(beaten.seen.get(quiet)).toBe(3_600);
    expect(beaten.seen.get(logged)).toBe(3_700);

    await closeInterruptedSteps(stores, await stores.runs.listJobs(run.id), 3_500, lost);
    expect((await stores.runs.listSteps(stepped)).map((step) => step.finishedAt)).toEqual([2_000, 2_900]);
  });
});
