import { describe, expect, it } from 'vitest';
import { jobIdFor } from '../../src/core/ids.js';
import type { JobPatch } from '../../src/store/runs.js';
import { createRunWithJobs, pendingBuildJob, type StoresFactory, useStores } from './fixture.js';

/** A re-run's first attempt (4), a retry of it (5), a requeue after a lost runner (6), its retry (7). */
const sequence: readonly JobPatch[] = [
  { status: 'pending', attempt: 4, triesFrom: 4, outputs: {} },
  { status: 'queued', attempt: 5, queuedAt: 10 },
  { status: 'queued', attempt: 6, triesFrom: 7, queuedAt: 11 },
  { status: 'queued', attempt: 7, queuedAt: 12 },
];

/** JobRecord.triesFrom: the attempt a job's retries count from, kept for a run restored from the store. */
export function jobTriesFromContract(make: StoresFactory): void {
  describe("a job's triesFrom", () => {
    const stores = useStores(make);
    const runs = () => stores().runs;

    it('is absent (1) for a new job, and a patch that starts another attempt without it keeps it', async () => {
      const runId = await createRunWithJobs(runs(), 1, pendingBuildJob);
      const id = jobIdFor(runId, 0);
      expect((await runs().listJobs(runId))[0]).not.toHaveProperty('triesFrom');
      const seen: (number | undefined)[] = [];
      for (const patch of sequence) {
        await runs().updateJob(id, patch);
        seen.push((await runs().listJobs(runId))[0]?.triesFrom);
      }
      expect(seen).toEqual([4, 4, 7, 7]);
      // A patch without an attempt keeps it too, and one with it sets it.
      await runs().updateJob(id, { status: 'running', startedAt: 13 });
      expect((await runs().listJobs(runId))[0]).toMatchObject({ attempt: 7, triesFrom: 7 });
      await runs().updateJob(id, { triesFrom: 2 });
      expect((await runs().listJobs(runId))[0]).toMatchObject({ attempt: 7, triesFrom: 2 });
      // 1, as for attempt, reads as absent.
      await runs().updateJob(id, { triesFrom: 1 });
      expect((await runs().listJobs(runId))[0]).not.toHaveProperty('triesFrom');
    });

    it('comes through patches of one call, of calls made together and right after the add, in order', async () => {
      const run = await runs().createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt: 1 });
      const [fresh, old, together] = [
        pendingBuildJob(run.id, 0),
        pendingBuildJob(run.id, 1),
        pendingBuildJob(run.id, 2),
      ];
      await runs().addJobs([old, together]);
      // Not awaited in between: a store may fold these into the add, or into one update of the job.
      const writes = [runs().addJobs([fresh])];
      for (const patch of sequence)
        writes.push(runs().updateJobs([{ id: fresh.id, patch }]), runs().updateJobs([{ id: old.id, patch }]));
      writes.push(runs().updateJobs(sequence.map((patch) => ({ id: together.id, patch }))));
      await Promise.all(writes);
      const jobs = await runs().listJobs(run.id);
      expect(jobs.map(({ attempt, triesFrom, queuedAt }) => ({ attempt, triesFrom, queuedAt }))).toEqual(
        Array.from({ length: 3 }, () => ({ attempt: 7, triesFrom: 7, queuedAt: 12 })),
      );
    });
  });
}
