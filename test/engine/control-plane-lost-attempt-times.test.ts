import { describe, expect, it } from 'vitest';
import { asJobId } from '../../src/core/ids.js';
import type { Workflow } from '../../src/workflow/model.js';
import { ManualClock, settle } from '../core/manual-clock.js';
import { oneJobWorkflow as oneJob, planesOnSqlite, runRequest as request } from './plane-fixtures.js';
import { accepting, ScriptedRunner } from './scripted-runner.js';

const identity = { runnerId: 'rnr_1', transport: 'websocket' };
const leaseTtlMs = 15_000;

/**
 * When the attempt of a job whose runner went away ends: when its connection closed, the last moment
 * the runner was known to run it — not when the control plane gave up on it (its held lease's expiry,
 * a TTL later, or the runner's return without it). What the loss does to the job happens then.
 */
describe('ControlPlane: the end of an attempt whose runner went away', () => {
  const openPlane = planesOnSqlite('lost-attempt-times');
  function plane() {
    const clock = new ManualClock();
    return { ...openPlane({ clock, leaseTtlMs }), clock };
  }

  async function runnerClosedMidStep(workflow: Workflow) {
    const opened = plane();
    const { plane: p, clock } = opened;
    const killed = new ScriptedRunner(p, accepting, { identity });
    const handle = await p.startRun(workflow, request);
    await settle();
    const { jobId, fencingToken } = killed.lease();
    const leaseExpiresAt = clock.now() + leaseTtlMs;
    killed.send({ type: 'step.started', jobId, fencingToken, index: 0, name: 'tick', at: clock.now() });
    await clock.advance(2_000);
    killed.end.close('connection reset');
    const closedAt = clock.now();
    return { ...opened, handle, jobId: asJobId(jobId), closedAt, leaseExpiresAt };
  }

  it('requeued at the lease expiry, the lost attempt and its step ended when the connection closed', async () => {
    const { stores, clock, handle, jobId, closedAt, leaseExpiresAt } = await runnerClosedMidStep(oneJob());
    await clock.advance(leaseTtlMs);
    const [attempt] = await stores.runs.listJobAttempts(jobId);
    expect(attempt).toMatchObject({ attempt: 1, status: 'runner_lost', finishedAt: closedAt });
    const [step] = await stores.runs.listSteps(jobId);
    expect(step).toMatchObject({ conclusion: 'cancelled', finishedAt: closedAt });
    const [job] = await stores.runs.listJobs(handle.id);
    expect(job).toMatchObject({ status: 'queued', attempt: 2, queuedAt: leaseExpiresAt });
    handle.cancel(false);
  });

  it('with `on-runner-lost: fail`, the job ended failed when the connection closed', async () => {
    const { stores, clock, handle, jobId, closedAt } = await runnerClosedMidStep(
      oneJob('    on-runner-lost: fail\n'),
    );
    await clock.advance(leaseTtlMs);
    expect(await handle.done).toBe('failed');
    const [job] = await stores.runs.listJobs(handle.id);
    expect(job).toMatchObject({ status: 'failed', finishedAt: closedAt });
    const [step] = await stores.runs.listSteps(jobId);
    expect(step).toMatchObject({ conclusion: 'cancelled', finishedAt: closedAt });
  });

  it('a runner back without the job lost it when its earlier connection closed', async () => {
    const { plane: p, stores, clock, handle, jobId, closedAt } = await runnerClosedMidStep(oneJob());
    await clock.advance(5_000);
    new ScriptedRunner(p, () => {}, { identity });
    await settle();
    const [attempt] = await stores.runs.listJobAttempts(jobId);
    expect(attempt).toMatchObject({ status: 'runner_lost', finishedAt: closedAt });
    expect(attempt?.reason).toContain('reconnected without the job');
    handle.cancel(false);
  });
});
