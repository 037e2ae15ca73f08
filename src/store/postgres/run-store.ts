import { ValkyrieError } from '../../core/errors.js';
import { asJobId, type JobId, type RunId, runIdOfJob } from '../../core/ids.js';
import type { RunStatus } from '../../core/outcome.js';
import { stepRunOrderSql } from '../../core/step-phases.js';
import type { LogLine } from '../logs.js';
import type { RunOwner } from '../recovery.js';
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
} from '../submissions.js';
import { countUnfinishedWith, lockSubmissions } from './admission.js';
import { jobAttemptUpsert, millis, runIdOf, runKey, stepUpsert, type Writable } from './columns.js';
import type { PostgresDatabase, Query, Statement, WriteTurn } from './database.js';
import { pgCode, sqlState } from './errors.js';
import { JobRowWrites } from './job-row-writes.js';
import { fencedStatements, jobNotWritten, runNotWritten, writerValues } from './run-fence.js';

// bigint columns arrive as strings; json columns arrive parsed.
type RunRow = RunRowOf<string>;
type KeyHolderRow = RunRow & KeyHolderColumns;
type JobRow = JobRowOf<string, object>;
type StepRow = StepRowOf<string>;
type JobAttemptRow = JobAttemptRowOf<string, object>;

/** The largest bigint: no run's id reaches it. */
const maxRunKey = '9223372036854775807';

/**
 * listRuns' filters (ListRunsOptions), $3 the statuses (a text array) and $4 the workflow, each null
 * when not given: the workflow by name, by path, or by the file name its path ends with.
 */
const runFilters = `($3::text[] IS NULL OR status = ANY($3::text[]))
  AND ($4::text IS NULL OR workflow_name = $4 OR workflow_path = $4
    OR right(workflow_path, length($4) + 1) = '/' || $4)`;

const statements = {
  // The upsert locks the workflow's counter row until the transaction (the group commit's) ends, so
  // concurrent creators in any process queue on it and never read the same number.
  createRun: {
    name: 'vk_create_run',
    text: `WITH counter AS (
             INSERT INTO run_counters AS c (workflow_name, last_number) VALUES ($1::text, 1)
             ON CONFLICT (workflow_name) DO UPDATE SET last_number = c.last_number + 1
             RETURNING last_number)
           INSERT INTO runs (workflow_name, workflow_path, run_number, status, created_at, sha, ref)
           SELECT $1::text, $2::text, last_number, 'queued', $3::bigint, $4::text, $5::text FROM counter
           RETURNING id, run_number`,
  },
  getRun: { name: 'vk_get_run', text: `SELECT ${runColumns} FROM runs WHERE id = $1` },
  listRuns: {
    name: 'vk_list_runs_filtered',
    text: `SELECT ${runColumns} FROM runs WHERE id < $2 AND ${runFilters} ORDER BY id DESC LIMIT $1`,
  },
  // The literal status list lets Postgres use the partial index runs_unfinished (unfinishedOnly).
  listUnfinishedRuns: {
    name: 'vk_list_unfinished_runs_filtered',
    text: `SELECT ${runColumns} FROM runs WHERE id < $2 AND status IN ('queued', 'running') AND ${runFilters}
           ORDER BY id DESC LIMIT $1`,
  },
  // One statement for all the jobs, so it is all or nothing; ORDER BY ord makes seq follow their order.
  listJobs: {
    name: 'vk_list_jobs',
    text: `SELECT ${jobColumns} FROM jobs WHERE run_id = $1 ORDER BY seq`,
  },
  // Unfenced, for a run whose row the transaction already holds (WriteTurn.heldRuns, run-fence.ts).
  recordStep: {
    name: 'vk_record_step',
    text: `INSERT INTO steps (${stepColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)

           ${stepUpsert}`,
  },
  listSteps: {
    name: 'vk_list_steps',
    text: `SELECT ${stepColumns} FROM steps WHERE job_id = $1 AND job_attempt >= $2
           ORDER BY job_attempt, ${stepRunOrderSql('idx')}, attempt`,
  },
  recordJobAttempt: {
    name: 'vk_record_job_attempt',
    text: `INSERT INTO job_attempts (${jobAttemptColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)

           ${jobAttemptUpsert}`,
  },
  listJobAttempts: {
    name: 'vk_list_job_attempts',
    text: `SELECT ${jobAttemptColumns} FROM job_attempts WHERE job_id = $1 ORDER BY attempt`,
  },
  runByIdempotencyKey: {
    name: 'vk_run_by_idempotency_key',
    text: `SELECT ${runColumns}, idempotency_fingerprint FROM runs WHERE idempotency_key = $1`,
  },
  releaseIdempotencyKey: {
    name: 'vk_release_idempotency_key',
    text: 'UPDATE runs SET idempotency_key = NULL, idempotency_fingerprint = NULL WHERE id = $1',
  },
  admitRun: {
    name: 'vk_admit_run',
    text: 'UPDATE runs SET planned_jobs = $2, idempotency_key = $3, idempotency_fingerprint = $4 WHERE id = $1',
  },
} satisfies Record<string, Statement>;

