import { describe, expect, it } from 'vitest';
import { asJobId } from '../../src/core/ids.js';
import { ControlPlane } from '../../src/engine/control-plane.js';
import type { NeverHeldReport } from '../../src/engine/never-held-writes.js';
import { settle } from '../core/manual-clock.js';
import { closedAfterEach, jobsWorkflow, planesOnSqlite, runRequest } from './plane-fixtures.js';
import { accepting, ScriptedRunner } from './scripted-runner.js';

describe('a runner back after a restart, writing about a job it did not list while its resume is looked up', () => {
  const openPlane = planesOnSqlite('unlisted-resume');
  const closing = closedAfterEach();

  it('has that write stored as a stale write, not reported as about a job it never held', async () => {
    const { plane: first, stores } = openPlane();
    const identity = { runnerId: 'restarted' };
    const runner = new ScriptedRunner(first, accepting, { identity, capacity: 2 });
    const workflow = jobsWorkflow(
      '  a:\n    runs-on: x\n    steps: [{ run: "true" }]\n  b:\n    runs-on: x\n    steps: [{ run: "true" }]\n',
    );
    await first.startRun(workflow, runRequest);
    await settle();
    const [still, done] = runner.of('lease');
    if (!still || !done) throw new Error('two leases expected');
    // The server restarted: a new control plane on the same store knows none of the leases.
    const reports: NeverHeldReport[] = [];
    const second = closing(new ControlPlane(stores, { reportNeverHeld: (report) => reports.push(report) }));
    // As RunnerAgent.registerAgain: register listing the job still running, then the messages held
    // while cut off, here the completion of the other job (no longer in doubt, so not listed).
    const back = new ScriptedRunner(second, () => {}, {
      identity,
      capacity: 2,
      resume: [{ jobId: still.jobId, fencingToken: still.fencingToken }],
    });
    const { jobId, fencingToken } = done;
    back.send({
      type: 'job.completed',
      jobId,
      fencingToken,
      outcome: { kind: 'succeeded' },
      outputs: {},
      at: 1,
    });
    const storedWrites = () => stores.staleWrites.list({ jobId: asJobId(jobId) });
    for (let tries = 0; tries < 100 && (await storedWrites()).length === 0; tries++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await storedWrites()).toMatchObject([{ messageType: 'job.completed', runnerId: 'restarted' }]);
    expect(reports).toEqual([]);
  });
});
