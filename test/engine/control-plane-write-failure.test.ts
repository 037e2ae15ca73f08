import { describe, expect, it } from 'vitest';
import { ValkyrieError } from '../../src/core/errors.js';
import type { JobId, RunId } from '../../src/core/ids.js';
import { ControlPlane } from '../../src/engine/control-plane.js';
import type { LogLine } from '../../src/store/logs.js';
import type { JobUpdate } from '../../src/store/runs.js';
import type { Stores } from '../../src/store/store.js';
import { settle } from '../core/manual-clock.js';
import { storeFactories } from '../store/factories.js';
import { useStores } from '../store/fixture.js';
import { closedAfterEach, eventually, jobsWorkflow, oneJobWorkflow, runRequest } from './plane-fixtures.js';
import { accepting, type Lease, ScriptedRunner } from './scripted-runner.js';

// docs/faults.md: a write that fails in the middle of a run (a lock past the busy timeout) ends the
// run's process with the error and leaves the run unfinished, for `valkyrie resume`: nothing after the
// failed write may be stored as if it had landed, least of all the run's end.

const locked = () =>
  new ValkyrieError('VK_STORE_LOCKED', 'could not append log lines: another process kept it locked');

/** `target` with the methods of `overrides` in place of its own; its other methods stay bound to it. */
function overriding<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(object, key) {
      if (key in overrides) return Reflect.get(overrides, key);
      const value: unknown = Reflect.get(object, key);
      return typeof value === 'function' ? value.bind(object) : value;
    },
  });
}

/**
 * The stores, except that the writes `fails` picks reject as a lock past the busy timeout would:
 * nothing of them is written. `failed` counts them.
 */
function failingWrites(
  stores: Stores,
  fails: { lines?: (lines: readonly LogLine[]) => boolean; updates?: (u: readonly JobUpdate[]) => boolean },
): { stores: Stores; failed: () => number } {
  let failed = 0;
  const refuse = () => {
    failed++;
    return Promise.reject(locked());
  };
  const logs = overriding(stores.logs, {
    append: (lines) => (fails.lines?.(lines) ? refuse() : stores.logs.append(lines)),
  });
  const runs = overriding(stores.runs, {
    updateJobs: (updates, lines) =>
      fails.updates?.(updates) ? refuse() : stores.runs.updateJobs(updates, lines),
  });
  return { stores: overriding(stores, { logs, runs }), failed: () => failed };
}

/** The runner's `count`-th lease, once granted (the store's writes take real time). */
async function leaseOf(runner: ScriptedRunner, count: number): Promise<Lease> {
  for (let tries = 0; runner.of('lease').length < count && tries < 300; tries++) await settle(1);
  return runner.lease(count - 1);
}

function logLine(lease: Lease, text: string) {
  const { jobId, fencingToken } = lease;
  return {
    type: 'log',
    jobId,
    fencingToken,
    entries: [{ stepIndex: 0, stream: 'stdout', at: 1, text }],
  } as const;
}

async function storedRun(stores: Stores, runId: RunId) {
  const jobs = await stores.runs.listJobs(runId);
  const lines = await stores.logs.read(runId);
  return {
    status: (await stores.runs.getRun(runId))?.status,
    jobs: Object.fromEntries(jobs.map((job) => [job.key, job.status])),
    lines: lines.map((line) => line.text),
  };
}

