import { describe, expect, it } from 'vitest';
import { type JobId, jobIdFor, type RunId } from '../../src/core/ids.js';
import type { JobStatus } from '../../src/core/outcome.js';
import type { RunOwnership } from '../../src/store/recovery.js';
import { processRunOwner } from '../../src/store/run-fence.js';
import type { RunStore } from '../../src/store/runs.js';
import { type StoresFactory, useStores } from './fixture.js';

const t0 = 1_700_000_000_000;
// The owner the stores write runs for (store/run-fence.ts), so that the test may write the re-run's jobs.
const rerunner: RunOwnership = { owner: processRunOwner(), heartbeatAt: t0 + 20_000 };

/** A run of `planned` jobs ended `status`, its jobs stored with these statuses; their ids in order. */
async function endedRun(
  runs: RunStore,
  status: 'failed' | 'cancelled' | 'succeeded',
  statuses: readonly JobStatus[],
): Promise<{ id: RunId; jobs: JobId[] }> {
  const outcome = await runs.submitRun(
    { workflowName: 'long', workflowPath: 'long.yml', createdAt: t0 },
    { plannedJobs: statuses.length },
  );
  if (outcome.kind !== 'created') throw new Error(`expected a created run, got ${outcome.kind}`);
  const id = outcome.run.id;
  const jobs = statuses.map((_, i) => jobIdFor(id, i + 1));
  await runs.addJobs(
    statuses.map((jobStatus, i) => ({
      id: jobIds(jobs, i),
      runId: id,
      key: `j${i}`,
      name: `j${i}`,
      matrix: {},
      status: jobStatus,
    })),
  );
  await runs.updateRun(id, { status, finishedAt: t0 + 10_000 });
  return { id, jobs };
}

function jobIds(jobs: readonly JobId[], index: number): JobId {
  const id = jobs[index];
  if (id === undefined) throw new Error(`no job ${index}`);
  return id;
}

/**
 * A re-run's admission (RunRecoveryStore.reopen with a RerunAdmission): checked against the queue
 * capacity as a submission is, atomically with the reopen, and its jobs counted as unfinished until
 * the re-run writes their next attempt.
 */
