import { ValkyrieError } from '../core/errors.js';
import { isRecord } from '../core/is-record.js';
import { type ApiJobAttempt, type ApiStep, readJobDetails } from './job-details-answer.js';
import { readRunnerAbsence } from './runner-absence-answer.js';
import type { RunHandoff, RunnerElsewhere } from './views/format.js';
import type { ShownRunnerAbsence } from './views/runner-absence.js';
import type { ShownStaleWrite } from './views/stale-writes.js';
import { isStringList, readWaiting, type WaitingJob } from './waiting-job.js';

// A server's answers about runs, read and checked field by field (ServerClient): what this client
// reads of each, whatever else a newer server sends.

/** A run as the server shows it (`RunView` of the HTTP API); fields this client reads are checked. */
export interface ApiRun {
  readonly id: string;
  readonly runNumber: number;
  readonly workflowName: string;
  readonly status: string;
  /** Which attempt of the run this is (1, or more after a re-run), when the answer says. */
  readonly attempt?: number;
  /** Its queued jobs that no connected runner that takes jobs has the labels for, as the answer tells them. */
  readonly waiting?: readonly WaitingJob[];
}

/**
 * A run with its jobs, as `GET /api/v1/runs[/:id]` shows it: the RunView (run-views.ts) that
 * `valkyrie show` and `runs` print, a server's as this client reads it, or a local run's as built.
 */
export interface ApiRunDetail extends ApiRun {
  readonly attempt: number;
  /** A local run whose process died: only a local view has it (no server's run is). */
  readonly interrupted?: true;
  readonly createdAt: number;
  /** When its jobs could start (its concurrency group admitted it); absent from servers before it. */
  readonly startedAt?: number;
  readonly finishedAt?: number;
  /** The jobs the run was narrowed to (`jobs` of the submit); in a single run's view only. */
  readonly selectedJobs?: readonly string[];
  /** The matrix filter the run was narrowed with (`matrix` of the submit); in a single run's view only. */
  readonly matrixFilter?: Readonly<Record<string, readonly string[]>>;
  /** Its place in its workflow's concurrency group; absent without one, and from servers before it. */
  readonly concurrency?: { readonly group: string; readonly state: string; readonly ahead?: number };
  readonly jobs: readonly ApiJob[];
}

export interface ApiJob {
  readonly id: string;
  /** The job's key under `jobs:`; shared by the legs of a matrix. */
  readonly key: string;
  readonly name: string;
  readonly status: string;
  readonly attempt: number;
  /** When this attempt started and ended. */
  readonly startedAt?: number;
  readonly finishedAt?: number;
  /** A finished job's whole time, from its first attempt's start (the runs list: only at its first attempt). */
  readonly durationMs?: number;
  /** Queued, it is not offered before this time (`not-before`, a retry's delay). */
  readonly notBefore?: number;
  readonly reason?: string;
  /** It failed and its job-level continue-on-error let the run go on (its status stays failed). */
  readonly continuedOnError?: true;
  /** Its run's re-run runs it again and has not started that yet: its status is its earlier attempt's. */
  readonly waitingToRunAgain?: true;
  /** Its ended attempts and every attempt of its steps: in a single run's view, from servers that give them. */
  readonly attempts?: readonly ApiJobAttempt[];
  readonly steps?: readonly ApiStep[];
  /** The runner that started this attempt. */
  readonly runner?: { readonly id: string; readonly name: string };
  /** Running, its runner is not connected: the server waits for it until the job's lease expires. */
  readonly runnerDisconnected?: ShownRunnerAbsence;
  /** Messages about the job refused under a stale lease, in the order refused. */
  readonly staleWrites: readonly ShownStaleWrite[];
  /** Queued, it waits for a runner with these labels: no connected runner that takes jobs has them all. */
  readonly noRunnerWith?: readonly string[];
  /** With `noRunnerWith`: the connected runners that have them are drained or in maintenance. */
  readonly setAside?: true;
  /** With `noRunnerWith`: the server is shutting down and offers no job. */
  readonly serverClosing?: true;
  /** With `noRunnerWith`: runners that have them, connected to another replica than the run's. */
  readonly runnersElsewhere?: readonly RunnerElsewhere[];
  /** With `runnersElsewhere`: whether the run moves to their replica, or why not. */
  readonly handoff?: RunHandoff;
}

/**
 * A run of `GET /api/v1/runs[/:id]`: its view as the server sent it, every field (what `--json`
 * prints, as `valkyrie show --json` prints a local run's), and the fields this client reads of it, checked.
 */
export interface ServerRun {
  readonly view: Readonly<Record<string, unknown>>;
  readonly run: ApiRunDetail;
}

export function readRun(json: unknown): ApiRun {
  const run = isRecord(json) ? json.run : undefined;
  const runNumber = isRecord(run) ? runNumberOf(run) : undefined;
  if (
    isRecord(run) &&
    typeof run.id === 'string' &&
    runNumber !== undefined &&
    typeof run.workflowName === 'string' &&
    typeof run.status === 'string'
  )
    return {
      id: run.id,
      runNumber,
      workflowName: run.workflowName,
      status: run.status,
      ...(typeof run.attempt === 'number' ? { attempt: run.attempt } : {}),
      waiting: Array.isArray(run.jobs) ? run.jobs.flatMap(readWaiting) : [],
    };
  throw new ValkyrieError(
    'VK_SERVER_RESPONSE',
    'the server answered without a run {id, runNumber, workflowName, status}',
  );
}

