import { asRunId } from '../core/ids.js';
import type { NoRunnerFields } from '../engine/job-records.js';
import type { RunRecoveryStore, StoredRunRequest } from '../store/recovery.js';
import type { JobRecord, RunRecord, RunStore } from '../store/runs.js';
import { type StaleWrite, type StaleWriteStore, staleWritesByJob } from '../store/stale-writes.js';
import { ApiError } from './api-error.js';
import type { RunView } from './schemas.js';

type ViewStores = { readonly runs: RunStore; readonly staleWrites: StaleWriteStore };

/** Why a queued job waits for a runner (ControlPlane.waitingForRunner); `{}` when it does not, or is not driven here. */
export type WaitingOf = (jobId: string) => NoRunnerFields;

const notKnown: WaitingOf = () => ({});

/**
 * The API's view of a run: the run and its jobs, as the store has them, each job with the writes
 * refused under a stale lease of it (one read for the run's jobs), and the jobs it was narrowed to
 * (`selectedJobs`), since its job list alone reads as the whole workflow's run. `request` is the run's
 * stored request when the caller holds it (a run just submitted may not be stored for takeover yet).
 */
export async function runView(
  stores: ViewStores & { readonly recovery: RunRecoveryStore },
  run: RunRecord,
  request?: StoredRunRequest,
  waitingOf: WaitingOf = notKnown,
): Promise<RunView> {
  const [view] = await runViews(stores, [run], waitingOf);
  if (view === undefined) throw new Error(`run ${run.id} has no view`);
  const selected = (request ?? (await stores.recovery.getResumable(run.id))?.request)?.selectedJobs;
  if (selected === undefined) return view;
  // Before `jobs`, as `valkyrie show --json` orders a local run's.
  const { jobs, ...rest } = view;
  return { ...rest, selectedJobs: [...selected], jobs };
}

/**
 * `runView` of each run, with one read of stale writes for all their jobs (a page of the runs list),
 * but without `selectedJobs`: that is a read of each run's stored request, workflow text and all.
 */
export async function runViews(
  stores: ViewStores,
  runs: readonly RunRecord[],
  waitingOf: WaitingOf = notKnown,
): Promise<RunView[]> {
  const jobsOf = await Promise.all(runs.map((run) => stores.runs.listJobs(run.id)));
  const staleOf = await staleWritesByJob(stores.staleWrites, jobsOf.flat());
  return runs.map((run, i) => viewOf(run, jobsOf[i] ?? [], staleOf, waitingOf));
}

function viewOf(
  run: RunRecord,
  jobs: readonly JobRecord[],
  staleOf: ReadonlyMap<string, StaleWrite[]>,
  waitingOf: WaitingOf,
): RunView {
  return {
    id: run.id,
    number: run.runNumber,
    workflowName: run.workflowName,
    status: run.status,
    attempt: run.attempt ?? 1,
    createdAt: run.createdAt,
    ...(run.finishedAt === undefined ? {} : { finishedAt: run.finishedAt }),
    jobs: jobs.map((job) => {
      const view = jobView(job, (staleOf.get(job.id) ?? []).map(staleWriteView));
      if (job.status !== 'queued') return view;
      const { noRunnerWith, setAside } = waitingOf(job.id);
      if (noRunnerWith === undefined) return view;
      return { ...view, noRunnerWith: [...noRunnerWith], ...(setAside ? { setAside } : {}) };
    }),
  };
}

type StaleWriteView = RunView['jobs'][number]['staleWrites'][number];

function staleWriteView(write: StaleWrite): StaleWriteView {
  const { messageType, fencingToken, currentToken, runnerId, at } = write;
  return {
    messageType,
    fencingToken,
    ...(currentToken === undefined ? {} : { currentToken }),
    ...(runnerId === undefined ? {} : { runnerId }),
    at,
  };
}

function jobView(job: JobRecord, staleWrites: StaleWriteView[]): RunView['jobs'][number] {
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
    staleWrites,
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

/** The run and its job `jobId`, for routes that take `?job=`: 404 VK_RUN_NOT_FOUND or VK_JOB_NOT_FOUND. */
export async function findRunJob(
  runs: RunStore,
  runId: string,
  jobId: string,
): Promise<{ readonly run: RunRecord; readonly job: JobRecord }> {
  const run = await findRun(runs, runId);
  const job = (await runs.listJobs(run.id)).find((candidate) => candidate.id === jobId);
  if (job === undefined)
    throw new ApiError(404, 'VK_JOB_NOT_FOUND', `run ${run.id} has no job ${JSON.stringify(jobId)}`, {
      path: 'query.job',
    });
  return { run, job };
}
