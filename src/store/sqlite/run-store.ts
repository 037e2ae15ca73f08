import type Database from 'better-sqlite3';
import { ValkyrieError } from '../../core/errors.js';
import { asJobId, type JobId, type RunId } from '../../core/ids.js';
import type { RunStatus } from '../../core/outcome.js';
import { stepRunOrderSql } from '../../core/step-phases.js';
import type { LogLine } from '../logs.js';
import {
  concurrencyOfRow,
  defaultRunLimit,
  type JobAttemptRow as JobAttemptRowOf,
  type JobRow as JobRowOf,
  jobAttemptColumns,
  jobColumns,
  jobRunnerOf,
  type RunRow as RunRowOf,
  runColumns,
  type StepRow as StepRowOf,
  stepColumns,
} from '../rows.js';
import type {
  JobAttemptRecord,
  JobPatch,
  JobRecord,
  JobUpdate,
  ListRunsOptions,
  NewJob,
  NewRun,
  RunConcurrency,
  RunRecord,
  RunStore,
  StepRecord,
} from '../runs.js';
import { unfinishedOnly } from '../runs.js';
import {
  duplicateOf,
  type KeyHolderColumns,
  queueFullOf,
  type RunSubmission,
  type SubmitCheck,
  type SubmitOutcome,
  storedSubmission,
  unfinishedJobsSql,
} from '../submissions.js';
import { nullable, runIdOf, runKey, type Writable } from './columns.js';
import { sqliteCode } from './errors.js';
import { type GroupCommit, oneStatement } from './group-commit.js';
import { JobRowWrites } from './job-row-writes.js';
import type { LogRowInserts } from './log-rows.js';
import type { SqliteRunFence } from './run-fence.js';

// SQLite returns integers as numbers and JSON as text.
type RunRow = RunRowOf<number>;
type KeyHolderRow = RunRow & KeyHolderColumns;
type JobRow = JobRowOf<number, string>;
type StepRow = StepRowOf<number>;
type JobAttemptRow = JobAttemptRowOf<number, string>;

/** SQLite's largest integer key: no run's id reaches it. */
const maxRowid = 2n ** 63n - 1n;

/** listRuns' parameters; a filter left out is null. `statuses` is a JSON array, read by json_each. */
interface RunListParams {
  readonly before: number | bigint;
  readonly limit: number;
  readonly statuses: string | null;
  readonly workflow: string | null;
}

/** listRuns' filters (ListRunsOptions): the workflow by name, by path, or by the file name its path ends with. */
const runFilters = `(@statuses IS NULL OR status IN (SELECT value FROM json_each(@statuses)))
  AND (@workflow IS NULL OR workflow_name = @workflow OR workflow_path = @workflow
    OR substr(workflow_path, -length(@workflow) - 1) = '/' || @workflow)`;

/**
 * RunStore on one better-sqlite3 connection. Every statement is prepared once here, because the engine
 * writes thousands of job and step updates per second and preparing costs more than executing.
 */
export class SqliteRunStore implements RunStore {
  readonly #nextRunNumber;
  readonly #insertRun;
  readonly #updateRun;
  readonly #recordConcurrency;
  readonly #getRun;
  readonly #listRuns;
  readonly #listUnfinishedRuns;
  readonly #listJobs;
  readonly #upsertStep;
  readonly #listSteps;
  readonly #upsertJobAttempt;
  readonly #listJobAttempts;
  readonly #createRunTx;
  readonly #runByIdempotencyKey;
  readonly #releaseIdempotencyKey;
  readonly #admitRun;
  readonly #countUnfinished;
  readonly #jobRows: JobRowWrites;

