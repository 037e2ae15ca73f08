import type { JobId, RunId } from '../core/ids.js';
import type { AttemptStatus, JobStatus, RunStatus, StepResult } from '../core/outcome.js';
import type { Priority } from '../core/priority.js';
import type { LogLine } from './logs.js';
import type { RunSubmission, SubmitOutcome } from './submissions.js';

export interface NewRun {
  readonly workflowName: string;
  /** Path of the workflow file as the user gave it, for display. */
  readonly workflowPath: string;
  readonly createdAt: number;
  /** git sha and ref of the workspace, when it is a git repository */
  readonly sha?: string;
  readonly ref?: string;
}

export interface RunRecord extends NewRun {
  readonly id: RunId;
  /** Increments per workflow name, like GitHub's run_number. */
  readonly runNumber: number;
  readonly status: RunStatus;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  /** GitHub's run_attempt: 1, then one more for each re-run (RunRecoveryStore.reopen); absent means 1. */
  readonly attempt?: number;
  /** Its place in its workflow's concurrency group, as its driver last recorded it (recordConcurrency). */
  readonly concurrency?: RunConcurrency;
}

/**
 * A run's place in its workflow's concurrency group: `waiting` (before it starts; `ahead` members
 * before it), `admitted` (the group gave it the slot, after it waited), `replaced` (a newer run took its
 * place before it started) or `cancel-requested` (a newer run asked it to stop while it ran). Kept so
 * that a process that does not drive the run can tell its followers.
 */
export interface RunConcurrency {
  readonly group: string;
  readonly state: 'waiting' | 'admitted' | 'replaced' | 'cancel-requested';
  readonly ahead?: number;
  readonly at: number;
  /**
   * When this attempt of the run joined its group — a re-run's own join, not the first attempt's —
   * so that the wait until `admitted` can be told (`startedAt - joinedAt`). Absent where not recorded
   * (a record from before it was kept).
   */
  readonly joinedAt?: number;
}

export interface NewJob {
  readonly id: JobId;
  readonly runId: RunId;
  /** The job's key under `jobs:` in the workflow. */
  readonly key: string;
  /** Display name: GitHub's, e.g. `test (alpha, fast)` for a matrix leg. */
  readonly name: string;
  /** The matrix leg's values, or `{}` for a job without a matrix. */
  readonly matrix: Readonly<Record<string, unknown>>;
  readonly status: JobStatus;
}

/** The fleet runner that started a job's attempt (its credential's id and its registered name). */
export interface JobRunner {
  readonly id: string;
  readonly name: string;
}

export interface JobRecord extends NewJob {
  readonly startedAt?: number;
  readonly finishedAt?: number;
  readonly outputs: Readonly<Record<string, string>>;
  /** Why the job ended as it did, when that is not obvious from its status (e.g. the failing step). */
  readonly reason?: string;
  /** The attempt the record describes, from 1; absent means 1. Earlier ones: listJobAttempts. */
  readonly attempt?: number;
  /** When this attempt was last put in the queue to be offered to runners (not while a job-level group held it). */
  readonly queuedAt?: number;
  /** This attempt is not offered before this time (a retry's delay). */
  readonly notBefore?: number;
  readonly priority?: Priority;
  /**
   * The runner that started this attempt (the last one, if it was requeued and started again);
   * absent while it has not started, and for a job run in the local mode.
   */
  readonly runner?: JobRunner;
  /**
   * The fencing token of the lease `runner` was granted for this attempt, kept so that a control plane
   * that takes the run over can hold that lease for the runner while it reconnects; absent with
   * `runner`.
   */
  readonly fencingToken?: number;
  /**
   * The attempt the job's `retry:` budget counts from: a re-run's first attempt (a re-run gives the
   * job its whole budget again), or one past an attempt requeued because its runner was lost (which
   * uses up no retry). Absent means 1, and 1 reads as absent, as for `attempt`. Kept so that a run
   * restored from the store (resume, takeover) counts the job's retries as its last driver did.
   */
  readonly triesFrom?: number;
  /**
   * The job failed and its job-level `continue-on-error` let the run go on: it shows failed while its
   * `needs.<id>.result` read `success` (engine/leg.ts, continuedOnError). Absent otherwise.
   */
  readonly continuedOnError?: true;
  /**
   * The attempt of the job that the run's latest re-run runs again (RunRecoveryStore.reopen marks it).
   * While `attempt` is still this one, the record holds that earlier attempt's final result, not this
   * re-run's: the re-run had not planned the job's next attempt yet (a job after a re-run one is
   * planned once its needs are done). Absent for a job that re-run keeps, or when there was none.
   */
  readonly rerunAttempt?: number;
}

