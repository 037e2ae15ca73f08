import { describe, expect, it } from 'vitest';
import { ControlPlane } from '../../src/engine/control-plane.js';
import type { JobUpdate, RunStore } from '../../src/store/runs.js';
import type { Stores } from '../../src/store/store.js';
import { ManualClock, settle } from '../core/manual-clock.js';
import { storeFactories } from '../store/factories.js';
import { useStores } from '../store/fixture.js';
import { closedAfterEach, eventually, jobsWorkflow, oneJobWorkflow, runRequest } from './plane-fixtures.js';
import { accepting, completing, type Lease, ScriptedRunner } from './scripted-runner.js';

// protocol.md: a runner whose register asks for them is told, in `completions.stored`, which of the
// job ends it sent the store holds, so that it stops keeping them in doubt.

const leaseTtlMs = 10_000;

/** `stores` whose job updates that end a job wait for `release` before they reach the store. */
function heldEnds(stores: Stores): { stores: Stores; release: () => void; held: () => number } {
  let release = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let held = 0;
  const ends = (updates: readonly JobUpdate[]) => updates.some(({ patch }) => patch.finishedAt !== undefined);
  const updateJobs: RunStore['updateJobs'] = (updates, lines) => {
    if (!ends(updates)) return stores.runs.updateJobs(updates, lines);
    held++;
    return gate.then(() => stores.runs.updateJobs(updates, lines));
  };
  const runs = new Proxy(stores.runs, {
    get(target, key) {
      if (key === 'updateJobs') return updateJobs;
      const value: unknown = Reflect.get(target, key);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { stores: { ...stores, runs }, release, held: () => held };
}

function firstLease(runner: ScriptedRunner): Lease {
  const lease = runner.of('lease')[0];
  if (lease === undefined) throw new Error('no lease');
  return lease;
}

const acknowledged = (runner: ScriptedRunner) => runner.of('completions.stored').flatMap(({ jobs }) => jobs);

const identity = { runnerId: 'rnr_1', transport: 'websocket' };

/** A plane with one run of one job leased to a runner that asks for completions.stored. */
async function leasedOnce(stores: Stores) {
  const plane = new ControlPlane(stores, { clock: new ManualClock(), leaseTtlMs });
  const old = new ScriptedRunner(plane, accepting, { identity, completionsStored: true });
  const handle = await plane.startRun(oneJobWorkflow(), runRequest);
  await eventually('leased', () => old.of('lease').length === 1);
  return { plane, old, handle, lease: firstLease(old) };
}

/** The same runner on a new session, listing `lease` as completed, and its completion sent again. */
function sentAgain(plane: ControlPlane, lease: Lease): ScriptedRunner {
  const { jobId, fencingToken } = lease;
  const next = new ScriptedRunner(plane, accepting, {
    identity,
    completionsStored: true,
    resume: [{ jobId, fencingToken, completed: true }],
  });
  next.complete(lease);
  return next;
}

for (const [name, make, skip] of storeFactories) {
  describe.skipIf(skip !== undefined)(`${name}: completions.stored`, () => {
    const stores = useStores(make);
    const closing = closedAfterEach();

    it('tells a runner that asked once the store holds the ends it sent, and an older runner nothing', async () => {
      const holding = heldEnds(stores());
      const plane = closing(new ControlPlane(holding.stores, { clock: new ManualClock(), leaseTtlMs }));
      const asking = new ScriptedRunner(plane, completing, {
        identity: { runnerId: 'rnr_new', transport: 'websocket' },
        completionsStored: true,
      });
      const older = new ScriptedRunner(plane, completing, {
        identity: { runnerId: 'rnr_old', transport: 'websocket' },
      });
      const handle = await plane.startRun(
        jobsWorkflow(
          '  a:\n    runs-on: x\n    steps: [{ run: "true" }]\n' +
            '  b:\n    runs-on: x\n    steps: [{ run: "true" }]\n',
        ),
        runRequest,
      );
      try {
        await eventually('the ends written', () => holding.held() > 0 && older.of('lease').length === 1);
        await settle(20);
        // Not while the write that stores the end is pending.
        expect(acknowledged(asking)).toEqual([]);
      } finally {
        holding.release();
      }
      expect(await handle.done).toBe('succeeded');
      const { jobId, fencingToken } = firstLease(asking);
      await eventually('acknowledged', () => acknowledged(asking).length > 0);
      expect(acknowledged(asking)).toEqual([{ jobId, fencingToken }]);
      const stored = await stores().runs.listJobs(handle.id);
      expect(stored.find((job) => job.id === jobId)?.status).toBe('succeeded');
      await settle(20);
      expect(older.of('completions.stored')).toEqual([]);
    });

    it('acknowledges a completion sent again on a new session there, when the old one closed first', async () => {
      const { plane, old, handle, lease } = await leasedOnce(stores());
      closing(plane);
      // The connection drops right after the completion went out: its answer is lost with it.
      old.complete(lease);
      old.end.close('network blip');
      expect(await handle.done).toBe('succeeded');
      const next = sentAgain(plane, lease);
      await eventually('acknowledged on the new session', () => acknowledged(next).length > 0);
      const { jobId, fencingToken } = lease;
      expect(acknowledged(next)).toEqual([{ jobId, fencingToken }]);
      expect(old.of('completions.stored')).toEqual([]);
      expect(next.of('error')).toEqual([]);
    });

    it('acknowledges nothing of a run it gave up (another process drives it now), sent again or not', async () => {
      const { plane, old, handle, lease } = await leasedOnce(stores());
      closing(plane);
      expect(plane.abandonRun(handle.id)).toBe(true);
      old.complete(lease);
      old.end.close('network blip');
      const next = sentAgain(plane, lease);
      await settle(20);
      expect(acknowledged(old)).toEqual([]);
      expect(acknowledged(next)).toEqual([]);
    });
  });
}