  constructor(
    db: Database.Database,
    private readonly commits: GroupCommit,
    logRows: LogRowInserts,
    private readonly fence: SqliteRunFence,
  ) {
    this.#jobRows = new JobRowWrites(db, commits, logRows, fence);
    this.#nextRunNumber = db
      .prepare<[string], number>('SELECT coalesce(max(run_number), 0) + 1 FROM runs WHERE workflow_name = ?')
      .pluck();
    this.#insertRun = db.prepare(
      `INSERT INTO runs (workflow_name, workflow_path, run_number, status, created_at, sha, ref)
       VALUES (@workflowName, @workflowPath, @runNumber, @status, @createdAt, @sha, @ref)`,
    );
    // COALESCE keeps a column when the patch leaves it out; patches never clear a field.
    this.#updateRun = db.prepare(
      `UPDATE runs SET status = @status, started_at = coalesce(@startedAt, started_at),
       finished_at = coalesce(@finishedAt, finished_at) WHERE id = @id`,
    );
    this.#recordConcurrency = db.prepare(
      `UPDATE runs SET concurrency_group = @group, concurrency_state = @state,
       concurrency_ahead = @ahead, concurrency_at = @at, concurrency_joined_at = @joinedAt WHERE id = @id`,
    );
    this.#getRun = db.prepare<[number], RunRow>(`SELECT ${runColumns} FROM runs WHERE id = ?`);
    this.#listRuns = db.prepare<[RunListParams], RunRow>(
      `SELECT ${runColumns} FROM runs WHERE id < @before AND ${runFilters} ORDER BY id DESC LIMIT @limit`,
    );
    // The literal status list lets SQLite use the partial index runs_unfinished (unfinishedOnly).
    this.#listUnfinishedRuns = db.prepare<[RunListParams], RunRow>(
      `SELECT ${runColumns} FROM runs WHERE id < @before AND status IN ('queued', 'running') AND ${runFilters}
       ORDER BY id DESC LIMIT @limit`,
    );
    this.#listJobs = db.prepare<[number], JobRow>(
      `SELECT ${jobColumns} FROM jobs WHERE run_id = ? ORDER BY seq`,
    );
    this.#upsertStep = db.prepare(
      `INSERT INTO steps (${stepColumns})
       VALUES (@jobId, @jobAttempt, @index, @attempt, @name, @outcome, @conclusion, @exitCode, @startedAt,
       @finishedAt, @retryDelayMs, @timedOutAfterMs, @maxAttempts)
       ON CONFLICT (job_id, job_attempt, idx, attempt) DO UPDATE SET name = excluded.name, outcome = excluded.outcome,
       conclusion = excluded.conclusion, exit_code = excluded.exit_code,
       started_at = excluded.started_at, finished_at = excluded.finished_at,
       retry_delay_ms = excluded.retry_delay_ms, timed_out_after_ms = excluded.timed_out_after_ms,
       max_attempts = excluded.max_attempts`,
    );
    this.#listSteps = db.prepare<[string, number], StepRow>(
      `SELECT ${stepColumns} FROM steps WHERE job_id = ? AND job_attempt >= ?
       ORDER BY job_attempt, ${stepRunOrderSql('idx')}, attempt`,
    );
    this.#upsertJobAttempt = db.prepare(
      `INSERT OR REPLACE INTO job_attempts (${jobAttemptColumns})
       VALUES (@jobId, @attempt, @status, @startedAt, @finishedAt, @reason, @retryDelayMs, @retryReason, @runner,
         @fencingToken)`,
    );
    this.#listJobAttempts = db.prepare<[string], JobAttemptRow>(
      `SELECT ${jobAttemptColumns} FROM job_attempts WHERE job_id = ? ORDER BY attempt`,
    );
    this.#createRunTx = db.transaction((run: NewRun) => this.#insertRunRow(run));
    this.#runByIdempotencyKey = db.prepare<[string], KeyHolderRow>(
      `SELECT ${runColumns}, idempotency_fingerprint FROM runs WHERE idempotency_key = ?`,
    );
    this.#releaseIdempotencyKey = db.prepare<[number]>(
      'UPDATE runs SET idempotency_key = NULL, idempotency_fingerprint = NULL WHERE id = ?',
    );
    this.#admitRun = db.prepare<[number, string | null, string | null, number]>(
      'UPDATE runs SET planned_jobs = ?, idempotency_key = ?, idempotency_fingerprint = ? WHERE id = ?',
    );
    this.#countUnfinished = db.prepare<[], number>(unfinishedJobsSql('max')).pluck();
  }

  submitRun(run: NewRun, given: RunSubmission): Promise<SubmitOutcome> {
    // Inside the group commit's IMMEDIATE transaction: no other process writes between the checks and
    // the insert, and a refusal has written nothing.
    return this.commits.write('submit a run', (): SubmitOutcome => {
      const submission = storedSubmission(given);
      const { holder, check } = this.#check(run.createdAt, submission);
      if (check.kind !== 'admissible') return check;
      if (holder) this.#releaseIdempotencyKey.run(holder.id);
      const record = this.#insertRunRow(run);
      const { key = null, fingerprint = null } = submission.idempotency ?? {};
      this.#admitRun.run(submission.plannedJobs, key, fingerprint, Number(record.id));
      return { kind: 'created', run: record };
    });
  }

  /** submitRun's checks: first the idempotency key, then the capacity; `holder` has the key, in or out of its window. */
  #check(createdAt: number, submission: RunSubmission): { holder: RunRow | undefined; check: SubmitCheck } {
    const idempotency = submission.idempotency;
    const holder = idempotency && this.#runByIdempotencyKey.get(idempotency.key);
    if (idempotency && holder && createdAt - holder.created_at < idempotency.windowMs) {
      return { holder, check: duplicateOf(runFromRow(holder), holder.idempotency_fingerprint) };
    }
    const capacity = submission.queueCapacity;
    const full =
      capacity === undefined
        ? undefined
        : queueFullOf(submission.plannedJobs, capacity, this.#countUnfinished.get() ?? 0);
    return { holder, check: full ?? { kind: 'admissible' } };
  }

  countUnfinishedJobs(): Promise<number> {
    return this.commits.read('count unfinished jobs', () => this.#countUnfinished.get() ?? 0);
  }

  createRun(run: NewRun): Promise<RunRecord> {
    // Group commits are IMMEDIATE: the write lock is taken before max(run_number) is read, so two
    // processes cannot both read the same maximum and hand out one run number twice.
    return this.commits.write('create a run', () => this.#createRunTx(run));
  }

  addJobs(jobs: readonly NewJob[]): Promise<void> {
    return this.#jobRows.add(jobs);
  }

  updateRun(id: RunId, patch: { status: RunStatus; startedAt?: number; finishedAt?: number }): Promise<void> {
    return this.commits.write(`update run ${id}`, () => {
      this.fence.check(id);
      const key = runKey(id);
      const changed =
        key !== undefined &&
        this.#updateRun.run({
          id: key,
          status: patch.status,
          startedAt: nullable(patch.startedAt),
          finishedAt: nullable(patch.finishedAt),
        }).changes > 0;
      if (!changed) throw new ValkyrieError('VK_RUN_NOT_FOUND', `no run with id ${id}`);
    });
  }

  updateJob(id: JobId, patch: JobPatch): Promise<void> {
    return this.#jobRows.update(id, patch);
  }

  updateJobs(updates: readonly JobUpdate[], lines?: readonly LogLine[]): Promise<void> {
    return this.#jobRows.updateMany(updates, lines);
  }

  recordStep(step: StepRecord): Promise<void> {
    return this.#writeOfJob(`record step ${step.index} of job ${step.jobId}`, step.jobId, () =>
      this.#upsertStep.run({
        jobId: step.jobId,
        jobAttempt: step.jobAttempt ?? 1,
        index: step.index,
        attempt: step.attempt ?? 1,
        name: step.name,
        outcome: nullable(step.outcome),
        conclusion: nullable(step.conclusion),
        exitCode: nullable(step.exitCode),
        startedAt: nullable(step.startedAt),
        finishedAt: nullable(step.finishedAt),
        retryDelayMs: nullable(step.retryDelayMs),
        timedOutAfterMs: nullable(step.timedOutAfterMs),
        maxAttempts: nullable(step.maxAttempts),
      }),
    );
  }

  recordJobAttempt(attempt: JobAttemptRecord): Promise<void> {
    return this.#writeOfJob(`record attempt ${attempt.attempt} of job ${attempt.jobId}`, attempt.jobId, () =>
      this.#upsertJobAttempt.run({
        jobId: attempt.jobId,
        attempt: attempt.attempt,
        status: attempt.status,
        startedAt: nullable(attempt.startedAt),
        finishedAt: attempt.finishedAt,
        reason: nullable(attempt.reason),
        retryDelayMs: nullable(attempt.retry?.delayMs),
        retryReason: nullable(attempt.retry?.reason),
        runner: attempt.runner === undefined ? null : JSON.stringify(attempt.runner),
        fencingToken: nullable(attempt.fencingToken),
      }),
    );
  }

  /**
   * A record of job `jobId` written by one upsert (`upsert`), after the run fence's check: SQLite
   * undoes the statement alone if it fails, so it runs without a savepoint; a job not stored is
   * VK_JOB_NOT_FOUND.
   */
  #writeOfJob(action: string, jobId: string, upsert: () => unknown): Promise<void> {
    return this.commits.write(
      action,
      () => {
        this.fence.checkJob(jobId);
        try {
          upsert();
        } catch (error) {
          if (sqliteCode(error) !== 'SQLITE_CONSTRAINT_FOREIGNKEY') throw error;
          throw new ValkyrieError('VK_JOB_NOT_FOUND', `no job with id ${jobId}`, { cause: error });
        }
      },
      oneStatement,
    );
  }

  recordConcurrency(runId: RunId, concurrency: RunConcurrency): Promise<void> {
    return this.commits.write(`record the concurrency state of run ${runId}`, () => {
      this.fence.check(runId);
      const key = runKey(runId);
      const { group, state, ahead, at, joinedAt } = concurrency;
      const values = { id: key, group, state, ahead: nullable(ahead), at, joinedAt: nullable(joinedAt) };
      const changed = key !== undefined && this.#recordConcurrency.run(values).changes > 0;
      if (!changed) throw new ValkyrieError('VK_RUN_NOT_FOUND', `no run with id ${runId}`);
    });
  }

  listJobAttempts(jobId: JobId): Promise<JobAttemptRecord[]> {
    return this.commits.read(`list attempts of job ${jobId}`, () =>
      this.#listJobAttempts.all(jobId).map(jobAttemptFromRow),
    );
  }

  getRun(id: RunId): Promise<RunRecord | undefined> {
    return this.commits.read(`read run ${id}`, () => {
      const key = runKey(id);
      const row = key === undefined ? undefined : this.#getRun.get(key);
      return row === undefined ? undefined : runFromRow(row);
    });
  }

  listRuns(options?: ListRunsOptions): Promise<RunRecord[]> {
    // SQLite reads a negative LIMIT as "no limit", so clamp rather than pass it through.
    const limit = Math.max(0, Math.floor(options?.limit ?? defaultRunLimit));
    const statuses = options?.statuses;
    const statement = unfinishedOnly(statuses) ? this.#listUnfinishedRuns : this.#listRuns;
    // Without `before`, every rowid is below the largest one SQLite can hold.
    const before = options?.before === undefined ? maxRowid : runKey(options.before);
    if (before === undefined) return this.commits.read('list runs', () => []);
    const params: RunListParams = {
      before,
      limit,
      statuses: statuses === undefined || statuses.length === 0 ? null : JSON.stringify(statuses),
      workflow: options?.workflow ?? null,
    };
    return this.commits.read('list runs', () => statement.all(params).map(runFromRow));
  }

  listJobs(runId: RunId): Promise<JobRecord[]> {
    return this.commits.read(`list jobs of run ${runId}`, () => {
      const key = runKey(runId);
      return key === undefined ? [] : this.#listJobs.all(key).map(jobFromRow);
    });
  }

  listSteps(jobId: JobId, { fromJobAttempt = 1 }: { fromJobAttempt?: number } = {}): Promise<StepRecord[]> {
    return this.commits.read(`list steps of job ${jobId}`, () =>
      this.#listSteps.all(jobId, fromJobAttempt).map(stepFromRow),
    );
  }

  #insertRunRow(run: NewRun): RunRecord {
    const runNumber = this.#nextRunNumber.get(run.workflowName) ?? 1;
    const { lastInsertRowid } = this.#insertRun.run({
      workflowName: run.workflowName,
      workflowPath: run.workflowPath,
      runNumber,
      status: 'queued',
      createdAt: run.createdAt,
      sha: nullable(run.sha),
      ref: nullable(run.ref),
    });
    const record: Writable<RunRecord> = {
      id: runIdOf(lastInsertRowid),
      runNumber,
      status: 'queued',
      workflowName: run.workflowName,
      workflowPath: run.workflowPath,
      createdAt: run.createdAt,
    };
    if (run.sha !== undefined) record.sha = run.sha;
    if (run.ref !== undefined) record.ref = run.ref;
    return record;
  }
}

