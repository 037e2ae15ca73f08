import { describe, expect, it } from 'vitest';
import type { RunId } from '../../src/core/ids.js';
import { ControlPlane, type RunHandle } from '../../src/engine/control-plane.js';
import { resolveWorkflowGroup, type WorkflowGroup } from '../../src/engine/workflow-group.js';
import type { Workflow } from '../../src/workflow/model.js';
import { ManualClock } from '../core/manual-clock.js';
import { orAfter } from '../core/race-timeout.js';
import { storeFactories } from '../store/factories.js';
import { useStores } from '../store/fixture.js';
import { oneJobWorkflow, parsedWorkflow, runRequest } from './plane-fixtures.js';
import { accepting, type Lease, ScriptedRunner } from './scripted-runner.js';

const identity = { runnerId: 'rnr_1', transport: 'websocket' };
const leaseTtlMs = 60_000;

const deploy = parsedWorkflow(
  'concurrency:\n  group: deploy\n  cancel-in-progress: true\njobs:\n' +
    '  a:\n    runs-on: x\n    steps: [{ run: "true" }]\n',
);
const deployGroup = (): WorkflowGroup => {
  const group = resolveWorkflowGroup(deploy, runRequest);
  if (group === undefined) throw new Error('no group');
  return group;
};
const ownGroup = oneJobWorkflow('    concurrency:\n      group: solo\n      cancel-in-progress: true\n');

const leasesOf = (runner: ScriptedRunner, runId: RunId): Lease[] =>
  runner.of('lease').filter((lease) => lease.jobId.startsWith(`${runId}.`));

/**
 * Moves the manual clock on by `stepMs` and lets real time pass (store writes, Postgres notifications)
 * until `check` holds, for at most `maxMs` of the clock; returns whether it held.
 */