/** submitRun's checks: first the idempotency key, then the capacity; `holder` has the key, in or out of its window. */
async function checkSubmissionWith(
  query: Query,
  createdAt: number,
  submission: RunSubmission,
): Promise<{ holder: RunRow | undefined; check: SubmitCheck }> {
  const idempotency = submission.idempotency;
  const holder =
    idempotency && (await query<KeyHolderRow>(statements.runByIdempotencyKey, [idempotency.key])).rows[0];
  if (idempotency && holder && createdAt - millis(holder.created_at) < idempotency.windowMs) {
    return { holder, check: duplicateOf(runFromRow(holder), holder.idempotency_fingerprint) };
  }
  const capacity = submission.queueCapacity;
  const full =
    capacity === undefined
      ? undefined
      : queueFullOf(submission.plannedJobs, capacity, await countUnfinishedWith(query));
  return { holder, check: full ?? { kind: 'admissible' } };
}

/**
 * RunStore on the shared pool. Every write is a single statement, which is what lets a group commit
 * that hit a failing one be applied again one write per transaction (see GroupCommit) — except run
 * creation, a transaction of its own under the submission lock.
 */
export class PostgresRunStore implements RunStore {
  readonly #db: PostgresDatabase;
  readonly #jobRows: JobRowWrites;
  readonly #writer: readonly [string, number];

  /** `writer`: the owner whose runs this store writes (store/run-fence.ts). */
  constructor(db: PostgresDatabase, writer: RunOwner) {
    this.#db = db;
    this.#writer = writerValues(writer);
    this.#jobRows = new JobRowWrites(db, writer);
  }

  async createRun(run: NewRun): Promise<RunRecord> {
    // Through the submission lock too, so that every creator takes the lock before a run counter's row
    // lock: in the other order, two processes could each hold one and wait for the other.
    const outcome = await this.submitRun(run, { plannedJobs: 0 });
    if (outcome.kind !== 'created') throw new Error(`a run without admission checks was ${outcome.kind}`);
    return outcome.run;
  }

