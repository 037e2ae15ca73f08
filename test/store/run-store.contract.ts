import { describe, expect, it } from 'vitest';
import { asJobId, asRunId, jobIdFor, type RunId } from '../../src/core/ids.js';
import { postStepBase, preStepBase } from '../../src/core/step-phases.js';
import type { NewJob, NewRun } from '../../src/store/runs.js';
import { unfinishedRunStatuses } from '../../src/store/runs.js';
import { type StoresFactory, useStores } from './fixture.js';
import { runPagesContract } from './run-pages.contract.js';

const newRun = (overrides: Partial<NewRun> = {}): NewRun => ({
  workflowName: 'ci',
  workflowPath: '.valkyrie/ci.yml',
  createdAt: 1_700_000_000_000,
  ...overrides,
});

const newJob = (runId: RunId, ordinal: number, overrides: Partial<NewJob> = {}): NewJob => ({
  id: jobIdFor(runId, ordinal),
  runId,
  key: `job${ordinal}`,
  name: `job ${ordinal}`,
  matrix: {},
  status: 'pending',
  ...overrides,
});

/** The RunStore lifecycle every implementation must honour (run with a fresh, empty store per test). */
export function runStoreContract(make: StoresFactory): void {
  describe('run store', () => {
    const stores = useStores(make);
    const runs = () => stores().runs;

    describe('runs', () => {
      it('creates a queued run with an id and run number 1, and reads it back', async () => {
        const created = await runs().createRun(newRun({ sha: 'abc123', ref: 'refs/heads/main' }));
        expect(created).toEqual({
          id: created.id,
          runNumber: 1,
          status: 'queued',
          workflowName: 'ci',
          workflowPath: '.valkyrie/ci.yml',
          createdAt: 1_700_000_000_000,
          sha: 'abc123',
          ref: 'refs/heads/main',
        });
        expect(await runs().getRun(created.id)).toEqual(created);
      });

      it('returns optional fields as absent, not null', async () => {
        const created = await runs().createRun(newRun());
        const read = await runs().getRun(created.id);
        for (const field of ['sha', 'ref', 'startedAt', 'finishedAt']) {
          expect(created).not.toHaveProperty(field);
          expect(read).not.toHaveProperty(field);
        }
      });

      it('numbers runs per workflow name', async () => {
        const a1 = await runs().createRun(newRun({ workflowName: 'a' }));
        const b1 = await runs().createRun(newRun({ workflowName: 'b' }));
        const a2 = await runs().createRun(newRun({ workflowName: 'a' }));
        expect([a1.runNumber, b1.runNumber, a2.runNumber]).toEqual([1, 1, 2]);
        expect(new Set([a1.id, b1.id, a2.id]).size).toBe(3);
      });

      it('hands out distinct ids and run numbers to concurrent creations', async () => {
        const created = await Promise.all(Array.from({ length: 20 }, () => runs().createRun(newRun())));
        expect(new Set(created.map((run) => run.id)).size).toBe(20);
        expect(created.map((run) => run.runNumber).sort((x, y) => x - y)).toEqual(
          Array.from({ length: 20 }, (_, i) => i + 1),
        );
      });

      it('applies calls in the order they are made without waiting for each, and reads see them', async () => {
        const run = await runs().createRun(newRun());
        const ids = Array.from({ length: 50 }, (_, i) => jobIdFor(run.id, i));
        const writes = [
          runs().addJobs(
            ids.map((id) => ({ id, runId: run.id, key: 'k', name: id, matrix: {}, status: 'pending' })),
          ),
          ...ids.map((id) => runs().updateJob(id, { status: 'queued' })),
          runs().updateJob(asJobId('no-such-job'), { status: 'queued' }),
          runs().updateJob(ids[0] ?? asJobId(''), { status: 'running', startedAt: 5 }),
        ];
        // Handled before the read is awaited: the unknown job's update rejects meanwhile.
        const settling = Promise.allSettled(writes);
        const jobs = await runs().listJobs(run.id);
        expect(jobs.filter((job) => job.status === 'queued')).toHaveLength(49);
        const settled = await settling;
        expect(settled.filter((result) => result.status === 'rejected')).toEqual([
          { status: 'rejected', reason: expect.objectContaining({ code: 'VK_JOB_NOT_FOUND' }) },
        ]);
        expect(jobs[0]).toMatchObject({ status: 'running', startedAt: 5 });
      });

      it('returns undefined for an unknown run', async () => {
        await runs().createRun(newRun());
        expect(await runs().getRun(asRunId('no-such-run'))).toBeUndefined();
        expect(await runs().getRun(asRunId('987654321'))).toBeUndefined();
      });

      it('updates status and keeps timestamps a patch leaves out', async () => {
        const run = await runs().createRun(newRun());
        await runs().updateRun(run.id, { status: 'running', startedAt: 10 });
        await runs().updateRun(run.id, { status: 'succeeded', finishedAt: 20 });
        expect(await runs().getRun(run.id)).toMatchObject({
          status: 'succeeded',
          startedAt: 10,
          finishedAt: 20,
        });
      });

      it('rejects an update of an unknown run with VK_RUN_NOT_FOUND', async () => {
        await expect(runs().updateRun(asRunId('987654321'), { status: 'running' })).rejects.toMatchObject({
          code: 'VK_RUN_NOT_FOUND',
        });
      });

      it('lists runs newest first, 20 by default', async () => {
        const created = [];
        for (let i = 0; i < 25; i++) created.push(await runs().createRun(newRun({ createdAt: 1000 + i })));
        const newestFirst = created.map((run) => run.id).reverse();
        expect((await runs().listRuns()).map((run) => run.id)).toEqual(newestFirst.slice(0, 20));
        expect((await runs().listRuns({ limit: 3 })).map((run) => run.id)).toEqual(newestFirst.slice(0, 3));
        expect(await runs().listRuns({ limit: 0 })).toEqual([]);
      });

      it('lists only queued and running runs when asked for unfinished ones', async () => {
        const [queued, running, failed] = [
          await runs().createRun(newRun()),
          await runs().createRun(newRun()),
          await runs().createRun(newRun()),
        ];
        await runs().updateRun(running.id, { status: 'running', startedAt: 5 });
        await runs().updateRun(failed.id, { status: 'failed', finishedAt: 9 });
        const unfinished = await runs().listRuns({ statuses: unfinishedRunStatuses, limit: 100 });
        expect(unfinished.map((run) => run.id)).toEqual([running.id, queued.id]);
        expect(unfinished.map((run) => run.status)).toEqual(['running', 'queued']);
      });

      runPagesContract(runs);
    });

    describe('jobs', () => {
      it('lists jobs in the order they were added, across calls, with their matrix', async () => {
        const run = await runs().createRun(newRun());
        const matrix = { os: 'linux', node: 20, flags: ['a', 'b'], nested: { deep: true } };
        await runs().addJobs([newJob(run.id, 2), newJob(run.id, 0)]);
        await runs().addJobs([newJob(run.id, 1, { key: 'test', name: 'test (linux, 20)', matrix })]);
        const jobs = await runs().listJobs(run.id);
        expect(jobs.map((job) => job.id)).toEqual([2, 0, 1].map((n) => jobIdFor(run.id, n)));
        expect(jobs[2]).toEqual({
          id: jobIdFor(run.id, 1),
          runId: run.id,
          key: 'test',
          name: 'test (linux, 20)',
          matrix,
          status: 'pending',
          outputs: {},
        });
        for (const field of ['startedAt', 'finishedAt', 'reason']) expect(jobs[2]).not.toHaveProperty(field);
      });

      it("lists only the run's own jobs", async () => {
        const first = await runs().createRun(newRun());
        const second = await runs().createRun(newRun());
        await runs().addJobs([newJob(first.id, 0), newJob(second.id, 0), newJob(first.id, 1)]);
        expect((await runs().listJobs(first.id)).map((job) => job.id)).toEqual([
          jobIdFor(first.id, 0),
          jobIdFor(first.id, 1),
        ]);
        expect(await runs().listJobs(asRunId('987654321'))).toEqual([]);
      });

      it('adds all jobs of a batch or none', async () => {
        const run = await runs().createRun(newRun());
        await expect(
          runs().addJobs([newJob(run.id, 0), newJob(run.id, 1), newJob(run.id, 0)]),
        ).rejects.toBeInstanceOf(Error);
        expect(await runs().listJobs(run.id)).toEqual([]);
        await runs().addJobs([newJob(run.id, 0)]);
        await expect(runs().addJobs([newJob(run.id, 1), newJob(run.id, 0)])).rejects.toBeInstanceOf(Error);
        expect((await runs().listJobs(run.id)).map((job) => job.id)).toEqual([jobIdFor(run.id, 0)]);
      });

      it('rejects jobs of an unknown run with VK_RUN_NOT_FOUND', async () => {
        const missing = asRunId('987654321');
        await expect(runs().addJobs([newJob(missing, 0)])).rejects.toMatchObject({
          code: 'VK_RUN_NOT_FOUND',
        });
      });

      it('accepts an empty batch', async () => {
        await expect(runs().addJobs([])).resolves.toBeUndefined();
      });

      it('patches only the fields given and replaces outputs as a whole', async () => {
        const run = await runs().createRun(newRun());
        const id = jobIdFor(run.id, 0);
        await runs().addJobs([newJob(run.id, 0)]);
        await runs().updateJob(id, { status: 'running', startedAt: 5, outputs: { a: '1', b: '2' } });
        await runs().updateJob(id, {
          status: 'failed',
          finishedAt: 9,
          reason: 'step 2 failed',
          outputs: { c: '3' },
        });
        await runs().updateJob(id, {});
        const [job] = await runs().listJobs(run.id);
        expect(job).toMatchObject({
          status: 'failed',
          startedAt: 5,
          finishedAt: 9,
          reason: 'step 2 failed',
          outputs: { c: '3' },
        });
      });

      it('rejects an update of an unknown job with VK_JOB_NOT_FOUND', async () => {
        await expect(runs().updateJob(asJobId('nope.0'), { status: 'queued' })).rejects.toMatchObject({
          code: 'VK_JOB_NOT_FOUND',
        });
      });
    });

    describe('job attempts', () => {
      it("starts a new attempt: the patch sets it and clears the ended attempt's times and reason", async () => {
        const run = await runs().createRun(newRun());
        const id = jobIdFor(run.id, 0);
        await runs().addJobs([newJob(run.id, 0)]);
        await runs().updateJob(id, { status: 'running', startedAt: 5 });
        await runs().updateJob(id, { status: 'failed', finishedAt: 9, reason: 'exit code 1' });
        expect((await runs().listJobs(run.id))[0]).not.toHaveProperty('attempt');
        await runs().updateJob(id, { status: 'queued', attempt: 2 });
        const [queued] = await runs().listJobs(run.id);
        expect(queued).toMatchObject({ status: 'queued', attempt: 2 });
        for (const field of ['startedAt', 'finishedAt', 'reason']) expect(queued).not.toHaveProperty(field);
        await runs().updateJob(id, { status: 'running', startedAt: 20 });
        await runs().updateJob(id, { status: 'succeeded', finishedAt: 30 });
        expect((await runs().listJobs(run.id))[0]).toMatchObject({
          status: 'succeeded',
          attempt: 2,
          startedAt: 20,
          finishedAt: 30,
        });
      });

      it('renames an attempt and replaces its matrix values and outputs when the patch says so', async () => {
        const run = await runs().createRun(newRun());
        const id = jobIdFor(run.id, 0);
        await runs().addJobs([newJob(run.id, 0)]);
        await runs().updateJob(id, { status: 'skipped', finishedAt: 9, outputs: { old: 'x' } });
        await runs().updateJob(id, {
          status: 'pending',
          attempt: 2,
          name: 'test (b, 2)',
          matrix: { os: 'b', n: 2 },
          outputs: {},
        });
        const [job] = await runs().listJobs(run.id);
        expect(job).toMatchObject({ status: 'pending', attempt: 2, name: 'test (b, 2)', outputs: {} });
        expect(Object.entries(job?.matrix ?? {})).toEqual([
          ['os', 'b'],
          ['n', 2],
        ]);
        await runs().updateJob(id, { status: 'queued' });
        expect((await runs().listJobs(run.id))[0]).toMatchObject({
          name: 'test (b, 2)',
          matrix: { os: 'b', n: 2 },
        });
      });

      it('keeps ended attempts by number, replacing one recorded twice', async () => {
        const run = await runs().createRun(newRun());
        const jobId = jobIdFor(run.id, 0);
        await runs().addJobs([newJob(run.id, 0), newJob(run.id, 1)]);
        const second = { jobId, attempt: 2, status: 'timed_out', startedAt: 30, finishedAt: 40 } as const;
        await runs().recordJobAttempt(second);
        await runs().recordJobAttempt({ jobId, attempt: 1, status: 'failed', finishedAt: 20, reason: 'x' });
        await runs().recordJobAttempt({
          jobId,
          attempt: 1,
          status: 'failed',
          startedAt: 10,
          finishedAt: 20,
          reason: 'exit code 3',
        });
        expect(await runs().listJobAttempts(jobId)).toEqual([
          { jobId, attempt: 1, status: 'failed', startedAt: 10, finishedAt: 20, reason: 'exit code 3' },
          second,
        ]);
        expect(await runs().listJobAttempts(jobIdFor(run.id, 1))).toEqual([]);
      });

      it('rejects an attempt of an unknown job with VK_JOB_NOT_FOUND', async () => {
        await expect(
          runs().recordJobAttempt({ jobId: asJobId('nope.0'), attempt: 1, status: 'failed', finishedAt: 1 }),
        ).rejects.toMatchObject({ code: 'VK_JOB_NOT_FOUND' });
      });
    });

    describe('what a replica that follows a run reads besides states', () => {
      it('keeps when an attempt was queued, until when it waits and its priority; a new attempt clears the first two', async () => {
        const run = await runs().createRun(newRun());
        const id = jobIdFor(run.id, 0);
        await runs().addJobs([newJob(run.id, 0)]);
        expect((await runs().listJobs(run.id))[0]).not.toHaveProperty('queuedAt');
        await runs().updateJob(id, { status: 'queued', queuedAt: 10, priority: 'high' });
        await runs().updateJob(id, { status: 'running', startedAt: 12 });
        expect((await runs().listJobs(run.id))[0]).toMatchObject({ queuedAt: 10, priority: 'high' });
        await runs().updateJob(id, { status: 'queued', attempt: 2 });
        const [next] = await runs().listJobs(run.id);
        expect(next).toMatchObject({ status: 'queued', attempt: 2, priority: 'high' });
        for (const field of ['queuedAt', 'notBefore']) expect(next).not.toHaveProperty(field);
        await runs().updateJob(id, {
          status: 'queued',
          attempt: 3,
          queuedAt: 20,
          notBefore: 1_700_000_025_000,
        });
        await runs().updateJob(id, { status: 'running', startedAt: 26 });
        expect((await runs().listJobs(run.id))[0]).toMatchObject({
          attempt: 3,
          queuedAt: 20,
          notBefore: 1_700_000_025_000,
          startedAt: 26,
        });
      });

      it('keeps why and after how long an ended attempt was retried, and leaves it out when it was not', async () => {
        const run = await runs().createRun(newRun());
        const jobId = jobIdFor(run.id, 0);
        await runs().addJobs([newJob(run.id, 0)]);
        const retried = {
          jobId,
          attempt: 1,
          status: 'failed',
          startedAt: 10,
          finishedAt: 20,
          reason: 'exit code 1',
          retry: { delayMs: 90_000, reason: 'exit code 1' },
        } as const;
        await runs().recordJobAttempt(retried);
        await runs().recordJobAttempt({ jobId, attempt: 2, status: 'failed', finishedAt: 30 });
        const read = await runs().listJobAttempts(jobId);
        expect(read).toEqual([retried, { jobId, attempt: 2, status: 'failed', finishedAt: 30 }]);
        expect(read[1]).not.toHaveProperty('retry');
      });

      it("keeps a run's latest place in its concurrency group, on every read of the run", async () => {
        const run = await runs().createRun(newRun());
        expect(await runs().getRun(run.id)).not.toHaveProperty('concurrency');
        await runs().recordConcurrency(run.id, { group: 'deploy', state: 'waiting', ahead: 2, at: 5 });
        await runs().recordConcurrency(run.id, { group: 'deploy', state: 'waiting', ahead: 1, at: 6 });
        const waiting = { group: 'deploy', state: 'waiting', ahead: 1, at: 6 };
        expect((await runs().getRun(run.id))?.concurrency).toEqual(waiting);
        expect((await runs().listRuns({ statuses: unfinishedRunStatuses }))[0]?.concurrency).toEqual(waiting);
        await runs().recordConcurrency(run.id, { group: 'deploy', state: 'replaced', at: 7 });
        expect((await runs().listRuns())[0]?.concurrency).toEqual({
          group: 'deploy',
          state: 'replaced',
          at: 7,
        });
      });

      it("keeps when the run's current attempt joined its group, and leaves it out where not given", async () => {
        const run = await runs().createRun(newRun());
        await runs().recordConcurrency(run.id, {
          group: 'deploy',
          state: 'waiting',
          ahead: 1,
          at: 6,
          joinedAt: 5,
        });
        await runs().recordConcurrency(run.id, { group: 'deploy', state: 'admitted', at: 9, joinedAt: 5 });
        const admitted = { group: 'deploy', state: 'admitted', at: 9, joinedAt: 5 };
        expect((await runs().getRun(run.id))?.concurrency).toEqual(admitted);
        expect((await runs().listRuns())[0]?.concurrency).toEqual(admitted);
        await runs().recordConcurrency(run.id, { group: 'deploy', state: 'replaced', at: 10 });
        expect((await runs().getRun(run.id))?.concurrency).toEqual({
          group: 'deploy',
          state: 'replaced',
          at: 10,
        });
      });

      it('rejects the concurrency state of an unknown run with VK_RUN_NOT_FOUND', async () => {
        for (const id of ['999999', 'nope'])
          await expect(
            runs().recordConcurrency(asRunId(id), { group: 'g', state: 'waiting', at: 1 }),
          ).rejects.toMatchObject({ code: 'VK_RUN_NOT_FOUND' });
      });
    });

    describe('steps', () => {
      it('lists steps as they ran whatever the order they were recorded in: pre steps, by index, post steps', async () => {
        const run = await runs().createRun(newRun());
        const jobId = jobIdFor(run.id, 0);
        await runs().addJobs([newJob(run.id, 0)]);
        const [pre, post] = [preStepBase, postStepBase];
        for (const index of [2, post + 1, 0, pre + 1, post, 1, pre])
          await runs().recordStep({ jobId, index, name: `step ${index}` });
        const listed = (await runs().listSteps(jobId)).map((step) => step.index);
        expect(listed).toEqual([pre, pre + 1, 0, 1, 2, post, post + 1]);
      });

      it('replaces the step at the same index, fields left out included', async () => {
        const run = await runs().createRun(newRun());
        const jobId = jobIdFor(run.id, 0);
        await runs().addJobs([newJob(run.id, 0)]);
        const finished = {
          jobId,
          index: 0,
          name: 'build',
          outcome: 'failure',
          conclusion: 'success',
          exitCode: 2,
          startedAt: 100,
          finishedAt: 200,
        } as const;
        await runs().recordStep({ jobId, index: 0, name: 'build', startedAt: 100 });
        await runs().recordStep(finished);
        expect(await runs().listSteps(jobId)).toEqual([finished]);
        await runs().recordStep({ jobId, index: 0, name: 'rebuild' });
        expect(await runs().listSteps(jobId)).toEqual([{ jobId, index: 0, name: 'rebuild' }]);
      });

      it('keeps every attempt of a step, in every job attempt, apart and in order', async () => {
        const run = await runs().createRun(newRun());
        const jobId = jobIdFor(run.id, 0);
        await runs().addJobs([newJob(run.id, 0)]);
        const failed = { outcome: 'failure', conclusion: 'failure', exitCode: 1 } as const;
        await runs().recordStep({ jobId, jobAttempt: 2, index: 0, name: 'build', outcome: 'success' });
        await runs().recordStep({ jobId, index: 1, name: 'test', attempt: 2, outcome: 'success' });
        await runs().recordStep({ jobId, index: 1, name: 'test', ...failed });
        await runs().recordStep({ jobId, index: 0, name: 'build', outcome: 'success' });
        await runs().recordStep({
          jobId,
          jobAttempt: 1,
          index: 1,
          attempt: 1,
          name: 'test',
          ...failed,
          exitCode: 3,
        });
        expect(await runs().listSteps(jobId)).toEqual([
          { jobId, index: 0, name: 'build', outcome: 'success' },
          { jobId, index: 1, name: 'test', ...failed, exitCode: 3 },
          { jobId, index: 1, attempt: 2, name: 'test', outcome: 'success' },
          { jobId, jobAttempt: 2, index: 0, name: 'build', outcome: 'success' },
        ]);
      });

      it('lists the steps of a job attempt and later ones only, when asked', async () => {
        const run = await runs().createRun(newRun());
        const jobId = jobIdFor(run.id, 0);
        await runs().addJobs([newJob(run.id, 0)]);
        for (const jobAttempt of [3, 1, 2])
          for (const index of [1, 0])
            await runs().recordStep({ jobId, jobAttempt, index, name: `s${index}` });
        const of = async (fromJobAttempt: number) =>
          (await runs().listSteps(jobId, { fromJobAttempt })).map((step) => [
            step.jobAttempt ?? 1,
            step.index,
          ]);
        expect(await of(2)).toEqual([
          [2, 0],
          [2, 1],
          [3, 0],
          [3, 1],
        ]);
        expect(await of(4)).toEqual([]);
        expect((await runs().listSteps(jobId)).length).toBe(6);
      });

      it("keeps a retried step attempt's delay and timeout, and replaces them with the attempt", async () => {
        const run = await runs().createRun(newRun());
        const jobId = jobIdFor(run.id, 0);
        await runs().addJobs([newJob(run.id, 0)]);
        const failed = { outcome: 'failure', conclusion: 'failure', exitCode: 1, finishedAt: 200 } as const;
        const kept = { retryDelayMs: 1500, timedOutAfterMs: 90_000 };
        await runs().recordStep({ jobId, index: 0, name: 'fetch', startedAt: 100 });
        await runs().recordStep({
          jobId,
          index: 0,
          name: 'fetch',
          startedAt: 100,
          ...failed,
          ...kept,
        });
        await runs().recordStep({ jobId, index: 0, attempt: 2, name: 'fetch', ...failed });
        expect(await runs().listSteps(jobId)).toEqual([
          { jobId, index: 0, name: 'fetch', startedAt: 100, ...failed, ...kept },
          { jobId, index: 0, attempt: 2, name: 'fetch', ...failed },
        ]);
        await runs().recordStep({ jobId, index: 0, name: 'fetch', ...failed });
        expect((await runs().listSteps(jobId))[0]).toEqual({ jobId, index: 0, name: 'fetch', ...failed });
      });

      it("keeps a step attempt's attempts in all (maxAttempts), and leaves it out where an older runner sent none", async () => {
        const run = await runs().createRun(newRun());
        const jobId = jobIdFor(run.id, 0);
        await runs().addJobs([newJob(run.id, 0)]);
        const failed = { outcome: 'failure', conclusion: 'failure', exitCode: 3, finishedAt: 200 } as const;
        await runs().recordStep({ jobId, index: 0, name: 'flaky', startedAt: 100 });
        await runs().recordStep({
          jobId,
          index: 0,
          name: 'flaky',
          ...failed,
          retryDelayMs: 200,
          maxAttempts: 3,
        });
        await runs().recordStep({ jobId, index: 0, attempt: 2, name: 'flaky', startedAt: 400 });
        await runs().recordStep({ jobId, index: 1, name: 'older', ...failed });
        expect(await runs().listSteps(jobId)).toEqual([
          { jobId, index: 0, name: 'flaky', ...failed, retryDelayMs: 200, maxAttempts: 3 },
          { jobId, index: 0, attempt: 2, name: 'flaky', startedAt: 400 },
          { jobId, index: 1, name: 'older', ...failed },
        ]);
        // The attempt's end replaces its start, the total included.
        await runs().recordStep({
          jobId,
          index: 0,
          attempt: 2,
          name: 'flaky',
          startedAt: 400,
          ...failed,
          maxAttempts: 3,
        });
        expect((await runs().listSteps(jobId))[1]).toEqual({
          jobId,
          index: 0,
          attempt: 2,
          name: 'flaky',
          startedAt: 400,
          ...failed,
          maxAttempts: 3,
        });
      });

      it('keeps a maxAttempts past 32 bits, as a workflow may give it (max-attempts is any whole number)', async () => {
        const run = await runs().createRun(newRun());
        const jobId = jobIdFor(run.id, 0);
        await runs().addJobs([newJob(run.id, 0)]);
        const ended = { outcome: 'success', conclusion: 'success', finishedAt: 200 } as const;
        await runs().recordStep({ jobId, index: 0, name: 'patient', ...ended, maxAttempts: 3_000_000_000 });
        expect(await runs().listSteps(jobId)).toEqual([
          { jobId, index: 0, name: 'patient', ...ended, maxAttempts: 3_000_000_000 },
        ]);
      });

      it("keeps each job's steps apart", async () => {
        const run = await runs().createRun(newRun());
        await runs().addJobs([newJob(run.id, 0), newJob(run.id, 1)]);
        await runs().recordStep({ jobId: jobIdFor(run.id, 0), index: 0, name: 'a' });
        await runs().recordStep({ jobId: jobIdFor(run.id, 1), index: 0, name: 'b' });
        expect((await runs().listSteps(jobIdFor(run.id, 1))).map((step) => step.name)).toEqual(['b']);
        expect(await runs().listSteps(asJobId('nope.0'))).toEqual([]);
      });

      it('rejects a step of an unknown job with VK_JOB_NOT_FOUND', async () => {
        await expect(
          runs().recordStep({ jobId: asJobId('nope.0'), index: 0, name: 'x' }),
        ).rejects.toMatchObject({
          code: 'VK_JOB_NOT_FOUND',
        });
      });
    });
  });
}
