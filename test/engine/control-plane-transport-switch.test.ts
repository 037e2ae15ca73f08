import { describe, expect, it } from 'vitest';
import { ManualClock, settle } from '../core/manual-clock.js';
import { jobsWorkflow, oneJobWorkflow, planesOnSqlite, runRequest as request } from './plane-fixtures.js';
import { accepting, ScriptedRunner } from './scripted-runner.js';

const identity = { runnerId: 'rnr_1', transport: 'websocket' };

/**
 * A runner that switches transport registers on its new connection before its old one is seen
 * closed: the old session is superseded, not away. Its leases move to the new session by the resume
 * (a stop sent again), even for a job being stopped, and nothing is offered before `registered`.
 */
describe('ControlPlane: a transport switch while a job is being stopped', () => {
  const openPlane = planesOnSqlite('transport-switch');

  it("keeps the job's lease: the new connection is told to stop, and the job ends as the runner reports", async () => {
    const { plane: p, stores } = openPlane({ clock: new ManualClock(), leaseTtlMs: 60_000 });
    const old = new ScriptedRunner(p, accepting, { identity });
    const handle = await p.startRun(oneJobWorkflow(), request);
    await settle();
    const { jobId, fencingToken } = old.lease();
    handle.cancel(false);
    await settle();
    expect(old.of('cancel')).toHaveLength(1);
    // As RunnerAgent.registerAgain: resume the job, then send the completion that may have been lost
    // (the step ended just as the cancel came).
    const next = new ScriptedRunner(p, accepting, { identity, resume: [{ jobId, fencingToken }] });
    const outcome = { kind: 'succeeded' } as const;
    next.send({ type: 'job.completed', jobId, fencingToken, outcome, outputs: {}, at: 1 });
    await settle();
    expect(next.received.map((m) => m.type)).toEqual(['registered', 'cancel']);
    await handle.done;
    expect((await stores.runs.listJobs(handle.id))[0]).toMatchObject({ status: 'succeeded' });
    expect(await stores.staleWrites.list({})).toEqual([]);
  });

  it('offers nothing before registered, and never more jobs than the runner takes', async () => {
    const { plane: p } = openPlane({ clock: new ManualClock(), leaseTtlMs: 60_000 });
    const old = new ScriptedRunner(p, accepting, { identity, capacity: 2 });
    const withCleanup = jobsWorkflow(
      '  j:\n    runs-on: x\n    steps: [{ run: "true" }]\n' +
        '  c1:\n    needs: j\n    if: always()\n    runs-on: x\n    steps: [{ run: "true" }]\n' +
        '  c2:\n    needs: j\n    if: always()\n    runs-on: x\n    steps: [{ run: "true" }]\n',
    );
    const cancelled = await p.startRun(withCleanup, request);
    await settle();
    await p.startRun(oneJobWorkflow(), request);
    await settle();
    const leases = old.of('lease');
    expect(leases).toHaveLength(2);
    cancelled.cancel(false);
    await settle();
    expect(old.of('cancel')).toHaveLength(1);
    const resume = leases.map(({ jobId, fencingToken }) => ({ jobId, fencingToken }));
    const next = new ScriptedRunner(p, accepting, { identity, capacity: 2, resume });
    await settle();
    expect(next.received.map((m) => m.type)).toEqual(['registered', 'cancel']);
    expect(p.runners()).toMatchObject([{ id: 'rnr_1', connected: true, running: 2 }]);
  });
});
