import { asRunId } from '../core/ids.js';
import { isTerminal } from '../core/outcome.js';
import type { NoRunnerFields } from '../engine/job-records.js';
import type { RunnerAbsence } from '../engine/runner-absence.js';
import { jobDurationMs } from '../store/job-duration.js';
import type { RunRecoveryStore, StoredRunRequest } from '../store/recovery.js';
import type {
  JobAttemptRecord,
  JobRecord,
  JobRunner,
  RunConcurrency,
  RunRecord,
  RunStore,
  StepRecord,
} from '../store/runs.js';
import { type StaleWrite, type StaleWriteStore, staleWritesByJob } from '../store/stale-writes.js';
import { ApiError } from './api-error.js';
import type { JobAttemptView, RunView, StepView } from './run-view-schemas.js';

type ViewStores = { readonly runs: RunStore; readonly staleWrites: StaleWriteStore };

/**
 * What the control plane knows of the jobs of the runs it drives that the store does not: the
 * ControlPlane's. For a job of a run not driven here, `{}` and undefined.
 */
export interface DrivenJobs {
  /** Why a queued job waits for a runner; `{}` when it does not. */
  waitingForRunner(jobId: string): NoRunnerFields;
  /** A running job's runner whose connection closed, while the job's lease waits for it. */
  runnerAbsence(jobId: string): RunnerAbsence | undefined;
}

const notKnown: DrivenJobs = { waitingForRunner: () => ({}), runnerAbsence: () => undefined };

/**
 * A run as the store has it; for a local run whose `valkyrie run` process is gone, `interrupted`
 * (derived, history.ts: the store keeps the status it stopped in).
 */
export type ViewedRun = RunRecord & { readonly interrupted?: true };

/**
 * The view of a run that the API answers and `valkyrie show --json` prints, of a local run as of a
 * server's (run-view-schemas.ts): the run and its jobs, as the store has them, each job with the writes
 * refused under a stale lease of it (one read for the run's jobs), and the jobs (`selectedJobs`) and
 * matrix legs (`matrixFilter`) it was narrowed to, since its job list alone reads as the whole
 * workflow's run. `request` is the run's stored request when the caller holds it (a run just
 * submitted may not be stored for takeover yet).
 * With `details` (GET of one run), each job also has its ended attempts and its steps, and its whole
 * time as `valkyrie show` tells it: two reads per job (one for a job at its first attempt), so the runs
 * list never asks for them.
 */
export async function runView(
  stores: ViewStores & { readonly recovery: RunRecoveryStore },
  run: ViewedRun,
  request?: StoredRunRequest,
  driven: DrivenJobs = notKnown,
  { details = false }: { readonly details?: boolean } = {},
): Promise<RunView> {
  const jobs = await stores.runs.listJobs(run.id);
  const staleOf = await staleWritesByJob(stores.staleWrites, jobs);
  const detailsOf = details ? await jobDetails(stores.runs, jobs) : undefined;
  const view = viewOf(run, jobs, staleOf, driven, detailsOf);
  const stored = request ?? (await stores.recovery.getResumable(run.id))?.request;
  const selected = stored?.selectedJobs;
  const matrixFilter = stored?.matrixFilter;
  if (selected === undefined && matrixFilter === undefined) return view;
  // Before `jobs`, as `valkyrie show --json` orders a local run's.
  const { jobs: shown, ...rest } = view;
  return {
    ...rest,
    ...(selected === undefined ? {} : { selectedJobs: [...selected] }),
    ...(matrixFilter === undefined
      ? {}
      : { matrixFilter: Object.fromEntries(Object.entries(matrixFilter).map(([k, v]) => [k, [...v]])) }),
    jobs: shown,
  };
}

/**
 * `runView` of each run, with one read of stale writes for all their jobs (a page of the runs list),
 * but without `selectedJobs` or `matrixFilter`: that is a read of each run's stored request, workflow text and all; nor
 * the jobs' attempts and steps, nor the duration of a job past its first attempt, which need reads
 * per job.
 */
