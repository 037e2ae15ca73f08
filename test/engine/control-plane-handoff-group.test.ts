import { describe, expect, it } from 'vitest';
import { ControlPlane, type RunHandle } from '../../src/engine/control-plane.js';
import { handedOffGroup } from '../../src/engine/workflow-group.js';
import { ManualClock } from '../core/manual-clock.js';
import { storeFactories } from '../store/factories.js';
import { useStores } from '../store/fixture.js';
import { leasesOf, runsInTurn } from './group-turns.js';
import { eventually, oneJobWorkflow, runRequest } from './plane-fixtures.js';
import { accepting, ScriptedRunner } from './scripted-runner.js';

const defaultGroup = { group: 'deploy', cancelInProgress: false, queue: false };

for (const [name, make, skip] of storeFactories) {
  describe.skipIf(skip !== undefined)(`${name}: a workflow concurrency group across a handoff`, () => {
    const stores = useStores(make);

    /**
     * Run 1, admitted to group `deploy` on a first control plane whose runners do not take its job, is
     * handed off (abandonRun, handedOff): its place stays, unbeaten. A second control plane, `laterMs`
     * later by its clock, with a runner that takes the job, gets run 2 of the group, then continues
     * run 1 adopting that place (as run-takeover.ts does for a run handed to it).
     */
    async function handedOff(laterMs: number, group = defaultGroup) {
      const workflow = oneJobWorkflow();
      const clockBefore = new ManualClock();
      const before = new ControlPlane(stores(), { clock: clockBefore });
      const submitted = await before.submitRun(workflow, runRequest, { group });
      if (submitted.kind !== 'started') throw new Error(submitted.kind);
      const abandoned = submitted.handle;
      await eventually(
        'run 1 waits for a runner',
        () => before.handoffCheck(abandoned.id).kind === 'waiting',
      );
      await eventually('run 1 stored queued', async () => {
        const [job] = await stores().runs.listJobs(abandoned.id);
        return job?.status === 'queued';
      });
      expect(before.abandonRun(abandoned.id, true)).toBe(true);
      await abandoned.done.catch(() => undefined);
      await abandoned.released();

      const clock = new ManualClock(clockBefore.now() + laterMs);
      const another = await stores.another();
      const plane = new ControlPlane(another, { clock });
      const runner = new ScriptedRunner(plane, accepting, { capacity: 2 });
      const second = await plane.submitRun(workflow, runRequest, { group });
      if (second.kind !== 'started') throw new Error(second.kind);
      const run2 = second.handle;
      const record = await another.runs.getRun(abandoned.id);
      if (record === undefined) throw new Error('no run 1');
      const jobs = await another.runs.listJobs(abandoned.id);
      const run1 = plane.continueRun(
        'resume',
        workflow,
        runRequest,
        record,
        jobs,
        handedOffGroup(group, abandoned.id),
      );
      return { clock, runner, run1, run2 };
    }

    async function beats(clock: ManualClock, ms: number): Promise<void> {
      for (let passed = 0; passed < ms; passed += 200) {
        await clock.advance(200);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    }

    /** `first` holds the slot past 10 s of beats, `second` waits; then they run in turn. */
    async function inTurn(clock: ManualClock, runner: ScriptedRunner, first: RunHandle, second: RunHandle) {
      await eventually('the first run leased', async () => {
        await clock.advance(200);
        return leasesOf(runner, first.id).length === 1;
      });
      await beats(clock, 12_000);
      expect(leasesOf(runner, second.id)).toEqual([]);
      await runsInTurn(clock, runner, first, second);
    }

    it('adopted within 10 s, the run keeps its slot: a run that joined meanwhile runs after it', async () => {
      const { clock, runner, run1, run2 } = await handedOff(5_000);
      await inTurn(clock, runner, run1, run2);
    });

    it('adopted late (its place dropped after 10 s), it joins anew and waits for the run that took the slot', async () => {
      const { clock, runner, run1, run2 } = await handedOff(11_000);
      await inTurn(clock, runner, run2, run1);
    });

    it('adopted late in a cancel-in-progress group, it does not cancel the newer run that took the slot: it waits for it', async () => {
      // cancel-in-progress is for newer runs: run 1, rejoining after its place was dropped, is not one.
      const { clock, runner, run1, run2 } = await handedOff(11_000, {
        ...defaultGroup,
        cancelInProgress: true,
      });
      await inTurn(clock, runner, run2, run1);
    });
  });
}
