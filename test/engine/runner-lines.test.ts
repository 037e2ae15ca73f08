import { describe, expect, it } from 'vitest';
import type { JobId, RunId } from '../../src/core/ids.js';
import { ControlPlane } from '../../src/engine/control-plane.js';
import type { ControlMessage, LogEntry, RunnerMessage } from '../../src/protocol/messages.js';
import type { Stores } from '../../src/store/store.js';
import { ManualClock, settle } from '../core/manual-clock.js';
import { storeFactories } from '../store/factories.js';
import { useStores } from '../store/fixture.js';
import { eventually, oneJobWorkflow, runRequest } from './plane-fixtures.js';
import { accepting, type Lease, ScriptedRunner } from './scripted-runner.js';

const identity = { runnerId: 'rnr_1', transport: 'websocket' };
const leaseTtlMs = 10_000;

const entries = (...texts: string[]): LogEntry[] =>
  texts.map((text) => ({ stepIndex: 0, stream: 'stdout', at: 1, text }));

function numbered(lease: Lease, first: number, ...texts: string[]): RunnerMessage {
  const { jobId, fencingToken } = lease;
  return { type: 'log', jobId, fencingToken, entries: entries(...texts), first };
}

const acks = (runner: ScriptedRunner) =>
  runner.of('log.stored').map((ack: Extract<ControlMessage, { type: 'log.stored' }>) => ack.lines);

async function texts(stores: Stores, runId: RunId, jobId: string): Promise<string[]> {
  return (await stores.logs.read(runId, { jobId: jobId as JobId }))
    .filter((line) => line.stream !== 'system')
    .map((line) => line.text);
}