  submitRun(run: NewRun, given: RunSubmission): Promise<SubmitOutcome> {
    return this.#db.transaction('submit a run', async (query): Promise<SubmitOutcome> => {
      const submission = storedSubmission(given);
      await lockSubmissions(query);
      const { holder, check } = await checkSubmissionWith(query, run.createdAt, submission);
      if (check.kind !== 'admissible') return check;
      if (holder) await query(statements.releaseIdempotencyKey, [holder.id]);
      const record = await this.#insertRun(query, run);
      await query(statements.admitRun, [
        record.id,
        submission.plannedJobs,
        submission.idempotency?.key ?? null,
        submission.idempotency?.fingerprint ?? null,
      ]);
      return { kind: 'created', run: record };
    });
  }

  countUnfinishedJobs(): Promise<number> {
    return this.#db.read('count unfinished jobs', countUnfinishedWith);
  }

  async #insertRun(query: Query, run: NewRun): Promise<RunRecord> {
    const { rows } = await query<{ id: string; run_number: number }>(statements.createRun, [
      run.workflowName,
      run.workflowPath,
      run.createdAt,
      run.sha ?? null,
      run.ref ?? null,
    ]);
    const row = rows[0];
    if (row === undefined) throw new Error('the insert returned no row');
    const record: Writable<RunRecord> = {
      id: runIdOf(row.id),
      runNumber: row.run_number,
      status: 'queued',
      workflowName: run.workflowName,
      workflowPath: run.workflowPath,
      createdAt: run.createdAt,
    };
    if (run.sha !== undefined) record.sha = run.sha;
    if (run.ref !== undefined) record.ref = run.ref;
    return record;
  }

  addJobs(jobs: readonly NewJob[]): Promise<void> {
    return this.#jobRows.add(jobs);
  }

  updateRun(id: RunId, patch: { status: RunStatus; startedAt?: number; finishedAt?: number }): Promise<void> {
    return this.#db.write(`update run ${id}`, async (query) => {
      const key = runKey(id);
      const values = [key, patch.status, patch.startedAt ?? null, patch.finishedAt ?? null, ...this.#writer];
      if (key === undefined || (await query(fencedStatements.updateRun, values)).rowCount === 0)
        await runNotWritten(query, id, key);
    });
  }

  updateJob(id: JobId, patch: JobPatch): Promise<void> {
    return this.#jobRows.update(id, patch);
  }

  updateJobs(updates: readonly JobUpdate[], lines?: readonly LogLine[]): Promise<void> {
    return this.#jobRows.updateMany(updates, lines);
  }

  recordStep(step: StepRecord): Promise<void> {
    return this.#db.write(`record step ${step.index} of job ${step.jobId}`, async (query, turn) => {
      const values = [
        step.jobId,
        step.jobAttempt ?? 1,
        step.index,
        step.attempt ?? 1,
        step.name,
        step.outcome ?? null,
        step.conclusion ?? null,
        step.exitCode ?? null,
        step.startedAt ?? null,
        step.finishedAt ?? null,
        step.retryDelayMs ?? null,
        step.timedOutAfterMs ?? null,
        step.maxAttempts ?? null,
      ];
      await fencedJobWrite(
        query,
        turn,
        step.jobId,
        values,
        [statements.recordStep, fencedStatements.recordStep],
        this.#writer,
      );
    });
  }

  recordJobAttempt(attempt: JobAttemptRecord): Promise<void> {
    return this.#db.write(
      `record attempt ${attempt.attempt} of job ${attempt.jobId}`,
      async (query, turn) => {
        const values = [
          attempt.jobId,
          attempt.attempt,
          attempt.status,
          attempt.startedAt ?? null,
          attempt.finishedAt,
          attempt.reason ?? null,
          attempt.retry?.delayMs ?? null,
          attempt.retry?.reason ?? null,
          attempt.runner === undefined ? null : JSON.stringify(attempt.runner),
          attempt.fencingToken ?? null,
        ];
        await fencedJobWrite(
          query,
          turn,
          attempt.jobId,
          values,
          [statements.recordJobAttempt, fencedStatements.recordJobAttempt],
          this.#writer,
        );
      },
    );
  }

  recordConcurrency(runId: RunId, concurrency: RunConcurrency): Promise<void> {
    return this.#db.write(`record the concurrency state of run ${runId}`, async (query) => {
      const key = runKey(runId);
      const { group, state, ahead, at, joinedAt } = concurrency;
      const values = [key, group, state, ahead ?? null, at, joinedAt ?? null, ...this.#writer];
      if (key === undefined || (await query(fencedStatements.recordConcurrency, values)).rowCount === 0)
        await runNotWritten(query, runId, key);
    });
  }

  listJobAttempts(jobId: JobId): Promise<JobAttemptRecord[]> {
    return this.#db.read(`list attempts of job ${jobId}`, async (query) =>
      (await query<JobAttemptRow>(statements.listJobAttempts, [jobId])).rows.map(jobAttemptFromRow),
    );
  }

  getRun(id: RunId): Promise<RunRecord | undefined> {
    return this.#db.read(`read run ${id}`, async (query) => {
      const key = runKey(id);
      if (key === undefined) return undefined;
      const row = (await query<RunRow>(statements.getRun, [key])).rows[0];
      return row === undefined ? undefined : runFromRow(row);
    });
  }

  listRuns(options?: ListRunsOptions): Promise<RunRecord[]> {
    const limit = Math.max(0, Math.floor(options?.limit ?? defaultRunLimit));
    const statuses = options?.statuses;
    const statement = unfinishedOnly(statuses) ? statements.listUnfinishedRuns : statements.listRuns;
    // Without `before`, every id is below the largest bigint.
    const before = options?.before === undefined ? maxRunKey : runKey(options.before);
    const filters = [
      statuses === undefined || statuses.length === 0 ? null : statuses,
      options?.workflow ?? null,
    ];
    return this.#db.read('list runs', async (query) =>
      before === undefined
        ? []
        : (await query<RunRow>(statement, [limit, before, ...filters])).rows.map(runFromRow),
    );
  }

  listJobs(runId: RunId): Promise<JobRecord[]> {
    return this.#db.read(`list jobs of run ${runId}`, async (query) => {
      const key = runKey(runId);
      return key === undefined ? [] : (await query<JobRow>(statements.listJobs, [key])).rows.map(jobFromRow);
    });
  }

  listSteps(jobId: JobId, { fromJobAttempt = 1 }: { fromJobAttempt?: number } = {}): Promise<StepRecord[]> {
    return this.#db.read(`list steps of job ${jobId}`, async (query) =>
      (await query<StepRow>(statements.listSteps, [jobId, fromJobAttempt])).rows.map(stepFromRow),
    );
  }
}

