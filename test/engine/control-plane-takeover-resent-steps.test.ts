import { describe, expect, it } from 'vitest';
import type { JobId, RunId } from '../../src/core/ids.js';
import { ControlPlane } from '../../src/engine/control-plane.js';
import type { RunEvent } from '../../src/engine/events.js';
import type { RunnerMessage } from '../../src/protocol/messages.js';
import type { Stores } from '../../src/store/store.js';
import { ManualClock, settle } from '../core/manual-clock.js';
import { storeFactories } from '../store/factories.js';
import { useStores } from '../store/fixture.js';
import { eventually, jobsWorkflow, runRequest } from './plane-fixtures.js';
import { accepting, completing, type Lease, ScriptedRunner } from './scripted-runner.js';

const identity = { runnerId: 'rnr_1', transport: 'websocket' };
const leaseTtlMs = 10_000;
const workflow = jobsWorkflow('  a:\n    runs-on: x\n    steps: [{ run: one }, { run: two }]\n');

/**
 * What the runner reported under `lease` before its control plane went away, in order, none of it
 * acknowledged (report-journal.ts keeps it all): step 0 started, printed two lines and succeeded;
 * step 1 started and printed one.
 */
function journalOf({ jobId, fencingToken }: Lease): RunnerMessage[] {
  const line = (stepIndex: number, at: number, text: string) =>
    ({ stepIndex, stream: 'stdout', at, text }) as const;
  return [
    { type: 'step.started', jobId, fencingToken, index: 0, name: 'one', at: 10 },
    { type: 'log', jobId, fencingToken, first: 0, entries: [line(0, 11, 'a'), line(0, 12, 'b')] },
    {
      type: 'step.completed',
      jobId,
      fencingToken,
      step: {
        index: 0,
        name: 'one',
        outcome: 'success',
        conclusion: 'success',
        startedAt: 10,
        finishedAt: 13,
      },
    },
    { type: 'step.started', jobId, fencingToken, index: 1, name: 'two', at: 14 },
    { type: 'log', jobId, fencingToken, first: 2, entries: [line(1, 15, 'c')] },
  ];
}

/** The step records of the job, as `show` lists them: index, started, outcome, finished. */
async function stepsOf(stores: Stores, jobId: JobId) {
  const steps = await stores.runs.listSteps(jobId);
  return steps.map((s) => [s.index, s.attempt ?? 1, s.startedAt, s.outcome, s.finishedAt]);
}

async function linesOf(stores: Stores, runId: RunId, jobId: JobId): Promise<string[]> {
  const lines = await stores.logs.read(runId, { jobId });
  return lines.filter((line) => line.stream === 'stdout').map((line) => line.text);
}

/** The runner's step reports the control plane told its listeners: `started 0`, `completed 0`. */
function stepEvents(events: readonly RunEvent[]): string[] {
  return events.flatMap((e) => {
    if (e.type === 'step.started') return [`started ${e.index}`];
    if (e.type === 'step.completed') return [`completed ${e.step.index}`];
    return [];
  });
}

/** Step 0 done, step 1 running with its line, as control plane A stored them. */
const storedByA = [
  [0, 1, 10, 'success', 13],
  [1, 1, 14, undefined, undefined],
];

