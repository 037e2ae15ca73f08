import { asRunId } from '../core/ids.js';
import type { JobRecord, RunRecord, RunStore } from '../store/runs.js';
import { ApiError } from './api-error.js';
import type { RunView } from './schemas.js';

/** The API's view of a run: the run and its jobs, as the store has them. */
export async function runView(runs: RunStore, run: RunRecord): Promise<RunView> {
  const jobs = await runs.listJobs(run.id);
  return {
    id: run.id,
    number: run.runNumber,
    workflowName: run.workflowName,
    status: run.status,
    attempt: run.attempt ?? 1,
    createdAt: run.createdAt,
    ...(run.finishedAt === undefined ? {} : { finishedAt: run.finishedAt }),
    jobs: jobs.map(jobView),
  };
}

function jobView(job: JobRecord): RunView['jobs'][number] {
  const { startedAt, finishedAt } = job;
  return {
    id: job.id,
    key: job.key,
    name: job.name,
    status: job.status,
    attempt: job.attempt ?? 1,
    ...(job.reason === undefined ? {} : { reason: job.reason }),
    ...(startedAt !== undefined && finishedAt !== undefined ? { durationMs: finishedAt - startedAt } : {}),
    ...(job.runner === undefined ? {} : { runner: { id: job.runner.id, name: job.runner.name } }),
  };
}

/** The run, or 404 naming the id. */
export async function findRun(runs: RunStore, id: string): Promise<RunRecord> {
  const run = /^[A-Za-z0-9_-]+$/.test(id) ? await runs.getRun(asRunId(id)) : undefined;
  if (run === undefined)
    throw new ApiError(404, 'VK_RUN_NOT_FOUND', `no run with id ${JSON.stringify(id)}`, {
      path: 'params.id',
    });
  return run;
}