for (const [name, make, skip] of storeFactories) {
  describe.skipIf(skip !== undefined)(`${name}: a store write of a run fails`, () => {
    const stores = useStores(make);
    const closing = closedAfterEach();

    it('stops driving the run: nothing later of it is stored, its end neither, and done rejects', async () => {
      const failing = failingWrites(stores(), { lines: (lines) => lines.some((l) => l.text === 'doomed') });
      const plane = closing(new ControlPlane(failing.stores));
      const runner = new ScriptedRunner(plane, accepting);
      const handle = await plane.startRun(
        jobsWorkflow(
          '  a:\n    runs-on: x\n    steps: [{ run: "true" }]\n' +
            '  b:\n    needs: a\n    runs-on: x\n    steps: [{ run: "true" }]\n',
        ),
        runRequest,
      );
      const rejected = handle.done.then(
        () => 'resolved',
        (error: unknown) => error,
      );
      const lease = await leaseOf(runner, 1);
      const { jobId, fencingToken } = lease;
      runner.send({ type: 'step.started', jobId, fencingToken, index: 0, name: 'step', at: 1 });
      runner.send(logLine(lease, 'kept'));
      await settle();
      runner.send(logLine(lease, 'doomed'));
      for (let tries = 0; failing.failed() === 0 && tries < 300; tries++) await settle(1);
      // The runner goes on: later lines, the step's end, the job's.
      runner.send(logLine(lease, 'after'));
      runner.send({
        type: 'step.completed',
        jobId,
        fencingToken,
        step: { index: 0, name: 'step', outcome: 'success', conclusion: 'success', finishedAt: 2 },
      });
      runner.complete(lease);
      expect(await rejected).toMatchObject({ code: 'VK_STORE_LOCKED' });
      await settle(20);

      expect(runner.of('cancel')).toMatchObject([{ jobId, immediate: true }]);
      expect(runner.of('lease')).toHaveLength(1);
      expect(await storedRun(stores(), handle.id)).toEqual({
        status: 'running',
        jobs: { a: 'running' },
        lines: ['kept'],
      });
      const [step] = await stores().runs.listSteps(jobId as JobId);
      expect(step?.outcome).toBeUndefined();
    });

    it('tells the runner nothing of a completion whose write failed (completions.stored)', async () => {
      const failing = failingWrites(stores(), {
        updates: (updates) => updates.some(({ patch }) => patch.finishedAt !== undefined),
      });
      const plane = closing(new ControlPlane(failing.stores));
      const runner = new ScriptedRunner(plane, accepting, { completionsStored: true });
      const handle = await plane.startRun(oneJobWorkflow(), runRequest);
      const rejected = handle.done.then(
        () => 'resolved',
        (error: unknown) => error,
      );
      runner.complete(await leaseOf(runner, 1));
      expect(await rejected).toMatchObject({ code: 'VK_STORE_LOCKED' });
      // Sent again (the runner cannot know): this process gave the run up and still says nothing.
      runner.complete(await leaseOf(runner, 1));
      await settle(20);
      expect(failing.failed()).toBe(1);
      expect(runner.of('completions.stored')).toEqual([]);
    });

    // Its own failed write says nothing of an end the store was read to hold (control-plane.ts).
    it('still acknowledges a copy of a completion another process applied, which the store holds', async () => {
      const identity = { runnerId: 'rnr_1', transport: 'websocket' };
      const before = new ControlPlane(stores());
      const first = new ScriptedRunner(before, accepting, { identity, completionsStored: true });
      const applied = await before.startRun(oneJobWorkflow(), runRequest);
      const lease = await leaseOf(first, 1);
      first.complete(lease);
      expect(await applied.done).toBe('succeeded');
      first.end.close('the old process stopped');
      await before.close();

      const failing = failingWrites(stores(), {
        updates: (updates) => updates.some(({ patch }) => patch.finishedAt !== undefined),
      });
      const plane = closing(new ControlPlane(failing.stores));
      const other = new ScriptedRunner(plane, accepting, {
        identity: { runnerId: 'rnr_2', transport: 'websocket' },
      });
      const doomed = await plane.startRun(oneJobWorkflow(), runRequest);
      other.complete(await leaseOf(other, 1));
      await expect(doomed.done).rejects.toMatchObject({ code: 'VK_STORE_LOCKED' });

      const { jobId, fencingToken } = lease;
      const back = new ScriptedRunner(plane, accepting, {
        identity,
        completionsStored: true,
        resume: [{ jobId, fencingToken, completed: true }],
      });
      back.complete(lease);
      await eventually('acknowledged', () => back.of('completions.stored').length > 0);
      expect(back.of('completions.stored')).toEqual([
        { type: 'completions.stored', jobs: [{ jobId, fencingToken }] },
      ]);
      expect(back.of('error')).toEqual([]);
    });

    it("does not store the run's end when a write made with it fails", async () => {
      const failing = failingWrites(stores(), {
        updates: (updates) => updates.some((u) => u.patch.status === 'succeeded'),
      });
      const plane = closing(new ControlPlane(failing.stores));
      const runner = new ScriptedRunner(plane, accepting);
      const handle = await plane.startRun(oneJobWorkflow(), runRequest);
      const lease = await leaseOf(runner, 1);
      runner.complete(lease);
      await expect(handle.done).rejects.toMatchObject({ code: 'VK_STORE_LOCKED' });
      await settle(20);
      expect(failing.failed()).toBe(1);
      expect(await storedRun(stores(), handle.id)).toEqual({
        status: 'running',
        jobs: { a: 'running' },
        lines: [],
      });
    });

    it('drives a run started after the failure to its end as usual', async () => {
      let failNext = true;
      const failing = failingWrites(stores(), {
        updates: (updates) => {
          const fail = failNext && updates.some((u) => u.patch.status === 'succeeded');
          if (fail) failNext = false;
          return fail;
        },
      });
      const plane = closing(new ControlPlane(failing.stores));
      const runner = new ScriptedRunner(plane, accepting);
      const first = await plane.startRun(oneJobWorkflow(), runRequest);
      runner.complete(await leaseOf(runner, 1));
      await expect(first.done).rejects.toMatchObject({ code: 'VK_STORE_LOCKED' });
      const second = await plane.startRun(oneJobWorkflow(), runRequest);
      runner.complete(await leaseOf(runner, 2));
      expect(await second.done).toBe('succeeded');
      expect((await storedRun(stores(), second.id)).status).toBe('succeeded');
    });
  });
}