export async function runViews(
  stores: ViewStores,
  runs: readonly ViewedRun[],
  driven: DrivenJobs = notKnown,
): Promise<RunView[]> {
  const jobsOf = await Promise.all(runs.map((run) => stores.runs.listJobs(run.id)));
  const staleOf = await staleWritesByJob(stores.staleWrites, jobsOf.flat());
  return runs.map((run, i) => viewOf(run, jobsOf[i] ?? [], staleOf, driven));
}

interface JobDetails {
  readonly ended: readonly JobAttemptRecord[];
  readonly steps: readonly StepRecord[];
}

/** Each job's ended attempts (none before its second: not read) and steps, by job id. */
async function jobDetails(runs: RunStore, jobs: readonly JobRecord[]): Promise<Map<string, JobDetails>> {
  const read = await Promise.all(
    jobs.map(async (job) => {
      const [ended, steps] = await Promise.all([
        (job.attempt ?? 1) > 1 ? runs.listJobAttempts(job.id) : [],
        runs.listSteps(job.id),
      ]);
      return [job.id as string, { ended, steps }] as const;
    }),
  );
  return new Map(read);
}

function viewOf(
  run: ViewedRun,
  jobs: readonly JobRecord[],
  staleOf: ReadonlyMap<string, StaleWrite[]>,
  driven: DrivenJobs,
  detailsOf?: ReadonlyMap<string, JobDetails>,
): RunView {
  return {
    ...runFieldsView(run),
    jobs: jobs.map((job) => {
      const stale = (staleOf.get(job.id) ?? []).map(staleWriteView);
      const view = jobView(
        job,
        stale,
        detailsOf === undefined ? undefined : (detailsOf.get(job.id) ?? noDetails),
        run.status === 'queued' || run.status === 'running',
      );
      if (job.status === 'running') return withRunnerAbsence(view, driven.runnerAbsence(job.id));
      if (job.status !== 'queued') return view;
      const { noRunnerWith, setAside, serverClosing } = driven.waitingForRunner(job.id);
      if (noRunnerWith === undefined) return view;
      return {
        ...view,
        noRunnerWith: [...noRunnerWith],
        ...(setAside ? { setAside } : {}),
        ...(serverClosing ? { serverClosing } : {}),
      };
    }),
  };
}

type JobView = RunView['jobs'][number];

/** Its fields picked one by one, as the attempts' are: one the engine adds stays out until the view names it. */
function withRunnerAbsence(view: JobView, absence: RunnerAbsence | undefined): JobView {
  if (absence === undefined) return view;
  const { since, leaseExpiresAt, atExpiry } = absence;
  return {
    ...view,
    runnerDisconnected: { ...(since === undefined ? {} : { since }), leaseExpiresAt, atExpiry },
  };
}

/**
 * The run's own fields of its view, without its jobs: what `valkyrie runs` prints of a local run,
 * which needs no read of its jobs.
 */
export function runFieldsView(run: ViewedRun): Omit<RunView, 'jobs'> {
  return {
    id: run.id,
    runNumber: run.runNumber,
    workflowName: run.workflowName,
    workflowPath: run.workflowPath,
    ...(run.sha === undefined ? {} : { sha: run.sha }),
    ...(run.ref === undefined ? {} : { ref: run.ref }),
    status: run.status,
    ...(run.interrupted ? { interrupted: true } : {}),
    attempt: run.attempt ?? 1,
    createdAt: run.createdAt,
    ...(run.startedAt === undefined ? {} : { startedAt: run.startedAt }),
    ...(run.finishedAt === undefined ? {} : { finishedAt: run.finishedAt }),
    ...(run.concurrency === undefined ? {} : { concurrency: groupPlaceOf(run.concurrency) }),
  };
}

const noDetails: JobDetails = { ended: [], steps: [] };