async function within(
  clock: ManualClock,
  maxMs: number,
  check: () => boolean,
  stepMs = 100,
): Promise<boolean> {
  for (let spent = 0; spent <= maxMs; spent += stepMs) {
    if (check()) return true;
    await clock.advance(stepMs);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return check();
}

/**
 * As within, for what must happen: once the clock budget is spent, real time goes on (up to 10 s, the
 * clock still) for the store's writes and wake-ups, which a loaded machine may take seconds over.
 */
async function happens(clock: ManualClock, maxMs: number, check: () => boolean): Promise<boolean> {
  if (await within(clock, maxMs, check)) return true;
  for (let waited = 0; waited < 10_000 && !check(); waited += 50)
    await new Promise((resolve) => setTimeout(resolve, 50));
  return check();
}

async function settled(handle: RunHandle): Promise<string> {
  return orAfter(handle.done, 20, 'running');
}

/**
 * Cancelling wins, but not over a concurrency group: a job that holds a group's place (its own
 * `concurrency:`, or its run's) is not ended while its runner is away — a network blip, and the
 * runner still runs it — or the group's next job would start beside it. Its lease is held; the
 * runner is told to stop when it resumes, and the job ends as it reports, or cancelled at expiry.
 */
for (const [name, make, skip] of storeFactories) {
  describe.skipIf(skip !== undefined)(`${name}: cancelling a grouped job whose runner is away`, () => {
    const stores = useStores(make);

    /** The older run's job runs on `east` (identity rnr_1); its connection closes; `west` stands by. */
    async function olderAway(workflow: Workflow, group?: WorkflowGroup) {
      const clock = new ManualClock();
      const plane = new ControlPlane(stores(), { clock, leaseTtlMs });
      const east = new ScriptedRunner(plane, accepting, { identity, name: 'east' });
      const submit = async () => {
        const submitted = await plane.submitRun(workflow, runRequest, group === undefined ? {} : { group });
        if (submitted.kind !== 'started') throw new Error('not started');
        return submitted.handle;
      };
      const older = await submit();
      if (!(await happens(clock, 5_000, () => east.of('lease').length === 1))) throw new Error('no lease');
      const lease = east.of('lease')[0] as Lease;
      east.end.close('network blip');
      const west = new ScriptedRunner(plane, accepting, { name: 'west' });
      return { clock, plane, lease, older, west, submit };
    }

    const cases = [
      ['a workflow group with cancel-in-progress', () => olderAway(deploy, deployGroup())],
      ["a job's own group with cancel-in-progress", () => olderAway(ownGroup)],
    ] as const;

    for (const [what, setUp] of cases) {
      it(`${what}: the newer run waits for the away runner, which is told to stop when it resumes`, async () => {
        const { clock, plane, lease, older, west, submit } = await setUp();
        const newer = await submit();
        // Well within the lease TTL, and the runner may still run the older job: nothing starts beside it.
        expect(await within(clock, 3_000, () => west.of('lease').length > 0)).toBe(false);
        expect(plane.leased(lease.jobId)).toBe(true);
        expect(await settled(older)).toBe('running');

        const { jobId, fencingToken } = lease;
        const back = new ScriptedRunner(plane, accepting, {
          identity,
          name: 'east',
          resume: [{ jobId, fencingToken }],
        });
        expect(await happens(clock, 1_000, () => back.of('cancel').length > 0)).toBe(true);
        expect(back.of('cancel').map((c) => c.jobId)).toEqual([jobId]);
        expect(back.of('error')).toEqual([]);
        const outcome = { kind: 'cancelled', reason: 'cancelled' } as const;
        back.send({ type: 'job.completed', jobId, fencingToken, outcome, outputs: {}, at: 1 });
        expect(await older.done).toBe('cancelled');
        // Ended by the runner's report, not as one whose runner was away.
        const [job] = await stores().runs.listJobs(older.id);
        expect(job?.status).toBe('cancelled');
        expect(job?.reason).not.toMatch(/while its runner was away/);
        expect(await happens(clock, 5_000, () => leasesOf(west, newer.id).length === 1)).toBe(true);
        expect(leasesOf(west, older.id)).toEqual([]);
      });

      it(`${what}: a runner that never comes back has its job end cancelled at the lease's expiry, then the newer run starts`, async () => {
        const { clock, plane, lease, older, west, submit } = await setUp();
        const newer = await submit();
        expect(await within(clock, leaseTtlMs - 2_000, () => west.of('lease').length > 0, 1_000)).toBe(false);
        expect(await happens(clock, 10_000, () => leasesOf(west, newer.id).length === 1)).toBe(true);
        expect(await older.done).toBe('cancelled');
        expect(plane.leased(lease.jobId)).toBe(false);
        const [job] = await stores().runs.listJobs(older.id);
        expect(job).toMatchObject({ status: 'cancelled', reason: expect.stringMatching(/lease expired/) });
        // Never queued again.
        expect(leasesOf(west, older.id)).toEqual([]);
      });
    }

    it('a job of a grouped run told to stop keeps its lease when its runner then disconnects, and ends as the runner reports', async () => {
      const clock = new ManualClock();
      const plane = new ControlPlane(stores(), { clock, leaseTtlMs });
      const east = new ScriptedRunner(plane, accepting, { identity, name: 'east' });
      const submitted = await plane.submitRun(deploy, runRequest, { group: deployGroup() });
      if (submitted.kind !== 'started') throw new Error('not started');
      const run = submitted.handle;
      if (!(await happens(clock, 5_000, () => east.of('lease').length === 1))) throw new Error('no lease');
      const { jobId, fencingToken } = east.of('lease')[0] as Lease;
      run.cancel(false);
      expect(await happens(clock, 1_000, () => east.of('cancel').length === 1)).toBe(true);
      east.end.close('network blip');
      await clock.advance(1_000);
      expect(await settled(run)).toBe('running');
      expect(plane.leased(jobId)).toBe(true);
      const back = new ScriptedRunner(plane, accepting, {
        identity,
        name: 'east',
        resume: [{ jobId, fencingToken }],
      });
      expect(await happens(clock, 1_000, () => back.of('cancel').length === 1)).toBe(true);
      const outcome = { kind: 'cancelled', reason: 'stopped by the runner' } as const;
      back.send({ type: 'job.completed', jobId, fencingToken, outcome, outputs: {}, at: 1 });
      expect(await run.done).toBe('cancelled');
      const [job] = await stores().runs.listJobs(run.id);
      expect(job?.status).toBe('cancelled');
      expect(job?.reason).not.toMatch(/while its runner was away/);
    });
  });
}
