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

/** Runner rnr_1 on a new session, back with the job it ended while cut off: its completion in doubt. */
function backWithItsEnd(plane: ControlPlane, { jobId, fencingToken }: Lease): ScriptedRunner {
  const resume = [{ jobId, fencingToken, completed: true }];
  return new ScriptedRunner(plane, accepting, { identity, resume, completionsStored: true });
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
    const back = backWithItsEnd(plane, lease);
    await settle();
    stepThenEnd(back, lease, startedAt + endedAfterMs - 50, startedAt + endedAfterMs);
    expect(await handle.done).toBe('succeeded');
    expect(back.of('error')).toEqual([]);
    const [job] = await stores.runs.listJobs(runId);
    const run = await stores.runs.getRun(runId);
    const completed = events.find((event) => event.type === 'run.completed');
    return { job, run, completed };
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

  it('ends a retried attempt reported late when its runner says, and counts its retry delay from when that arrived', async () => {
    const clock = new ManualClock(startedAt);
    const { plane, stores } = openPlane({ clock, leaseTtlMs });
    const first = new ScriptedRunner(plane, accepting, { identity, completionsStored: true });
    const retried = oneJobWorkflow('    retry: {max-attempts: 2, delay: 10s}\n');
    const { id: runId } = await plane.startRun(retried, runRequest);
    await settle();
    const lease = first.lease();
    first.end.close('network dropped');
    await clock.advance(30_000);
    const back = backWithItsEnd(plane, lease);
    await settle();
    back.complete(lease, 'failed', {}, startedAt + 5_000);
    await settle(20);
    const [ended] = await stores.runs.listJobAttempts(lease.jobId as JobId);
    expect(ended).toMatchObject({ attempt: 1, status: 'failed', startedAt, finishedAt: startedAt + 5_000 });
    const [job] = await stores.runs.listJobs(runId);
    expect(job).toMatchObject({ attempt: 2, status: 'queued', notBefore: startedAt + 40_000 });
  });
});