export function rerunAdmissionContract(make: StoresFactory): void {
  describe('re-run admission', () => {
    const stores = useStores(make);
    const runs = () => stores().runs;

    it('refuses a re-run whose jobs would take the store past the capacity, and writes nothing', async () => {
      const ended = await endedRun(runs(), 'cancelled', ['cancelled', 'cancelled']);
      await runs().submitRun(
        { workflowName: 'long', workflowPath: 'long.yml', createdAt: t0 },
        { plannedJobs: 2 },
      );
      const before = await runs().getRun(ended.id);
      const admission = { jobIds: ended.jobs, queueCapacity: 2 };
      expect(await stores().recovery.reopen(ended.id, 'cancelled', rerunner, admission)).toEqual({
        kind: 'queue_full',
        capacity: 2,
        unfinishedJobs: 2,
        plannedJobs: 2,
      });
      expect(await runs().getRun(ended.id)).toEqual(before);
      expect(await runs().countUnfinishedJobs()).toBe(2);
      // Alone more than the capacity: refused as well, plannedJobs saying so.
      const alone = await stores().recovery.reopen(ended.id, 'cancelled', rerunner, {
        jobIds: ended.jobs,
        queueCapacity: 1,
      });
      expect(alone).toMatchObject({ kind: 'queue_full', capacity: 1, plannedJobs: 2 });
      expect(await runs().getRun(ended.id)).toEqual(before);
      expect(
        await stores().recovery.reopen(ended.id, 'cancelled', rerunner, { ...admission, queueCapacity: 4 }),
      ).toEqual({ kind: 'claimed' });
      expect(await runs().countUnfinishedJobs()).toBe(4);
    });

    it('answers lost, not queue_full, for a run no longer in the expected status', async () => {
      const ended = await endedRun(runs(), 'failed', ['failed']);
      const admission = { jobIds: ended.jobs, queueCapacity: 0 };
      expect(await stores().recovery.reopen(ended.id, 'cancelled', rerunner, admission)).toEqual({
        kind: 'lost',
      });
    });

    it("counts a re-run's jobs as unfinished from the reopen until each is written with its next attempt", async () => {
      // j0 succeeded and is kept; j1 failed and runs again; j2 (skipped after it) is planned anew.
      const ended = await endedRun(runs(), 'failed', ['succeeded', 'failed', 'skipped']);
      const [kept, failed, after] = [0, 1, 2].map((index) => jobIds(ended.jobs, index)) as [
        JobId,
        JobId,
        JobId,
      ];
      expect(await runs().countUnfinishedJobs()).toBe(0);
      const admission = { jobIds: [failed, after] };
      expect(await stores().recovery.reopen(ended.id, 'failed', rerunner, admission)).toEqual({
        kind: 'claimed',
      });
      // Nothing written to the jobs yet: they still show their earlier attempt's final status.
      expect(await runs().countUnfinishedJobs()).toBe(2);
      // Read back with the jobs, for a restore of the re-run to tell (RunCoordinator.restore).
      const marks = async () =>
        (await runs().listJobs(ended.id)).map((job) => [job.attempt ?? 1, job.rerunAttempt]);
      expect(await marks()).toEqual([
        [1, undefined],
        [1, 1],
        [1, 1],
      ]);
      await runs().updateJob(failed, { status: 'pending', attempt: 2 });
      expect(await runs().countUnfinishedJobs()).toBe(2);
      expect(await marks()).toEqual([
        [1, undefined],
        [2, 1],
        [1, 1],
      ]);
      await runs().updateJob(failed, { status: 'succeeded', finishedAt: t0 + 30_000 });
      expect(await runs().countUnfinishedJobs()).toBe(1);
      // Its needs done, the job after it is planned again: skipped again by its if:, its next attempt.
      await runs().updateJob(after, { status: 'skipped', attempt: 2 });
      expect(await runs().countUnfinishedJobs()).toBe(0);
      await runs().updateRun(ended.id, { status: 'succeeded', finishedAt: t0 + 40_000 });
      // A re-run of all of them marks every one; the kept job of the first re-run counts now too.
      const all = { jobIds: [kept, failed, after] };
      expect(await stores().recovery.reopen(ended.id, 'succeeded', rerunner, all)).toEqual({
        kind: 'claimed',
      });
      expect(await runs().countUnfinishedJobs()).toBe(3);
    });

    it('clears the marks an earlier re-run left on jobs it never planned again', async () => {
      const ended = await endedRun(runs(), 'failed', ['failed', 'skipped']);
      const [failed, after] = [0, 1].map((index) => jobIds(ended.jobs, index)) as [JobId, JobId];
      expect(
        await stores().recovery.reopen(ended.id, 'failed', rerunner, { jobIds: [failed, after] }),
      ).toEqual({
        kind: 'claimed',
      });
      // Cancelled before the job after it was planned: that one keeps its earlier attempt.
      await runs().updateJob(failed, { status: 'cancelled', attempt: 2 });
      await runs().updateRun(ended.id, { status: 'cancelled', finishedAt: t0 + 30_000 });
      expect(await runs().countUnfinishedJobs()).toBe(0);
      expect(await stores().recovery.reopen(ended.id, 'cancelled', rerunner, { jobIds: [failed] })).toEqual({
        kind: 'claimed',
      });
      expect(await runs().countUnfinishedJobs()).toBe(1);
    });

    it('admits a re-run and submissions racing for the last places only up to the capacity', async () => {
      const ended = await endedRun(runs(), 'failed', ['failed', 'failed']);
      const other = await stores.another();
      const submit = (store: RunStore) =>
        store.submitRun(
          { workflowName: 'ci', workflowPath: 'ci.yml', createdAt: t0 },
          { plannedJobs: 2, queueCapacity: 3 },
        );
      const outcomes = await Promise.all([
        stores().recovery.reopen(ended.id, 'failed', rerunner, { jobIds: ended.jobs, queueCapacity: 3 }),
        submit(other.runs),
        submit(runs()),
      ]);
      expect(
        outcomes.filter((outcome) => outcome.kind === 'claimed' || outcome.kind === 'created'),
      ).toHaveLength(1);
      expect(await runs().countUnfinishedJobs()).toBe(2);
    });
  });
}
