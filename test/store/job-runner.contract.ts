import { describe, expect, it } from 'vitest';
import { jobIdFor, type RunId } from '../../src/core/ids.js';
import type { JobRunner } from '../../src/store/runs.js';
import { createRunWithJobs, pendingBuildJob, type StoresFactory, useStores } from './fixture.js';

const east: JobRunner = { id: 'r-east', name: 'east 1' };
const west: JobRunner = { id: 'r-west', name: 'west "2"' };

/** JobRecord.runner and JobAttemptRecord.runner: which fleet runner started each attempt of a job. */
export function jobRunnerContract(make: StoresFactory): void {
  describe("a job attempt's runner", () => {
    const stores = useStores(make);
    const runs = () => stores().runs;

    const runWithJobs = (count: number): Promise<RunId> => createRunWithJobs(runs(), count, pendingBuildJob);

    it('is absent until an attempt starts on a runner, and stays absent for a job run locally', async () => {
      const runId = await runWithJobs(2);
      expect((await runs().listJobs(runId))[0]).not.toHaveProperty('runner');
      await runs().updateJob(jobIdFor(runId, 0), { status: 'running', startedAt: 5, runner: east });
      await runs().updateJob(jobIdFor(runId, 1), { status: 'running', startedAt: 5 });
      await runs().updateJob(jobIdFor(runId, 0), { status: 'succeeded', finishedAt: 9 });
      const [remote, local] = await runs().listJobs(runId);
      expect(remote?.runner).toEqual(east);
      expect(local).not.toHaveProperty('runner');
    });

    it('is the last runner that started the attempt, and a new attempt clears it unless the patch sets it', async () => {
      const runId = await runWithJobs(1);
      const id = jobIdFor(runId, 0);
      await runs().updateJob(id, { status: 'running', startedAt: 5, runner: east });
      // Requeued after its runner was lost, the same attempt starts again elsewhere.
      await runs().updateJobs([
        { id, patch: { status: 'queued', queuedAt: 6 } },
        { id, patch: { status: 'running', startedAt: 7, runner: west } },
      ]);
      expect((await runs().listJobs(runId))[0]?.runner).toEqual(west);
      await runs().updateJob(id, { status: 'queued', attempt: 2 });
      expect((await runs().listJobs(runId))[0]).not.toHaveProperty('runner');
      await runs().updateJobs([
        { id, patch: { status: 'running', startedAt: 8, runner: east } },
        { id, patch: { status: 'queued', attempt: 3 } },
      ]);
      expect((await runs().listJobs(runId))[0]).not.toHaveProperty('runner');
      await runs().updateJob(id, { status: 'running', attempt: 4, startedAt: 9, runner: west });
      expect((await runs().listJobs(runId))[0]).toMatchObject({ attempt: 4, runner: west });
    });

    it("keeps the fencing token of the runner's lease with it, cleared with it by a new attempt", async () => {
      const runId = await runWithJobs(2);
      const [id, other] = [jobIdFor(runId, 0), jobIdFor(runId, 1)];
      // Epoch microseconds (leases.ts): past 2^32, as only a 64-bit column keeps them.
      const token = 1_764_460_800_123_456;
      await runs().updateJob(id, { status: 'running', startedAt: 5, runner: east, fencingToken: token });
      await runs().updateJob(other, { status: 'running', startedAt: 5 });
      expect((await runs().listJobs(runId))[0]).toMatchObject({ runner: east, fencingToken: token });
      expect((await runs().listJobs(runId))[1]).not.toHaveProperty('fencingToken');
      // Requeued within the attempt and leased again: the last lease's token, with its runner.
      await runs().updateJobs([
        { id, patch: { status: 'queued', queuedAt: 6 } },
        { id, patch: { status: 'running', startedAt: 7, runner: west, fencingToken: token + 1 } },
      ]);
      expect((await runs().listJobs(runId))[0]).toMatchObject({ runner: west, fencingToken: token + 1 });
      await runs().updateJob(id, { status: 'succeeded', finishedAt: 8 });
      expect((await runs().listJobs(runId))[0]?.fencingToken).toBe(token + 1);
      await runs().updateJob(id, { status: 'queued', attempt: 2 });
      expect((await runs().listJobs(runId))[0]).not.toHaveProperty('fencingToken');
      await runs().updateJobs([
        { id, patch: { status: 'running', startedAt: 9, runner: east, fencingToken: token + 2 } },
        { id, patch: { status: 'queued', attempt: 3 } },
      ]);
      expect((await runs().listJobs(runId))[0]).not.toHaveProperty('fencingToken');
    });

    it('is set by an update folded into the add of its job', async () => {
      const run = await runs().createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt: 1 });
      const added = runs().addJobs([pendingBuildJob(run.id, 0)]);
      const started = runs().updateJobs([
        {
          id: jobIdFor(run.id, 0),
          patch: { status: 'running', startedAt: 2, runner: east, fencingToken: 3 },
        },
      ]);
      await Promise.all([added, started]);
      expect((await runs().listJobs(run.id))[0]).toMatchObject({ runner: east, fencingToken: 3 });
    });

    it('is kept with each ended attempt, and absent from one no runner started', async () => {
      const runId = await runWithJobs(1);
      const jobId = jobIdFor(runId, 0);
      // An attempt whose runner was lost, the job requeued: the status only an ended attempt has.
      const first = {
        jobId,
        attempt: 1,
        status: 'runner_lost',
        startedAt: 1,
        finishedAt: 2,
        reason: 'runner_lost: lease expired (not renewed within 60000 ms)',
        runner: east,
      } as const;
      const second = { jobId, attempt: 2, status: 'failed', finishedAt: 3 } as const;
      await runs().recordJobAttempt(first);
      await runs().recordJobAttempt(second);
      const read = await runs().listJobAttempts(jobId);
      expect(read).toEqual([first, second]);
      expect(read[1]).not.toHaveProperty('runner');
      // Recorded again (a re-run's bookkeeping), the attempt's runner is replaced with the rest.
      await runs().recordJobAttempt({ ...first, runner: west });
      expect((await runs().listJobAttempts(jobId))[0]?.runner).toEqual(west);
    });

    it("keeps the fencing token of the ended attempt's lease with its runner, replaced by a record again", async () => {
      const runId = await runWithJobs(1);
      const jobId = jobIdFor(runId, 0);
      // Epoch microseconds (leases.ts): past 2^32, as only a 64-bit column keeps them.
      const token = 1_764_460_800_123_456;
      const first = {
        jobId,
        attempt: 1,
        status: 'failed',
        finishedAt: 2,
        runner: east,
        fencingToken: token,
      } as const;
      const second = { jobId, attempt: 2, status: 'failed', finishedAt: 3 } as const;
      await runs().recordJobAttempt(first);
      await runs().recordJobAttempt(second);
      const read = await runs().listJobAttempts(jobId);
      expect(read).toEqual([first, second]);
      expect(read[1]).not.toHaveProperty('fencingToken');
      await runs().recordJobAttempt({ ...first, runner: west, fencingToken: token + 1 });
      expect((await runs().listJobAttempts(jobId))[0]).toMatchObject({
        runner: west,
        fencingToken: token + 1,
      });
      await runs().recordJobAttempt({ jobId, attempt: 1, status: 'failed', finishedAt: 2 });
      expect((await runs().listJobAttempts(jobId))[0]).not.toHaveProperty('fencingToken');
    });
  });
}