for (const [name, make, skip] of storeFactories) {
  describe.skipIf(skip !== undefined)(`${name}: a runner's numbered lines (log.first, log.stored)`, () => {
    const stores = useStores(make);

    it('says in registered that it acknowledges lines, and acknowledges each log once it is stored', async () => {
      const plane = new ControlPlane(stores(), { clock: new ManualClock(), leaseTtlMs });
      const runner = new ScriptedRunner(plane, accepting, { identity });
      const { id: runId } = await plane.startRun(oneJobWorkflow(), runRequest);
      await settle();
      expect(runner.of('registered')).toEqual([{ type: 'registered', runnerId: 'rnr_1', logStored: true }]);
      const lease = runner.lease();
      runner.send(numbered(lease, 0, 'a', 'b'));
      runner.send(numbered(lease, 2, 'c'));
      await eventually('both acknowledged', async () => acks(runner).at(-1) === 3);
      expect(acks(runner)).toEqual([2, 3]);
      expect(await texts(stores(), runId, lease.jobId)).toEqual(['a', 'b', 'c']);
      // An older runner's log (no `first`) is stored and not acknowledged.
      const { jobId, fencingToken } = lease;
      runner.send({ type: 'log', jobId, fencingToken, entries: entries('d') });
      await eventually('the line stored', async () => (await texts(stores(), runId, jobId)).length === 4);
      expect(acks(runner)).toEqual([2, 3]);
    });

    it('drops the lines a runner sends again on a new session, and acknowledges them there', async () => {
      const plane = new ControlPlane(stores(), { clock: new ManualClock(), leaseTtlMs });
      const old = new ScriptedRunner(plane, accepting, { identity });
      const { id: runId } = await plane.startRun(oneJobWorkflow(), runRequest);
      await settle();
      const lease = old.lease();
      const { jobId, fencingToken } = lease;
      old.send(numbered(lease, 0, 'l0', 'l1', 'l2'));
      await eventually('acknowledged', async () => acks(old).at(-1) === 3);
      // Its acknowledgement of the next log was lost with the old connection: the new session gets
      // everything the runner kept again, and a line the store holds by then counts once.
      old.send(numbered(lease, 3, 'l3', 'l4'));
      const next = new ScriptedRunner(plane, accepting, { identity, resume: [{ jobId, fencingToken }] });
      next.send(numbered(lease, 3, 'l3', 'l4'));
      next.send(numbered(lease, 5, 'l5'));
      next.send(numbered(lease, 3, 'l3', 'l4'));
      await eventually('all acknowledged', async () => acks(next).at(-1) === 6);
      expect(await texts(stores(), runId, jobId)).toEqual(['l0', 'l1', 'l2', 'l3', 'l4', 'l5']);
      expect(next.of('error')).toEqual([]);
      expect(Math.max(...acks(next))).toBe(6);
    });

    it('stores the new part of a log that repeats some lines, and says where lines are missing', async () => {
      const plane = new ControlPlane(stores(), { clock: new ManualClock(), leaseTtlMs });
      const runner = new ScriptedRunner(plane, accepting, { identity });
      const { id: runId } = await plane.startRun(oneJobWorkflow(), runRequest);
      await settle();
      const lease = runner.lease();
      runner.send(numbered(lease, 0, 'l0', 'l1'));
      runner.send(numbered(lease, 1, 'l1', 'l2'));
      // The runner dropped lines 3 and 4 past its bound before any server stored them.
      runner.send(numbered(lease, 5, 'l5'));
      await eventually('acknowledged', async () => acks(runner).at(-1) === 6);
      const lines = await stores().logs.read(runId, { jobId: lease.jobId as JobId });
      expect(lines.filter((line) => line.stepIndex === 0).map((line) => line.text)).toEqual([
        'l0',
        'l1',
        'l2',
        '2 lines of output are missing here: the runner dropped them before the control plane stored them',
        'l5',
      ]);
      expect(await stores().logs.lineEnd(runId, lease.jobId as JobId, 1)).toBe(6);
    });

    it('after a takeover, drops what the dead control plane stored but never acknowledged', async () => {
      const workflow = oneJobWorkflow();
      const before = new ControlPlane(stores(), { clock: new ManualClock(), leaseTtlMs });
      const first = new ScriptedRunner(before, accepting, { identity, name: 'east' });
      const { id: runId } = await before.startRun(workflow, runRequest);
      await eventually('leased', async () => first.of('lease').length === 1);
      const lease = first.lease();
      const { jobId, fencingToken } = lease;
      first.send({ type: 'step.started', jobId, fencingToken, index: 0, name: 'step', at: 1 });
      first.send(numbered(lease, 0, 'l0', 'l1'));
      await eventually('stored', async () => (await texts(stores(), runId, jobId)).length === 2);
      first.end.close('the server died');
      const another = await stores.another();
      const record = await another.runs.getRun(runId);
      if (record === undefined) throw new Error('no run');
      const jobs = await another.runs.listJobs(runId);
      const lineEnd = await another.logs.lineEnd(runId, jobId as JobId, 1);
      const storedReports = new Map([
        [jobId, { lineEnd, steps: await another.runs.listSteps(jobId as JobId) }],
      ]);
      const plane = new ControlPlane(another, { clock: new ManualClock(1_700_000_007_000), leaseTtlMs });
      plane.continueRun('resume', workflow, runRequest, record, jobs, undefined, {
        holdLeases: true,
        storedReports,
      });
      await settle();
      // Back, the runner sends again every line it was not told is stored, then goes on.
      const back = new ScriptedRunner(plane, accepting, {
        identity,
        name: 'east',
        resume: [{ jobId, fencingToken }],
      });
      back.send(numbered(lease, 0, 'l0', 'l1'));
      back.send(numbered(lease, 2, 'l2'));
      await eventually('acknowledged', async () => acks(back).at(-1) === 3);
      expect(acks(back)).toEqual([2, 3]);
      expect(back.of('error')).toEqual([]);
      expect(await texts(another, runId, jobId)).toEqual(['l0', 'l1', 'l2']);
    });
  });
}
