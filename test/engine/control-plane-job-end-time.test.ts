import { describe, expect, it } from 'vitest';
import { jobLine } from '../../src/cli/views/attempts.js';
import { colors } from '../../src/cli/views/format.js';
import type { JobId } from '../../src/core/ids.js';
import { ControlPlane } from '../../src/engine/control-plane.js';
import type { RunEvent } from '../../src/engine/events.js';
import { jobDurationMs } from '../../src/store/job-duration.js';
import { ManualClock, settle } from '../core/manual-clock.js';
import { closedAfterEach, oneJobWorkflow, planesOnSqlite, runRequest } from './plane-fixtures.js';
import { accepting, type Lease, ScriptedRunner } from './scripted-runner.js';

const identity = { runnerId: 'rnr_1', transport: 'websocket' };
const startedAt = 1_700_000_000_000;
const leaseTtlMs = 60_000;

/** What the runner sends of the job's one step and its end, at these times by its own clock. */
function stepThenEnd(runner: ScriptedRunner, lease: Lease, stepEnd: number, end: number) {
  const { jobId, fencingToken } = lease;
  runner.send({ type: 'step.started', jobId, fencingToken, index: 0, name: 's', at: startedAt + 100 });
  const step = { index: 0, name: 's', outcome: 'success', finishedAt: stepEnd } as const;
  runner.send({ type: 'step.completed', jobId, fencingToken, step: { ...step, conclusion: 'success' } });
  runner.complete(lease, 'succeeded', {}, end);
}

describe("ControlPlane: a job's end is when its runner says it ended", () => {
  const openPlane = planesOnSqlite('job-end-time');
  const closing = closedAfterEach();

  /**
   * A control plane leases the job of a one-job run at `startedAt` and stops; one started on the same
   * store `restartedAfterMs` later by its clock takes the run over, holding the runner's lease. The
   * runner ended the job meanwhile: it comes back with the job's steps and its completion, in doubt,
   * ended `endedAfterMs` after the start by the runner's clock.
   */
  async function endedWhileTheServerWasDown(endedAfterMs: number, restartedAfterMs = 63_000) {
    const { plane: before, stores } = openPlane({ clock: new ManualClock(startedAt), leaseTtlMs });
    const first = new ScriptedRunner(before, accepting, { identity, completionsStored: true });
    const workflow = oneJobWorkflow();
    const { id: runId } = await before.startRun(workflow, runRequest);
    await settle();
    const lease = first.lease();
    first.end.close('the server stopped');

    const clock = new ManualClock(startedAt + restartedAfterMs);
    const plane = closing(new ControlPlane(stores, { clock, leaseTtlMs }));
    const events: RunEvent[] = [];
    plane.onEvent((event) => events.push(event));
    const record = await stores.runs.getRun(runId);
    if (record === undefined) throw new Error('no run');
    const jobs = await stores.runs.listJobs(runId);
    const handle = plane.continueRun('resume', workflow, runRequest, record, jobs, undefined, {
      holdLeases: true,
    });
    await settle();
    const { jobId, fencingToken } = lease;
    const back = new ScriptedRunner(plane, accepting, {
      identity,
      resume: [{ jobId, fencingToken, completed: true }],
      completionsStored: true,
    });
    await settle();
    stepThenEnd(back, lease, startedAt + endedAfterMs - 50, startedAt + endedAfterMs);
    expect(await handle.done).toBe('succeeded');
    expect(back.of('error')).toEqual([]);
    const [job] = await stores.runs.listJobs(runId);
    const run = await stores.runs.getRun(runId);
    const completed = events.find((event) => event.type === 'run.completed');
    return { job, run, completed, jobId: jobId as JobId };
  }

  it('stores the end the runner reported, not when the restarted control plane received it', async () => {
    const { job, run, completed } = await endedWhileTheServerWasDown(25_600);
    expect(job).toMatchObject({ status: 'succeeded', startedAt, finishedAt: startedAt + 25_600 });
    expect(run?.finishedAt).toBe(startedAt + 25_600);
    expect(completed).toMatchObject({ durationMs: 25_600, jobs: [{ durationMs: 25_600 }] });
    // What `valkyrie show` prints of it (locally and with --server alike: jobLine, jobDurationMs).
    if (job === undefined) throw new Error('no job');
    expect(jobLine(job, jobDurationMs(job, []), colors(false))).toContain('25.6s');
  });

  it('keeps an end reported by a clock behind this one no earlier than the job started here', async () => {
    const { job, completed } = await endedWhileTheServerWasDown(-5_000);
    expect(job?.finishedAt).toBe(startedAt);
    expect(completed).toMatchObject({ durationMs: 0 });
  });

  it('keeps an end reported by a clock ahead of this one no later than it was received', async () => {
    const { job, run } = await endedWhileTheServerWasDown(90_000, 63_000);
    expect(job?.finishedAt).toBe(startedAt + 63_000);
    expect(run?.finishedAt).toBe(startedAt + 63_000);
  });
});