for (const [name, make, skip] of storeFactories) {
  /**
   * A control plane (A) stores a runner's step reports and lines, then goes away before its
   * acknowledgements reach the runner; another (B, same store) takes the run over holding the lease
   * for the runner, which resumes it there and sends again everything it kept. B starts with none of
   * A's memory of what it took (StepReportsTaken, RunnerLines): what the store holds of the
   * job attempt must count as taken, or a step report sent again rewrites a finished step as running
   * and is told to B's listeners a second time.
   */
  describe.skipIf(skip !== undefined)(`${name}: step reports a runner sends again after a takeover`, () => {
    const stores = useStores(make);

    async function takenOver() {
      const before = new ControlPlane(stores(), { clock: new ManualClock(), leaseTtlMs });
      const first = new ScriptedRunner(before, accepting, { identity });
      const { id: runId } = await before.startRun(workflow, runRequest);
      await eventually('leased', async () => first.of('lease').length === 1);
      const lease = first.lease();
      const jobId = lease.jobId as JobId;
      for (const report of journalOf(lease)) first.send(report);
      await eventually(
        'A stored the reports',
        async () => (await linesOf(stores(), runId, jobId)).length === 3,
      );
      expect(await stepsOf(stores(), jobId)).toEqual(storedByA);
      first.end.close('the server died');
      const another = await stores.another();
      const clock = new ManualClock(1_700_000_007_000);
      const plane = new ControlPlane(another, { clock, leaseTtlMs });
      const events: RunEvent[] = [];
      plane.onEvent((event) => events.push(event));
      const record = await another.runs.getRun(runId);
      if (record === undefined) throw new Error('no run');
      const jobs = await another.runs.listJobs(runId);
      // As RunTakeover does: what the store holds of each held job attempt goes with the leases.
      const lineEnd = await another.logs.lineEnd(runId, jobId, 1);
      const storedReports = new Map([[jobId, { lineEnd, steps: await another.runs.listSteps(jobId) }]]);
      const handle = plane.continueRun('resume', workflow, runRequest, record, jobs, undefined, {
        holdLeases: true,
        storedReports,
      });
      await settle();
      const { fencingToken } = lease;
      const back = new ScriptedRunner(plane, accepting, { identity, resume: [{ jobId, fencingToken }] });
      return { plane, clock, lease, back, handle, runId, jobId, store: another, events };
    }

    it('keeps one record per step, as A stored it, and tells B’s listeners only what is new', async () => {
      const { lease, back, handle, runId, jobId, store, events } = await takenOver();
      for (const report of journalOf(lease)) back.send(report);
      await eventually('B acknowledged the lines', async () => back.of('log.stored').at(-1)?.lines === 3);
      expect(await stepsOf(store, jobId)).toEqual(storedByA);
      const { jobId: job, fencingToken } = lease;
      back.send({
        type: 'step.completed',
        jobId: job,
        fencingToken,
        step: {
          index: 1,
          name: 'two',
          outcome: 'success',
          conclusion: 'success',
          startedAt: 14,
          finishedAt: 16,
        },
      });
      back.complete(lease);
      expect(await handle.done).toBe('succeeded');
      expect(await stepsOf(store, jobId)).toEqual([storedByA[0], [1, 1, 14, 'success', 16]]);
      expect(await linesOf(store, runId, jobId)).toEqual(['a', 'b', 'c']);
      expect(stepEvents(events)).toEqual(['completed 1']);
      expect(events.filter((e) => e.type === 'log' && e.stream === 'stdout')).toEqual([]);
      expect(back.of('error')).toEqual([]);
    });

    it('does not end a finished step as cancelled when the runner is lost again midway through sending', async () => {
      const { plane, clock, lease, back, handle, jobId, store } = await takenOver();
      // The runner gets only its first step's start and lines across before it is cut off for good.
      for (const report of journalOf(lease).slice(0, 2)) back.send(report);
      // The store held those lines already: B says it holds all three.
      await eventually('B acknowledged the lines', async () => back.of('log.stored').at(-1)?.lines === 3);
      back.end.close('network dropped');
      await clock.advance(leaseTtlMs);
      // The attempt is lost: the job runs again, on another runner.
      new ScriptedRunner(plane, completing, { name: 'west' });
      expect(await handle.done).toBe('succeeded');
      // The step that succeeded under A stays so; the one under way when the runner was lost is ended.
      const steps = await stepsOf(store, jobId);
      expect(steps.slice(0, 2)).toEqual([storedByA[0], [1, 1, 14, 'cancelled', expect.any(Number)]]);
    });
  });
}
