import { describe, expect, it } from 'vitest';
import { ManualClock, settle } from '../core/manual-clock.js';
import { oneJobWorkflow as oneJob, planesOnSqlite, runRequest as request } from './plane-fixtures.js';
import { accepting, ScriptedRunner } from './scripted-runner.js';

const identity = { runnerId: 'rnr_1', transport: 'websocket' };
const leaseTtlMs = 15_000;

/**
 * A job whose runner's connection closed stays `running` while its lease is held for the runner to
 * come back (up to a lease TTL): ControlPlane.runnerAbsence tells the run view so, and when the job
 * goes on without it, and how.
 */
describe('ControlPlane.runnerAbsence', () => {
  const openPlane = planesOnSqlite('runner-absence');
  function plane() {
    const clock = new ManualClock();
    return { ...openPlane({ clock, leaseTtlMs }), clock };
  }

  it('tells since when the runner is gone and when its held lease requeues the job, until it is back', async () => {
    const { plane: p, clock } = plane();
    const killed = new ScriptedRunner(p, accepting, { identity });
    await p.startRun(oneJob(), request);
    await settle();
    const { jobId, fencingToken } = killed.lease();
    const grantedAt = clock.now();
    expect(p.runnerAbsence(jobId)).toBeUndefined();
    await clock.advance(2_000);
    killed.end.close('connection reset');
    const closedAt = clock.now();
    await clock.advance(3_000);
    expect(p.runnerAbsence(jobId)).toEqual({
      since: closedAt,
      leaseExpiresAt: grantedAt + leaseTtlMs,
      atExpiry: 'requeue',
    });
    const back = new ScriptedRunner(p, accepting, { identity, resume: [{ jobId, fencingToken }] });
    await settle();
    expect(back.of('error')).toEqual([]);
    expect(p.runnerAbsence(jobId)).toBeUndefined();
  });

  it('tells a job with `on-runner-lost: fail` fails then, and nothing once the lease expired', async () => {
    const { plane: p, clock } = plane();
    const killed = new ScriptedRunner(p, accepting, { identity });
    await p.startRun(oneJob('    on-runner-lost: fail\n'), request);
    await settle();
    const { jobId } = killed.lease();
    killed.end.close('connection reset');
    expect(p.runnerAbsence(jobId)).toMatchObject({ atExpiry: 'fail' });
    await clock.advance(leaseTtlMs);
    expect(p.runnerAbsence(jobId)).toBeUndefined();
  });

  it('tells nothing of a runner without identity: its job lost its runner when it left', async () => {
    const { plane: p } = plane();
    const killed = new ScriptedRunner(p, accepting);
    await p.startRun(oneJob(), request);
    await settle();
    const { jobId } = killed.lease();
    killed.end.close('connection reset');
    await settle();
    expect(p.runnerAbsence(jobId)).toBeUndefined();
  });
});
