import { describe, expect, it } from 'vitest';
import { asJobId, jobIdFor, type RunId } from '../../src/core/ids.js';
import type { JobPatch, JobUpdate, NewJob } from '../../src/store/runs.js';
import { createRunWithJobs, type StoresFactory, useStores } from './fixture.js';

const newJob = (runId: RunId, ordinal: number): NewJob => ({
  id: jobIdFor(runId, ordinal),
  runId,
  key: 'build',
  name: `build (${ordinal})`,
  matrix: { leg: ordinal },
  status: 'pending',
});

/** RunStore.updateJobs: several job updates as one write, in order, all or nothing. */
export function jobUpdatesContract(make: StoresFactory): void {
  describe('job updates in one write', () => {
    const stores = useStores(make);
    const runs = () => stores().runs;

    const runWithJobs = (count: number): Promise<RunId> => createRunWithJobs(runs(), count, newJob);

    it('stores every field a patch can set, by updateJob, by updateJobs and right after its add', async () => {
      // Every JobPatch field but attempt (tested below): a field added to JobPatch fails to compile here
      // until it is set, so no write path can drop it unseen.
      const full = {
        status: 'succeeded',
        startedAt: 11,
        finishedAt: 12,
        outputs: { k: 'v' },
        reason: 'why',
        name: 'renamed',
        matrix: { os: 'x' },
        queuedAt: 10,
        notBefore: 13,
        priority: 'high',
        runner: { id: 'r-1', name: 'east' },
        // Epoch microseconds, as the control plane's tokens are (leases.ts): past 32 bits, a safe integer.
        fencingToken: 1_764_460_800_123_456,
        triesFrom: 3,
        continuedOnError: true,
      } as const satisfies Required<Omit<JobPatch, 'attempt'>>;
      const runId = await runWithJobs(2);
      await runs().updateJob(jobIdFor(runId, 0), full);
      await runs().updateJobs([{ id: jobIdFor(runId, 1), patch: full }]);
      // The update requested while its add is pending (a store may fold it into the insert).
      const added = runs().addJobs([newJob(runId, 2)]);
      const updated = runs().updateJob(jobIdFor(runId, 2), full);
      await Promise.all([added, updated]);
      const jobs = await runs().listJobs(runId);
      expect(jobs).toHaveLength(3);
      for (const job of jobs) expect(job).toMatchObject(full);
    });

    it('applies each job its own patch, whichever columns the patches set', async () => {
      // 71 jobs, starting and finishing ones interleaved, some with a reason: rows of one shape
      // are more than one statement's worth and an odd number.
      const runId = await runWithJobs(71);
      const updates: JobUpdate[] = Array.from({ length: 71 }, (_, i) => ({
        id: jobIdFor(runId, i),
        patch:
          i % 3 === 0
            ? { status: 'running', startedAt: 100 + i }
            : { status: 'failed', finishedAt: 200 + i, outputs: { n: `${i}` }, reason: `r${i}` },
      }));
      await runs().updateJobs(updates);
      const jobs = await runs().listJobs(runId);
      expect(jobs).toHaveLength(71);
      for (const [i, job] of jobs.entries()) {
        if (i % 3 === 0) {
          expect(job).toMatchObject({ status: 'running', startedAt: 100 + i, outputs: {} });
          expect(job).not.toHaveProperty('finishedAt');
        } else {
          expect(job).toMatchObject({ status: 'failed', finishedAt: 200 + i, outputs: { n: `${i}` } });
          expect(job.reason).toBe(`r${i}`);
          expect(job).not.toHaveProperty('startedAt');
        }
      }
    });

    it('gives each job its own text where only the first or last of several jobs differs', async () => {
      // 7 jobs go as statements of 4, 2 and 1 rows (SQLite): job 3 ends the first, job 4 begins the
      // second, and the others share their status and runner (a store may bind those once).
      const east = { id: 'r-1', name: 'east' };
      const west = { id: 'r-2', name: 'west' };
      const runId = await runWithJobs(7);
      const runnerOf = (i: number) => (i === 3 || i === 4 ? west : east);
      await runs().updateJobs(
        Array.from({ length: 7 }, (_, i) => ({
          id: jobIdFor(runId, i),
          patch: { status: i === 6 ? 'failed' : 'running', startedAt: 100 + i, runner: runnerOf(i) },
        })),
      );
      const jobs = await runs().listJobs(runId);
      expect(jobs.map(({ status, startedAt, runner }) => ({ status, startedAt, runner }))).toEqual(
        Array.from({ length: 7 }, (_, i) => ({
          status: i === 6 ? 'failed' : 'running',
          startedAt: 100 + i,
          runner: runnerOf(i),
        })),
      );
    });

    it('applies the updates of one job in their order, an attempt among them', async () => {
      const runId = await runWithJobs(2);
      const [first, second] = [jobIdFor(runId, 0), jobIdFor(runId, 1)];
      await runs().updateJobs([
        { id: first, patch: { status: 'running', startedAt: 5 } },
        { id: second, patch: { status: 'queued', queuedAt: 6, priority: 'high' } },
        {
          id: first,
          patch: { status: 'failed', finishedAt: 9, reason: 'exit code 1', continuedOnError: true },
        },
        { id: first, patch: { status: 'queued', attempt: 2, queuedAt: 10 } },
        { id: second, patch: { status: 'running', startedAt: 11 } },
      ]);
      const [one, two] = await runs().listJobs(runId);
      expect(one).toMatchObject({ status: 'queued', attempt: 2, queuedAt: 10 });
      for (const field of ['startedAt', 'finishedAt', 'reason', 'continuedOnError'])
        expect(one).not.toHaveProperty(field);
      expect(two).toMatchObject({ status: 'running', startedAt: 11, queuedAt: 6, priority: 'high' });
    });

    it('changes nothing and rejects with VK_JOB_NOT_FOUND when one job does not exist', async () => {
      const runId = await runWithJobs(3);
      const before = await runs().listJobs(runId);
      await expect(
        runs().updateJobs([
          { id: jobIdFor(runId, 0), patch: { status: 'running', startedAt: 1 } },
          { id: asJobId('nope.0'), patch: { status: 'running', startedAt: 1 } },
          { id: jobIdFor(runId, 2), patch: { status: 'running', startedAt: 1 } },
        ]),
      ).rejects.toMatchObject({ code: 'VK_JOB_NOT_FOUND' });
      expect(await runs().listJobs(runId)).toEqual(before);
    });

    it('updates jobs added by a write made just before it, not awaited', async () => {
      const run = await runs().createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt: 1 });
      const added = runs().addJobs([newJob(run.id, 0), newJob(run.id, 1)]);
      const updated = runs().updateJobs([
        { id: jobIdFor(run.id, 1), patch: { status: 'queued', queuedAt: 3, priority: 'low' } },
        { id: jobIdFor(run.id, 0), patch: { status: 'queued', queuedAt: 4, priority: 'normal' } },
      ]);
      await Promise.all([added, updated]);
      const jobs = await runs().listJobs(run.id);
      expect(jobs.map(({ status, queuedAt, priority }) => ({ status, queuedAt, priority }))).toEqual([
        { status: 'queued', queuedAt: 4, priority: 'normal' },
        { status: 'queued', queuedAt: 3, priority: 'low' },
      ]);
    });

    it('keeps each of several calls made together, not awaited, all or nothing on its own', async () => {
      const runId = await runWithJobs(2);
      const [first, second] = [jobIdFor(runId, 0), jobIdFor(runId, 1)];
      const calls = [
        runs().updateJobs([{ id: first, patch: { status: 'running', startedAt: 2 } }]),
        runs().updateJobs([
          { id: first, patch: { status: 'succeeded', finishedAt: 3 } },
          { id: asJobId('nope.0'), patch: { status: 'running', startedAt: 3 } },
        ]),
        runs().updateJobs([{ id: second, patch: { status: 'running', startedAt: 4 } }]),
      ];
      const [one, missing, two] = await Promise.allSettled(calls);
      expect(one).toEqual({ status: 'fulfilled', value: undefined });
      expect(missing).toMatchObject({ status: 'rejected', reason: { code: 'VK_JOB_NOT_FOUND' } });
      expect(two).toEqual({ status: 'fulfilled', value: undefined });
      const [a, b] = await runs().listJobs(runId);
      expect(a).toMatchObject({ status: 'running', startedAt: 2 });
      expect(a).not.toHaveProperty('finishedAt');
      expect(b).toMatchObject({ status: 'running', startedAt: 4 });
    });

    it('applies the updates several calls make to one job in their order, an attempt among them, right after its add or later', async () => {
      const run = await runs().createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt: 1 });
      const [fresh, old] = [newJob(run.id, 0), newJob(run.id, 1)];
      await runs().addJobs([old]);
      const sequence = (id: JobUpdate['id']): JobPatch[] => [
        { status: 'queued', queuedAt: 2, priority: 'high' },
        { status: 'running', startedAt: 3 },
        { status: 'failed', finishedAt: 4, reason: 'exit code 1', outputs: { a: '1' } },
        { status: 'queued', attempt: 2, queuedAt: 5, name: `retry ${id}` },
        { startedAt: 6 },
      ];
      const writes = [runs().addJobs([fresh])];
      for (const [i, patch] of sequence(fresh.id).entries()) {
        const other = sequence(old.id)[i];
        if (other === undefined) throw new Error('sequences differ');
        writes.push(
          runs().updateJobs([{ id: fresh.id, patch }]),
          runs().updateJobs([{ id: old.id, patch: other }]),
        );
      }
      await Promise.all(writes);
      const jobs = await runs().listJobs(run.id);
      for (const job of jobs) {
        expect(job).toMatchObject({
          status: 'queued',
          attempt: 2,
          queuedAt: 5,
          startedAt: 6,
          priority: 'high',
          outputs: { a: '1' },
          name: `retry ${job.id}`,
        });
        for (const field of ['finishedAt', 'reason']) expect(job).not.toHaveProperty(field);
      }
      expect(jobs.map(({ id }) => id)).toEqual([old.id, fresh.id]);
    });

    it('accepts an empty list', async () => {
      await expect(runs().updateJobs([])).resolves.toBeUndefined();
    });
  });
}