function runFromRow(row: RunRow): RunRecord {
  const run: Writable<RunRecord> = {
    id: runIdOf(row.id),
    runNumber: row.run_number,
    status: row.status,
    workflowName: row.workflow_name,
    workflowPath: row.workflow_path,
    createdAt: row.created_at,
  };
  if (row.sha !== null) run.sha = row.sha;
  if (row.ref !== null) run.ref = row.ref;
  if (row.started_at !== null) run.startedAt = row.started_at;
  if (row.finished_at !== null) run.finishedAt = row.finished_at;
  if (row.attempt > 1) run.attempt = row.attempt;
  const concurrency = concurrencyOfRow(row, (at) => at);
  if (concurrency !== undefined) run.concurrency = concurrency;
  return run;
}

function jobFromRow(row: JobRow): JobRecord {
  const job: Writable<JobRecord> = {
    id: asJobId(row.id),
    runId: runIdOf(row.run_id),
    key: row.key,
    name: row.name,
    matrix: JSON.parse(row.matrix) as Record<string, unknown>,
    status: row.status,
    outputs: JSON.parse(row.outputs) as Record<string, string>,
  };
  if (row.started_at !== null) job.startedAt = row.started_at;
  if (row.finished_at !== null) job.finishedAt = row.finished_at;
  if (row.reason !== null) job.reason = row.reason;
  if (row.attempt !== 1) job.attempt = row.attempt;
  if (row.queued_at !== null) job.queuedAt = row.queued_at;
  if (row.not_before !== null) job.notBefore = row.not_before;
  if (row.priority !== null) job.priority = row.priority;
  const runner = jobRunnerOf(row.runner);
  if (runner !== undefined) job.runner = runner;
  if (row.fencing_token !== null) job.fencingToken = row.fencing_token;
  if (row.tries_from !== null && row.tries_from !== 1) job.triesFrom = row.tries_from;
  if (row.continued_on_error) job.continuedOnError = true;
  if (row.rerun_attempt !== null) job.rerunAttempt = row.rerun_attempt;
  return job;
}