/** Its fields picked one by one, as the attempts' are: a field the store adds stays out until the view names it. */
function groupPlaceOf({ group, state, ahead, at, joinedAt }: RunConcurrency): RunView['concurrency'] {
  return {
    group,
    state,
    ...(ahead === undefined ? {} : { ahead }),
    at,
    ...(joinedAt === undefined ? {} : { joinedAt }),
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

const durationOf = (startedAt?: number, finishedAt?: number) =>
  startedAt !== undefined && finishedAt !== undefined ? { durationMs: finishedAt - startedAt } : {};

/**
 * Without `details` (the runs list), a job past its first attempt has no duration: its whole time
 * starts at an earlier attempt's start, which is not read there. The record's own bookkeeping stays
 * out: its lease's fencing token, the attempt its retries count from, its run's id. While its run is
 * `going` again, a job its re-run marked (JobRecord.rerunAttempt) and still at that attempt, ended,
 * waits to run again: its status is that earlier attempt's, which the view says (`waitingToRunAgain`).
 */
function jobView(
  job: JobRecord,
  staleWrites: StaleWriteView[],
  details: JobDetails | undefined,
  going: boolean,
): RunView['jobs'][number] {
  const { startedAt, finishedAt } = job;
  const attempt = job.attempt ?? 1;
  const whole =
    details !== undefined
      ? jobDurationMs(job, details.ended)
      : attempt === 1 && startedAt !== undefined && finishedAt !== undefined
        ? finishedAt - startedAt
        : undefined;
  const { queuedAt, notBefore, priority } = job;
  return {
    id: job.id,
    key: job.key,
    name: job.name,
    matrix: job.matrix,
    status: job.status,
    attempt,
    ...(startedAt === undefined ? {} : { startedAt }),
    ...(finishedAt === undefined ? {} : { finishedAt }),
    ...(job.reason === undefined ? {} : { reason: job.reason }),
    ...(job.continuedOnError ? { continuedOnError: true } : {}),
    ...(going && job.rerunAttempt === attempt && isTerminal(job.status) ? { waitingToRunAgain: true } : {}),
    ...(whole === undefined ? {} : { durationMs: whole }),
    ...(queuedAt === undefined ? {} : { queuedAt }),
    ...(notBefore === undefined ? {} : { notBefore }),
    ...(priority === undefined ? {} : { priority }),
    outputs: job.outputs,
    ...(job.runner === undefined ? {} : { runner: runnerView(job.runner) }),
    staleWrites,
    ...(details === undefined
      ? {}
      : { attempts: details.ended.map(attemptView), steps: details.steps.map(stepView) }),
  };
}

const runnerView = (runner: JobRunner) => ({ id: runner.id, name: runner.name });

/** Its fields picked one by one: a record's others (its lease's fencing token) stay out of the API. */
function attemptView(ended: JobAttemptRecord): JobAttemptView {
  const { attempt, status, startedAt, finishedAt, reason, retry, runner } = ended;
  return {
    attempt,
    status,
    ...(startedAt === undefined ? {} : { startedAt }),
    finishedAt,
    ...durationOf(startedAt, finishedAt),
    ...(reason === undefined ? {} : { reason }),
    ...(retry === undefined ? {} : { retry: { delayMs: retry.delayMs, reason: retry.reason } }),
    ...(runner === undefined ? {} : { runner: runnerView(runner) }),
  };
}

function stepView(step: StepRecord): StepView {
  const { index, name, jobAttempt, attempt, outcome, conclusion, exitCode, startedAt, finishedAt } = step;
  const { retryDelayMs, timedOutAfterMs, maxAttempts } = step;
  return {
    index,
    name,
    ...(jobAttempt === undefined ? {} : { jobAttempt }),
    ...(attempt === undefined ? {} : { attempt }),
    ...(outcome === undefined ? {} : { outcome }),
    ...(conclusion === undefined ? {} : { conclusion }),
    ...(exitCode === undefined ? {} : { exitCode }),
    ...(startedAt === undefined ? {} : { startedAt }),
    ...(finishedAt === undefined ? {} : { finishedAt }),
    ...durationOf(startedAt, finishedAt),
    ...(retryDelayMs === undefined ? {} : { retryDelayMs }),
    ...(timedOutAfterMs === undefined ? {} : { timedOutAfterMs }),
    ...(maxAttempts === undefined ? {} : { maxAttempts }),
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