/** The run's `runNumber`; a server from before the name matched the local `--json` sent it as `number`. */
function runNumberOf(run: Record<string, unknown>): number | undefined {
  const runNumber = run.runNumber ?? run.number;
  return typeof runNumber === 'number' ? runNumber : undefined;
}

const runDetailFields = 'a run {id, runNumber, workflowName, status, createdAt, jobs}';

export function readServerRun(view: unknown): ServerRun {
  if (!isRecord(view)) throw badAnswer(runDetailFields);
  return { view, run: readRunDetail(view) };
}

function readRunDetail(run: Record<string, unknown>): ApiRunDetail {
  if (!Array.isArray(run.jobs) || typeof run.createdAt !== 'number') throw badAnswer(runDetailFields);
  const { id, workflowName, status, attempt, createdAt, startedAt, finishedAt, selectedJobs } = run;
  const { matrixFilter, concurrency } = run;
  const runNumber = runNumberOf(run);
  if (typeof id !== 'string' || runNumber === undefined || typeof workflowName !== 'string')
    throw badAnswer(runDetailFields);
  return {
    id,
    runNumber,
    workflowName,
    status: String(status),
    attempt: typeof attempt === 'number' ? attempt : 1,
    createdAt,
    ...(typeof startedAt === 'number' ? { startedAt } : {}),
    ...(typeof finishedAt === 'number' ? { finishedAt } : {}),
    ...(isStringList(selectedJobs) ? { selectedJobs } : {}),
    ...(isRecord(matrixFilter) && Object.values(matrixFilter).every(isStringList)
      ? { matrixFilter: matrixFilter as Record<string, string[]> }
      : {}),
    ...(isRecord(concurrency) &&
    typeof concurrency.group === 'string' &&
    typeof concurrency.state === 'string'
      ? {
          concurrency: {
            group: concurrency.group,
            state: concurrency.state,
            ...(typeof concurrency.ahead === 'number' ? { ahead: concurrency.ahead } : {}),
          },
        }
      : {}),
    jobs: run.jobs.map(readJob),
  };
}

function readJob(job: unknown): ApiJob {
  if (
    !isRecord(job) ||
    typeof job.id !== 'string' ||
    typeof job.name !== 'string' ||
    typeof job.status !== 'string'
  )
    throw badAnswer('jobs [{id, name, status}]');
  const { id, key, name, status, attempt, startedAt, finishedAt, durationMs, notBefore, reason } = job;
  const { runner, staleWrites } = job;
  return {
    id,
    key: typeof key === 'string' ? key : name,
    name,
    status,
    attempt: typeof attempt === 'number' ? attempt : 1,
    ...(typeof startedAt === 'number' ? { startedAt } : {}),
    ...(typeof finishedAt === 'number' ? { finishedAt } : {}),
    ...(typeof durationMs === 'number' ? { durationMs } : {}),
    ...(typeof notBefore === 'number' ? { notBefore } : {}),
    ...(typeof reason === 'string' ? { reason } : {}),
    ...(job.continuedOnError === true ? { continuedOnError: true } : {}),
    ...(job.waitingToRunAgain === true ? { waitingToRunAgain: true } : {}),
    ...(isRecord(runner) && typeof runner.id === 'string' && typeof runner.name === 'string'
      ? { runner: { id: runner.id, name: runner.name } }
      : {}),
    ...readRunnerAbsence(job),
    staleWrites: Array.isArray(staleWrites) ? staleWrites.flatMap(readStaleWrite) : [],
    ...waitingFields(readWaiting(job)[0]),
    ...readJobDetails(job),
  };
}

function waitingFields(
  waiting: WaitingJob | undefined,
): Pick<ApiJob, 'noRunnerWith' | 'setAside' | 'serverClosing' | 'runnersElsewhere' | 'handoff'> {
  if (waiting === undefined) return {};
  const { name: _name, ...fields } = waiting;
  return fields;
}

/** A refused write as the run view lists it; one missing a field this client reads is left out. */
function readStaleWrite(write: unknown): ShownStaleWrite[] {
  if (!isRecord(write)) return [];
  const { messageType, fencingToken, currentToken, runnerId, at } = write;
  if (typeof messageType !== 'string' || typeof fencingToken !== 'number' || typeof at !== 'number')
    return [];
  return [
    {
      messageType,
      fencingToken,
      ...(typeof currentToken === 'number' ? { currentToken } : {}),
      ...(typeof runnerId === 'string' ? { runnerId } : {}),
      at,
    },
  ];
}

export function badAnswer(expected: string): ValkyrieError {
  return new ValkyrieError('VK_SERVER_RESPONSE', `the server answered without ${expected}`);
}
