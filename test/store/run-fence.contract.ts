import { describe, expect, it } from 'vitest';
import { asRunId, type JobId, jobIdFor, type RunId } from '../../src/core/ids.js';
import type { LogLine } from '../../src/store/logs.js';
import type { RunOwnership } from '../../src/store/recovery.js';
import { processRunOwner } from '../../src/store/run-fence.js';
import type { Stores } from '../../src/store/store.js';
import { type StoresFactory, useStores } from './fixture.js';

export const fenceRequest = {
  workspace: '/w',
  actor: 'ada',
  vars: {},
  envOverrides: {},
  extraLabels: [],
  secretNames: [],
};
/** The stores under test write as this process; `other` is the process that takes the run over. */
export const mine: RunOwnership = { owner: processRunOwner(), heartbeatAt: 1_000 };
export const other: RunOwnership = { owner: { host: 'replica-b', pid: 77 }, heartbeatAt: 9_000 };

/**
 * The run fence (store/run-fence.ts): once another owner has claimed a run, the writes of its jobs,
 * job attempts, steps, status and log lines made through a store writing for the old owner are
 * refused with VK_RUN_TAKEN_OVER and change nothing; the new owner's pass.
 */
export function runFenceContract(make: StoresFactory): void {
  describe('run fence', () => {
    const stores = useStores(make);

    async function ownedRun(jobs: number): Promise<{ runId: RunId; ids: JobId[] }> {
      const run = await stores().runs.createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt: 1 });
      const ids = Array.from({ length: jobs }, (_, i) => jobIdFor(run.id, i));
      await stores().runs.addJobs(
        ids.map((id, i) => ({ id, runId: run.id, key: 'b', name: `b ${i}`, matrix: {}, status: 'queued' })),
      );
      await stores().recovery.saveResumable(run.id, { source: 'name: ci', request: fenceRequest }, mine);
      return { runId: run.id, ids };
    }

    async function takenOver(runId: RunId): Promise<Stores> {
      const b = await stores.another({ runOwner: other.owner });
      expect(await b.recovery.claim(runId, mine, other)).toEqual({ kind: 'claimed' });
      return b;
    }

    const line = (runId: RunId, jobId: JobId, text: string): LogLine => ({
      runId,
      jobId,
      stepIndex: -1,
      stream: 'system',
      at: 5,
      text,
    });
    const refused = { code: 'VK_RUN_TAKEN_OVER' };

    it("refuses the old owner's writes after a claim, changing nothing, and passes the new owner's", async () => {
      const { runId, ids } = await ownedRun(2);
      const [j0, j1] = ids as [JobId, JobId];
      await stores().runs.updateJob(j0, { status: 'running', startedAt: 10 });
      const b = await takenOver(runId);
      await b.runs.updateJob(j0, { status: 'queued', attempt: 2, queuedAt: 20 });

      const a = stores().runs;
      const late = [
        a.updateJobs([{ id: j0, patch: { status: 'succeeded', finishedAt: 30 } }], [line(runId, j0, 'late')]),
        a.updateJobs([
          { id: j0, patch: { status: 'succeeded', finishedAt: 30 } },
          { id: j1, patch: { status: 'cancelled', finishedAt: 30 } },
        ]),
        a.updateJob(j1, { status: 'running', startedAt: 30 }),
        a.recordStep({ jobId: j0, index: 0, name: 'build', startedAt: 30 }),
        a.recordJobAttempt({ jobId: j0, attempt: 1, status: 'failed', finishedAt: 30 }),
        a.addJobs([{ id: jobIdFor(runId, 2), runId, key: 'c', name: 'c', matrix: {}, status: 'queued' }]),
        a.recordConcurrency(runId, { group: 'g', state: 'waiting', at: 30 }),
        a.updateRun(runId, { status: 'succeeded', finishedAt: 30 }),
        // A runner's output as the stalled owner streams it, and that owner's own lines.
        stores().logs.append([{ ...line(runId, j0, 'late output'), stepIndex: 0, stream: 'stdout' }]),
      ];
      for (const write of late) await expect(write).rejects.toMatchObject({ ...refused, runIds: [runId] });

      const jobs = await b.runs.listJobs(runId);
      expect(jobs.map(({ id, status, attempt }) => ({ id, status, attempt }))).toEqual([
        { id: j0, status: 'queued', attempt: 2 },
        { id: j1, status: 'queued', attempt: undefined },
      ]);
      expect(await b.runs.listSteps(j0)).toEqual([]);
      expect(await b.runs.listJobAttempts(j0)).toEqual([]);
      expect(await b.logs.read(runId)).toEqual([]);
      const run = await b.runs.getRun(runId);
      expect(run?.status).toBe('queued');
      expect(run?.concurrency).toBeUndefined();

      await b.runs.updateJobs(
        [{ id: j0, patch: { status: 'running', startedAt: 40 } }],
        [line(runId, j0, 'b')],
      );
      await b.runs.recordStep({ jobId: j0, jobAttempt: 2, index: 0, name: 'build', startedAt: 40 });
      await b.runs.updateRun(runId, { status: 'succeeded', finishedAt: 50 });
      expect(await stores().runs.getRun(runId)).toMatchObject({ status: 'succeeded', finishedAt: 50 });
      expect((await stores().logs.read(runId)).map(({ text }) => text)).toEqual(['b']);
    });

    it('applies the writes of the runs a call may write and refuses only those of the taken run', async () => {
      const kept = await ownedRun(1);
      const lost = await ownedRun(1);
      await takenOver(lost.runId);
      const [k0] = kept.ids as [JobId];
      const [l0] = lost.ids as [JobId];
      const a = stores().runs;
      await expect(
        a.updateJobs(
          [
            { id: k0, patch: { status: 'running', startedAt: 10 } },
            { id: l0, patch: { status: 'running', startedAt: 10 } },
          ],
          [line(kept.runId, k0, 'kept'), line(lost.runId, l0, 'lost')],
        ),
      ).rejects.toMatchObject({ ...refused, runIds: [lost.runId] });
      expect((await a.listJobs(kept.runId))[0]).toMatchObject({ status: 'running', startedAt: 10 });
      expect((await a.listJobs(lost.runId))[0]?.status).toBe('queued');
      expect((await stores().logs.read(kept.runId)).map(({ text }) => text)).toEqual(['kept']);
      expect(await stores().logs.read(lost.runId)).toEqual([]);

      await expect(
        stores().logs.append([line(kept.runId, k0, 'kept 2'), line(lost.runId, l0, 'lost 2')]),
      ).rejects.toMatchObject({ ...refused, runIds: [lost.runId] });
      expect((await stores().logs.read(kept.runId)).map(({ text }) => text)).toEqual(['kept', 'kept 2']);
      expect(await stores().logs.read(lost.runId)).toEqual([]);
    });

    it("refuses a late saveResumable of a run another owner claimed before the save: the run stays the claimer's", async () => {
      const run = await stores().runs.createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt: 1 });
      // No owner yet (its creator stalled before saving): valkyrie cancel claims it as ownerless.
      const b = await stores.another({ runOwner: other.owner });
      expect(await b.recovery.claim(run.id, undefined, other)).toEqual({ kind: 'claimed' });
      const a = stores();
      await expect(
        a.recovery.saveResumable(run.id, { source: 'name: ci', request: fenceRequest }, mine),
      ).rejects.toMatchObject({
        ...refused,
        runIds: [run.id],
      });
      expect((await b.recovery.ownerships([run.id])).get(run.id)).toEqual(other);
      await expect(a.runs.updateRun(run.id, { status: 'succeeded', finishedAt: 9 })).rejects.toMatchObject(
        refused,
      );
      await b.recovery.saveResumable(run.id, { source: 'name: ci', request: fenceRequest }, other);
      expect((await b.recovery.getResumable(run.id))?.ownership).toEqual(other);
      await expect(
        a.recovery.saveResumable(asRunId('424242'), { source: 'name: ci', request: fenceRequest }, mine),
      ).rejects.toMatchObject({ code: 'VK_RUN_NOT_FOUND' });
    });

    it('writes runs that have no owner recorded, from any store', async () => {
      const run = await stores().runs.createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt: 1 });
      const id = jobIdFor(run.id, 0);
      const b = await stores.another({ runOwner: other.owner });
      await b.runs.addJobs([{ id, runId: run.id, key: 'b', name: 'b', matrix: {}, status: 'queued' }]);
      await stores().runs.updateJobs([{ id, patch: { status: 'running', startedAt: 5 } }]);
      await b.runs.recordStep({ jobId: id, index: 0, name: 'build', startedAt: 5 });
      await b.runs.updateRun(run.id, { status: 'running', startedAt: 5 });
      expect((await stores().runs.listJobs(run.id))[0]?.status).toBe('running');
    });
  });
}