export interface JobPatch {
  readonly status?: JobStatus;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  readonly outputs?: Readonly<Record<string, string>>;
  readonly reason?: string;
  /**
   * Starts this attempt of the job (`retry:`): startedAt, finishedAt and reason are cleared, unless
   * the same patch sets them. The ended attempt is kept with recordJobAttempt first.
   */
  readonly attempt?: number;
  /**
   * A re-run may plan a job's legs anew (a matrix from changed outputs, or a job skipped before that
   * expands now): the attempt it starts then carries the leg's new display name and matrix values.
   */
  readonly name?: string;
  readonly matrix?: Readonly<Record<string, unknown>>;
  /** Like startedAt, cleared by a patch that starts another attempt unless the same patch sets it. */
  readonly queuedAt?: number;
  /** Like startedAt, cleared by a patch that starts another attempt unless the same patch sets it. */
  readonly notBefore?: number;
  readonly priority?: Priority;
  /** Like startedAt, cleared by a patch that starts another attempt unless the same patch sets it. */
  readonly runner?: JobRunner;
  /** Like startedAt, cleared by a patch that starts another attempt unless the same patch sets it. */
  readonly fencingToken?: number;
  /**
   * Like priority, kept by a patch that starts another attempt without it: a retry counts from where
   * the job's retries did. The control plane sets it with each attempt it starts after the first (a
   * retry's, a re-run's, a requeue's after a lost runner); the last two move it.
   */
  readonly triesFrom?: number;
  /** Like reason: set with the job's end, cleared by a patch that starts another attempt unless it sets it. */
  readonly continuedOnError?: true;
}

/** One job's patch in an updateJobs call. */
export interface JobUpdate {
  readonly id: JobId;
  readonly patch: JobPatch;
}

/** An attempt of a job that ended and was retried; the job's record holds its latest attempt. */
export interface JobAttemptRecord {
  readonly jobId: JobId;
  /** From 1. */
  readonly attempt: number;
  /** `runner_lost`: its runner was lost and the job requeued as its next attempt (AttemptStatus). */
  readonly status: AttemptStatus;
  readonly startedAt?: number;
  readonly finishedAt: number;
  readonly reason?: string;
  /** Set when the job was retried after this attempt (`retry:`, or a lost process): after how long, and why. */
  readonly retry?: { readonly delayMs: number; readonly reason: string };
  /** The runner that started this attempt, as JobRecord.runner. */
  readonly runner?: JobRunner;
  /**
   * The fencing token of the lease `runner` held for this attempt, as JobRecord.fencingToken, kept so
   * that the runner's completion of it, sent again after a reconnect, is known for the end stored here.
   */
  readonly fencingToken?: number;
}

export interface StepRecord {
  readonly jobId: JobId;
  /** The job attempt the step ran in, from 1; absent means 1. */
  readonly jobAttempt?: number;
  /** Position in the job's steps, from 0; an action's pre or post step has its own (step-phases.ts). */
  readonly index: number;
  /** The step's own attempt (step `retry:`), from 1; absent means 1. */
  readonly attempt?: number;
  readonly name: string;
  readonly outcome?: StepResult;
  readonly conclusion?: StepResult;
  readonly exitCode?: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  /** Set on a step attempt that another attempt followed (step `retry:`): after how long. */
  readonly retryDelayMs?: number;
  /** Set on a step attempt that its `timeout-minutes` stopped: that limit, in ms. */
  readonly timedOutAfterMs?: number;
  /**
   * The attempts in all its `retry:` allows (`max-attempts`), as the runner reported it with the
   * attempt's end; absent while it runs, without `retry:`, and from a runner older than the field.
   */
  readonly maxAttempts?: number;
}

export interface ListRunsOptions {
  /** Default 20; at most this many. */
  readonly limit?: number;
  /** Only runs strictly older than this one (keyset paging: the last run of the previous page). */
  readonly before?: RunId;
  /** Only runs in one of these statuses (none: any). */
  readonly statuses?: readonly RunStatus[];
  /**
   * Only runs of this workflow: its name, its path as stored, or the file name that path ends with
   * (`ci.yml` for `.github/workflows/ci.yml`), compared exactly.
   */
  readonly workflow?: string;
}

/** The statuses of a run that has not ended: what a takeover sweep looks for. */
export const unfinishedRunStatuses: readonly RunStatus[] = ['queued', 'running'];