function jobAttemptFromRow(row: JobAttemptRow): JobAttemptRecord {
  const attempt: Writable<JobAttemptRecord> = {
    jobId: asJobId(row.job_id),
    attempt: row.attempt,
    status: row.status,
    finishedAt: row.finished_at,
  };
  if (row.started_at !== null) attempt.startedAt = row.started_at;
  if (row.reason !== null) attempt.reason = row.reason;
  if (row.retry_delay_ms !== null && row.retry_reason !== null)
    attempt.retry = { delayMs: row.retry_delay_ms, reason: row.retry_reason };
  const runner = jobRunnerOf(row.runner);
  if (runner !== undefined) attempt.runner = runner;
  if (row.fencing_token !== null) attempt.fencingToken = row.fencing_token;
  return attempt;
}

function stepFromRow(row: StepRow): StepRecord {
  const step: Writable<StepRecord> = { jobId: asJobId(row.job_id), index: row.idx, name: row.name };
  if (row.job_attempt !== 1) step.jobAttempt = row.job_attempt;
  if (row.attempt !== 1) step.attempt = row.attempt;
  if (row.outcome !== null) step.outcome = row.outcome;
  if (row.conclusion !== null) step.conclusion = row.conclusion;
  if (row.exit_code !== null) step.exitCode = row.exit_code;
  if (row.started_at !== null) step.startedAt = row.started_at;
  if (row.finished_at !== null) step.finishedAt = row.finished_at;
  if (row.retry_delay_ms !== null) step.retryDelayMs = row.retry_delay_ms;
  if (row.timed_out_after_ms !== null) step.timedOutAfterMs = row.timed_out_after_ms;
  if (row.max_attempts !== null) step.maxAttempts = row.max_attempts;
  return step;
}
