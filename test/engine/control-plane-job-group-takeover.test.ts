import { describe, expect, it } from 'vitest';
import { ControlPlane } from '../../src/engine/control-plane.js';
import type { Stores } from '../../src/store/store.js';
import { ManualClock } from '../core/manual-clock.js';
import { storeFactories } from '../store/factories.js';
import { useStores } from '../store/fixture.js';
import { leasesOf, runsInTurn } from './group-turns.js';
import { eventually, oneJobWorkflow, runRequest } from './plane-fixtures.js';
import { accepting, type Lease, ScriptedRunner } from './scripted-runner.js';

for (const [name, make, skip] of storeFactories) {
  describe.skipIf(skip !== undefined)(`${name}: a job-level concurrency group across a takeover`, () => {
    const stores = useStores(make);

    /**
     * Run 1's job holds group `solo`'s slot on a first control plane. A second control plane (another
     * handle on the store, `laterMs` later by its clock, as a replica or a restarted server) starts
     * run 2, whose job joins the group; then the first one's process is gone (its clock never moves
     * again, so it neither beats nor releases) and the second one resumes run 1.
     */
    async function takenOver(group: string, laterMs = 7_000, options: { ownerExited?: boolean } = {}) {
      const workflow = oneJobWorkflow(`    concurrency:\n${group}`);
      const clockBefore = new ManualClock();
      const before = new ControlPlane(stores(), { clock: clockBefore });
      const first = new ScriptedRunner(before, accepting);
      const run1 = await before.startRun(workflow, runRequest);
      await eventually('run 1 leased', () => first.of('lease').length === 1);
      await eventually('run 1 stored running', async () => {
        const [job] = await stores().runs.listJobs(run1.id);
        return job?.status === 'running';
      });

      const clock = new ManualClock(clockBefore.now() + laterMs);
      const another = await stores.another();
      const plane = new ControlPlane(another, { clock });
      const runner = new ScriptedRunner(plane, accepting, { capacity: 2 });
      const run2 = await plane.startRun(workflow, runRequest);
      await eventually('run 2 joined', async () =>
        (await another.concurrency.list('solo')).some((member) => member.joinedAt === clock.now()),
      );

      const record = await another.runs.getRun(run1.id);
      if (record === undefined) throw new Error('no run 1');
      const resumed = plane.continueRun(
        'resume',
        workflow,
        runRequest,
        record,
        await another.runs.listJobs(run1.id),
        undefined,
        options,
      );
      return { before, abandoned: run1, clockBefore, clock, runner, run1: resumed, run2, store: another };
    }

    /** Moves the clock a beat at a time, letting each beat's store write land. */
    async function beats(clock: ManualClock, ms: number): Promise<void> {
      for (let passed = 0; passed < ms; passed += 200) {
        await clock.advance(200);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    }

    async function keepsItsTurn(group: string) {
      const { clock, runner, run1, run2 } = await takenOver(group);
      await eventually('run 1 leased again', async () => {
        await clock.advance(200);
        return leasesOf(runner, run1.id).length === 1;
      });
      // Past the 10 s after which the dead process's beats would have lapsed: run 2 still waits.
      await beats(clock, 12_000);
      expect(leasesOf(runner, run2.id)).toEqual([]);
      await runsInTurn(clock, runner, run1, run2);
    }

    /** `first` holds the slot: it completes, and then `second` is leased and completes. */
    it('the resumed job keeps the slot it held: a job that joined after it runs after it (queue: true)', async () => {
      await keepsItsTurn('      group: solo\n      queue: true\n');
    });

    it('the resumed job keeps the slot without replacing the job waiting for it', async () => {
      await keepsItsTurn('      group: solo\n');
    });

    it('a resumed job whose place lapsed (a beat older than 10 s) waits for the job that took the slot', async () => {
      const { clock, runner, run1, run2 } = await takenOver('      group: solo\n      queue: true\n', 11_000);
      await eventually('run 2 leased', async () => {
        await clock.advance(200);
        return leasesOf(runner, run2.id).length === 1;
      });
      await beats(clock, 2_000);
      expect(leasesOf(runner, run1.id)).toEqual([]);
      await runsInTurn(clock, runner, run2, run1);
    });

    it('a resumed job whose place lapsed, in a cancel-in-progress group, does not cancel the newer job that took the slot', async () => {
      const { clock, runner, run1, run2 } = await takenOver(
        '      group: solo\n      cancel-in-progress: true\n',
        11_000,
      );
      await eventually('run 2 leased', async () => {
        await clock.advance(200);
        return leasesOf(runner, run2.id).length === 1;
      });
      await beats(clock, 2_000);
      expect(leasesOf(runner, run1.id)).toEqual([]);
      // Joining back after its place lapsed, the older job waits: it asks run 2's job nothing.
      expect(runner.of('cancel')).toEqual([]);
      await runsInTurn(clock, runner, run2, run1);
    });

    it('a job waiting in the dead process keeps its place ahead of a job that joined after it', async () => {
      const workflow = oneJobWorkflow('    concurrency:\n      group: solo\n      queue: true\n');
      const clock = new ManualClock();
      const plane = new ControlPlane(stores(), { clock });
      const runner = new ScriptedRunner(plane, accepting, { capacity: 2 });
      const holder = await plane.startRun(workflow, runRequest);
      await eventually('the holder leased', () => runner.of('lease').length === 1);
      const dead = await stores.another();
      const before = new ControlPlane(dead, { clock: new ManualClock() });
      const run1 = await before.startRun(workflow, runRequest);
      // Its writes after it died (below) fail, as they would not land from a dead process.
      run1.done.catch(() => undefined);
      await eventually('run 1 waiting', async () => (await dead.concurrency.list('solo')).length === 2);
      const run2 = await plane.startRun(workflow, runRequest);
      await eventually('run 2 waiting', async () => (await stores().concurrency.list('solo')).length === 3);
      await eventually('run 1 stored queued', async () => {
        const [job] = await stores().runs.listJobs(run1.id);
        return job?.status === 'queued';
      });
      // Its process dies: no more beats, nor (on Postgres) notifications that would wake its wait.
      await dead.close();
      await beats(clock, 2_000);

      const record = await stores().runs.getRun(run1.id);
      if (record === undefined) throw new Error('no run 1');
      const jobs = await stores().runs.listJobs(run1.id);
      const resumed = plane.continueRun('resume', workflow, runRequest, record, jobs);
      await beats(clock, 1_000);
      runner.complete(runner.of('lease')[0] as Lease);
      expect(await holder.done).toBe('succeeded');
      await eventually('the next job leased', async () => {
        await clock.advance(200);
        return runner.of('lease').length === 2;
      });
      expect(leasesOf(runner, resumed.id)).toHaveLength(1);
      expect(leasesOf(runner, run2.id)).toEqual([]);
      await runsInTurn(clock, runner, resumed, run2);
    });

    /** Run 1's job follows `on-runner-lost: fail`: resumed, it ends failed without entering its group. */
    async function failedOnResume(options: { ownerExited?: boolean }) {
      const taken = await takenOver('      group: solo\n    on-runner-lost: fail\n', 7_000, options);
      expect(await taken.run1.done).toBe('failed');
      const { clock, runner, run2 } = taken;
      await eventually('run 2 leased', async () => {
        await clock.advance(200);
        return leasesOf(runner, run2.id).length === 1;
      });
      // The place run 1's process left lapses 10 s after its last beat (at clockBefore's start).
      return { leasedAt: clock.now() - taken.clockBefore.now() };
    }

    it('a resumed job that ends without entering gives up the place its exited process left, at once', async () => {
      const { leasedAt } = await failedOnResume({ ownerExited: true });
      expect(leasedAt).toBeLessThan(8_000);
    });

    it('a resumed job that ends without entering leaves a stalled process its place until the sweep', async () => {
      const { leasedAt } = await failedOnResume({});
      expect(leasedAt).toBeGreaterThanOrEqual(10_000);
    });

    it('a process that notices the takeover stops beating the member, and leaves it for the new owner', async () => {
      const { before, abandoned, clockBefore, clock, runner, run1, run2, store } =
        await takenOver('      group: solo\n');
      await eventually('run 1 leased again', async () => {
        await clock.advance(200);
        return leasesOf(runner, run1.id).length === 1;
      });
      const heldBy = async (s: Stores) =>
        (await s.concurrency.list('solo')).map((m) => [m.phase, m.heartbeatAt]);
      expect(before.abandonRun(run1.id)).toBe(true);
      await expect(abandoned.done).rejects.toMatchObject({ code: 'VK_RUN_TAKEN_OVER' });
      const adopted = await heldBy(store);
      expect(adopted.map(([phase]) => phase)).toEqual(['running', 'pending']);
      await beats(clockBefore, 1_000);
      expect(await heldBy(store)).toEqual(adopted);
      await runsInTurn(clock, runner, run1, run2);
    });
  });
}