/**
 * Whether `statuses` asks for unfinished runs only: the stores then look them up in their partial
 * index of unfinished runs (`runs_unfinished`) instead of going through every run, newest first, as
 * a takeover sweep of a long history would.
 */
export function unfinishedOnly(statuses: readonly RunStatus[] | undefined): boolean {
  return (
    statuses !== undefined &&
    statuses.length > 0 &&
    statuses.every((status) => unfinishedRunStatuses.includes(status))
  );
}

/**
 * Runs, their jobs and the jobs' steps (one aggregate).
 *
 * Every method is durable when its promise resolves (per the store's durability setting). Calls are
 * applied in the order they are made, also when the caller does not wait for one before making the
 * next: the control plane relies on that to let many writes share one commit.
 *
 * Fenced (store/run-fence.ts): addJobs, updateRun, updateJob, updateJobs, recordStep, recordJobAttempt
 * and recordConcurrency of a run recorded as owned by a process other than the store's writer
 * (RunRecoveryStore.claim moved it) reject with RunTakenOverError (VK_RUN_TAKEN_OVER) and change
 * nothing of that run. updateJobs applies the updates and lines of the other runs of the call, and
 * rejects once they are written; a missing job still fails the whole call (VK_JOB_NOT_FOUND).
 */
export interface RunStore {
  /** Assigns the id and run number atomically. */
  createRun(run: NewRun): Promise<RunRecord>;
  /**
   * createRun with admission checks, all in the run's own transaction and serialised with every other
   * submission to the store, also from other processes: first the idempotency key (a run with it,
   * created less than the window before `run.createdAt`, is returned as `duplicate`), then the capacity
   * (`queue_full`). Either way nothing is written. An expired key moves to the new run.
   */
  submitRun(run: NewRun, submission: RunSubmission): Promise<SubmitOutcome>;
  /** Jobs of unfinished runs that are not final, counting planned jobs not added yet. */
  countUnfinishedJobs(): Promise<number>;
  /** Adds jobs to a run (matrix legs are added when their job is expanded). All or nothing. */
  addJobs(jobs: readonly NewJob[]): Promise<void>;
  updateRun(id: RunId, patch: { status: RunStatus; startedAt?: number; finishedAt?: number }): Promise<void>;
  updateJob(id: JobId, patch: JobPatch): Promise<void>;
  /**
   * updateJob for each update, in their order (a job may appear more than once), then LogStore.append
   * of `lines`, as one write: all or nothing, VK_JOB_NOT_FOUND (and nothing changed) when one of the
   * jobs (or a line's job) does not exist. The control plane hands the job updates of one turn of the
   * event loop here together, with its own lines about them (the runner a job started on): a store
   * may join consecutive calls into one write, which a separate append between them would prevent.
   */
  updateJobs(updates: readonly JobUpdate[], lines?: readonly LogLine[]): Promise<void>;
  /** Inserts or replaces the step at (jobId, jobAttempt, index, attempt): each attempt is its own record. */
  recordStep(step: StepRecord): Promise<void>;
  /** Inserts or replaces the attempt at (jobId, attempt). */
  recordJobAttempt(attempt: JobAttemptRecord): Promise<void>;
  /** Replaces the run's concurrency state; VK_RUN_NOT_FOUND for a run that does not exist. */
  recordConcurrency(runId: RunId, concurrency: RunConcurrency): Promise<void>;
  getRun(id: RunId): Promise<RunRecord | undefined>;
  /**
   * Newest first (by id: a run created later has a greater one, whatever the `createdAt` callers give),
   * those that pass every filter given (`statuses`, `workflow`). With `before`, only runs strictly older
   * than that run (keyset paging: pass the last run of one page, and the same filters, to get the next;
   * the run itself need not exist any more). A `before` that is not a run id of this store lists nothing.
   */
  listRuns(options?: ListRunsOptions): Promise<RunRecord[]>;
  /** In the order they were added. */
  listJobs(runId: RunId): Promise<JobRecord[]>;
  /**
   * Ordered by job attempt, the order the steps ran (stepRunOrder of the index: a JavaScript action's
   * pre steps, the job's steps, post steps), then step attempt. Fields equal to 1 (attempts) are absent.
   * `fromJobAttempt`: only the steps of that job attempt and later ones.
   */
  listSteps(jobId: JobId, options?: { fromJobAttempt?: number }): Promise<StepRecord[]>;
  /** The job's ended, retried attempts, by attempt; empty for a job that ran once. */
  listJobAttempts(jobId: JobId): Promise<JobAttemptRecord[]>;
}