function runFromRow(row: RunRow): RunRecord {
  const run: Writable<RunRecord> = {
    id: runIdOf(row.id),
    runNumber: row.run_number,
    status: row.status,
    workflowName: row.workflow_name,
    workflowPath: row.workflow_path,
    createdAt: millis(row.created_at),
  };
  if (row.sha !== null) run.sha = row.sha;
  if (row.ref !== null) run.ref = row.ref;
  if (row.started_at !== null) run.startedAt = millis(row.started_at);
  if (row.finished_at !== null) run.finishedAt = millis(row.finished_at);
  if (row.attempt > 1) run.attempt = row.attempt;
  const concurrency = concurrencyOfRow(row, millis);
  if (concurrency !== undefined) run.concurrency = concurrency;
  return run;
}

function jobFromRow(row: JobRow): JobRecord {
  const job: Writable<JobRecord> = {
    id: asJobId(row.id),
    runId: runIdOf(row.run_id),
    key: row.key,
    name: row.name,
    matrix: row.matrix,
    status: row.status,
    outputs: row.outputs,
  };
  if (row.started_at !== null) job.startedAt = millis(row.started_at);
  if (row.finished_at !== null) job.finishedAt = millis(row.finished_at);
  if (row.reason !== null) job.reason = row.reason;
  if (row.attempt !== 1) job.attempt = row.attempt;
  if (row.queued_at !== null) job.queuedAt = millis(row.queued_at);
  if (row.not_before !== null) job.notBefore = millis(row.not_before);
  if (row.priority !== null) job.priority = row.priority;
  const runner = jobRunnerOf(row.runner);
  if (runner !== undefined) job.runner = runner;
  if (row.fencing_token !== null) job.fencingToken = Number(row.fencing_token);
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
    finishedAt: millis(row.finished_at),
  };
  if (row.started_at !== null) attempt.startedAt = millis(row.started_at);
  if (row.reason !== null) attempt.reason = row.reason;
  if (row.retry_delay_ms !== null && row.retry_reason !== null)
    attempt.retry = { delayMs: millis(row.retry_delay_ms), reason: row.retry_reason };
  const runner = jobRunnerOf(row.runner);
  if (runner !== undefined) attempt.runner = runner;
  if (row.fencing_token !== null) attempt.fencingToken = Number(row.fencing_token);
  return attempt;
}

function stepFromRow(row: StepRow): StepRecord {
  const step: Writable<StepRecord> = { jobId: asJobId(row.job_id), index: row.idx, name: row.name };
  if (row.job_attempt !== 1) step.jobAttempt = row.job_attempt;
  if (row.attempt !== 1) step.attempt = row.attempt;
  if (row.outcome !== null) step.outcome = row.outcome;
  if (row.conclusion !== null) step.conclusion = row.conclusion;
  if (row.exit_code !== null) step.exitCode = row.exit_code;
  if (row.started_at !== null) step.startedAt = millis(row.started_at);
  if (row.finished_at !== null) step.finishedAt = millis(row.finished_at);
  if (row.retry_delay_ms !== null) step.retryDelayMs = millis(row.retry_delay_ms);
  if (row.timed_out_after_ms !== null) step.timedOutAfterMs = millis(row.timed_out_after_ms);
  if (row.max_attempts !== null) step.maxAttempts = Number(row.max_attempts);
  return step;
}

/**
 * A write of one row of a job: the fenced statement, which holds the job's run, the first time the
 * transaction writes that run; the plain one after, the run being held already (WriteTurn.heldRuns).
 * VK_JOB_NOT_FOUND for a missing job, RunTakenOverError for another owner's run.
 */
async function fencedJobWrite(
  query: Query,
  turn: WriteTurn,
  jobId: string,
  values: unknown[],
  [plain, fenced]: readonly [Statement, Statement],
  writer: readonly [string, number],
): Promise<void> {
  const runId = runIdOfJob(jobId);
  if (runId !== undefined && turn.heldRuns.has(runId)) {
    try {
      await query(plain, values);
      return;
    } catch (error) {
      if (pgCode(error) !== sqlState.foreignKeyViolation) throw error;
      throw new ValkyrieError('VK_JOB_NOT_FOUND', `no job with id ${jobId}`, { cause: error });
    }
  }
  values.push(writer[0], writer[1]);
  if ((await query(fenced, values)).rowCount === 0) await jobNotWritten(query, jobId);
  if (runId !== undefined && !turn.autocommit) turn.heldRuns.add(runId);
}
