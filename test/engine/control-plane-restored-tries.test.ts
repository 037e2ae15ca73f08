import { describe, expect, it } from 'vitest';
import type { RunId } from '../../src/core/ids.js';
import type { RunHandle } from '../../src/engine/active-run.js';
import { ControlPlane } from '../../src/engine/control-plane.js';
import type { Stores } from '../../src/store/store.js';
import { ManualClock } from '../core/manual-clock.js';
import { eventually, oneJobWorkflow, planesOnSqlite, runRequest } from './plane-fixtures.js';
import { accepting, type Lease, ScriptedRunner } from './scripted-runner.js';

const workflow = oneJobWorkflow('    retry: { max-attempts: 2, delay: 0 }\n');

/**
 * A job's retry budget survives a restore from the store: a re-run gives it its whole budget again,
 * and an attempt requeued after its runner was lost uses up none, also once another process (a
 * `valkyrie resume`, a replica's takeover) has read the run back. Each process here is a control
 * plane on one SQLite file; one that "dies" is left with its clock stopped and no runner.
 */
describe('ControlPlane: a restored job keeps its retries', () => {
  const open = planesOnSqlite('restored-tries');

  /** A control plane that continues the run from what the store holds, `how` as given. */
  async function continued(stores: Stores, runId: RunId, how: 'resume' | 'rerun') {
    const clock = new ManualClock(Date.now());
    const plane = new ControlPlane(stores, { clock });
    const record = await stores.runs.getRun(runId);
    if (record === undefined) throw new Error('no run');
    const jobs = await stores.runs.listJobs(runId);
    return { plane, clock, handle: plane.continueRun(how, workflow, runRequest, record, jobs) };
  }

  async function storedJob(stores: Stores, runId: RunId) {
    const [job] = await stores.runs.listJobs(runId);
    return job;
  }

  /**
   * Resumes the run, whose job waits queued as `attempt`, and fails that attempt: it must be retried
   * (a second lease), and the run succeeds once the retry does.
   */
  async function failedOnceAfterResume(stores: Stores, runId: RunId, attempt: number): Promise<void> {
    const { plane, clock, handle } = await continued(stores, runId, 'resume');
    const runner = new ScriptedRunner(plane, accepting);
    const settled = settledOf(handle);
    await eventually(`attempt ${attempt} leased`, async () => {
      await clock.advance(200);
      return runner.of('lease').length === 1;
    });
    runner.complete(runner.of('lease')[0] as Lease, 'failed');
    await eventually(`attempt ${attempt} retried`, async () => {
      await clock.advance(200);
      if (settled.result !== undefined) throw new Error(`the run ended ${settled.result}, not retried`);
      return runner.of('lease').length === 2;
    });
    runner.complete(runner.of('lease')[1] as Lease);
    expect(await handle.done).toBe('succeeded');
    expect(await storedJob(stores, runId)).toMatchObject({ status: 'succeeded', attempt: attempt + 1 });
  }

  it("after a re-run, restored while the re-run's attempt waits", async () => {
    // The first run: both attempts fail, so the job has used up its retries.
    const clock = new ManualClock(Date.now());
    const { plane, stores } = open({ clock });
    const runner = new ScriptedRunner(plane, accepting);
    const first = await plane.startRun(workflow, runRequest);
    for (const lease of [1, 2]) {
      await eventually(`attempt ${lease} leased`, async () => {
        await clock.advance(200);
        return runner.of('lease').length === lease;
      });
      runner.complete(runner.of('lease')[lease - 1] as Lease, 'failed');
    }
    expect(await first.done).toBe('failed');
    // A re-run makes attempt 3, which counts as the first try again; its process dies before any
    // runner takes it.
    const rerun = await continued(stores, first.id, 'rerun');
    rerun.handle.done.catch(() => undefined);
    await eventually('attempt 3 stored queued', async () => {
      const job = await storedJob(stores, first.id);
      return job?.status === 'queued' && job.attempt === 3;
    });
    expect(await storedJob(stores, first.id)).toMatchObject({ triesFrom: 3 });
    await failedOnceAfterResume(stores, first.id, 3);
  });

  it('after a requeue of an attempt whose runner was lost, restored while the requeued one waits', async () => {
    // The first process dies while attempt 1 runs.
    const { plane: dead, stores } = open({ clock: new ManualClock() });
    const first = new ScriptedRunner(dead, accepting);
    const run = await dead.startRun(workflow, runRequest);
    run.done.catch(() => undefined);
    await eventually('attempt 1 stored running', async () => {
      return first.of('lease').length === 1 && (await storedJob(stores, run.id))?.status === 'running';
    });
    // A second one finds it lost and requeues it as attempt 2, which uses up no retry; it dies too
    // before any runner takes that.
    const requeued = await continued(stores, run.id, 'resume');
    requeued.handle.done.catch(() => undefined);
    await eventually('attempt 2 stored queued', async () => {
      const job = await storedJob(stores, run.id);
      return job?.status === 'queued' && job.attempt === 2;
    });
    expect(await storedJob(stores, run.id)).toMatchObject({ triesFrom: 2 });
    await failedOnceAfterResume(stores, run.id, 2);
  });
});

/** The run's result once its handle has settled; undefined before. */
function settledOf(handle: RunHandle): { result?: string } {
  const settled: { result?: string } = {};
  handle.done.then(
    (status) => {
      settled.result = status;
    },
    (error: unknown) => {
      settled.result = `with an error: ${String(error)}`;
    },
  );
  return settled;
}
