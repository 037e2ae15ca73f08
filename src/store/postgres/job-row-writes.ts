import { ValkyrieError } from '../../core/errors.js';
import type { JobId, RunId } from '../../core/ids.js';
import type { LogLine } from '../logs.js';
import type { RunOwner } from '../recovery.js';
import { jobRunnerJson, recordJson } from '../rows.js';
import { RunTakenOverError } from '../run-fence.js';
import type { JobPatch, JobUpdate, NewJob } from '../runs.js';
import { integerArrayLiteral, textArrayLiteral } from './array-literal.js';
import { runKey } from './columns.js';
import type { PostgresDatabase, Query, Statement } from './database.js';
import { pgCode, sqlState, violatingKey } from './errors.js';
import { updateJobRows } from './job-updates.js';
import { insertLogRows } from './log-rows.js';
import { fencedStatements, lockRunsOf, runsOfJobs, writerValues } from './run-fence.js';

const statements = {
  /** A row's columns as a new job and the patches folded into it; absent ones take their defaults. */
  addJobs: {
    name: 'vk_add_job_rows',
    text: `INSERT INTO jobs (id, run_id, key, name, matrix, status, started_at, finished_at, outputs, reason,
             attempt, queued_at, not_before, priority, runner, fencing_token, tries_from, continued_on_error)
           SELECT id, run_id, key, name, matrix, status, started_at, finished_at, coalesce(outputs, '{}'),
             reason, coalesce(attempt, 1), queued_at, not_before, priority, runner, fencing_token, tries_from,
             continued_on_error
           FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::json[], $6::text[], $7::bigint[],
                       $8::bigint[], $9::json[], $10::text[], $11::integer[], $12::bigint[], $13::bigint[],
                       $14::text[], $15::json[], $16::bigint[], $17::integer[], $18::boolean[])
             WITH ORDINALITY AS batch (id, run_id, key, name, matrix, status, started_at, finished_at, outputs,
                                       reason, attempt, queued_at, not_before, priority, runner, fencing_token,
                                       tries_from, continued_on_error, ord)
           ORDER BY ord`,
  },
} satisfies Record<string, Statement>;

/** An addJobs write requested but not started: each new row as a patch, updates folded in. */
interface OpenInsert {
  readonly kind: 'insert';
  readonly rows: Map<JobId, JobPatch>;
  /** PostgresDatabase.writeMark right after the write was requested. */
  mark: number | undefined;
  done: Promise<void>;
}

/** One updateJobs call: its updates, then the log lines written with them. */
interface UpdateCall {
  readonly updates: readonly JobUpdate[];
  readonly lines: readonly LogLine[];
}

/** An updateJobs write requested but not started: its calls, each all or nothing, in order. */
interface OpenUpdate {
  readonly kind: 'update';
  readonly calls: UpdateCall[];
  mark: number | undefined;
  /** Each call's own failure, by index, once the write has committed. */
  done: Promise<readonly (ValkyrieError | undefined)[]>;
}

/**
 * RunStore.addJobs and updateJobs on Postgres. A call made while the write before it has not started,
 * with no other write requested since, joins that write: it is applied at the same place in the
 * order, so nothing moves, and a job's patches fold into its new row or into one row update.
 *
 * The control plane adds a matrix's legs and queues them in one turn, then makes a call per turn of
 * started and finished jobs, and its calls pile up while a group commit runs: 10,000 jobs were 30,000
 * row updates, each a new row version, and a lock and an update statement per call.
 *
 * - Updates fold into a pending add only when every job of the call is in it and it has no log lines;
 *   the call then settles with the add, and fails with its error (on its own it would have failed
 *   too: VK_JOB_NOT_FOUND).
 * - Each updateJobs call stays all or nothing: every job of the joined calls (and of their lines) is
 *   locked first; if one is missing, each call that names a missing job fails alone and changes
 *   nothing, the others apply. The calls' log lines follow all of their row updates, in call order:
 *   a call's lines must not end the joining, as a log append of their own between calls did.
 */
export class JobRowWrites {
  #open: OpenInsert | OpenUpdate | undefined;

  constructor(
    private readonly db: PostgresDatabase,
    private readonly writer: RunOwner,
  ) {}

  add(jobs: readonly NewJob[]): Promise<void> {
    const rows = new Map<JobId, JobPatch>();
    for (const { id, status, name, matrix } of jobs) rows.set(id, { status, name, matrix });
    const write: OpenInsert = { kind: 'insert', rows, mark: undefined, done: Promise.resolve() };
    // Atomic: the runs' FOR SHARE (the fence) must hold until the INSERT commits, also when this write
    // runs alone, else a claim could commit between the two and the old owner's jobs land in its run.
    write.done = this.db.write(
      'add jobs',
      (query) => {
        if (this.#open === write) this.#open = undefined;
        return insertRows(query, jobs, rows, this.writer);
      },
      { atomic: true },
    );
    // A batch naming a job twice fails as a whole, so nothing folds into it.
    if (rows.size === jobs.length) this.#openWrite(write);
    return write.done;
  }

  /** RunStore.updateJob: a write of its own, never joined with others (as it was before the fence). */
  async update(id: JobId, patch: JobPatch): Promise<void> {
    const calls = [{ updates: [{ id, patch }], lines: [] }];
    const [failure] = await this.db.transaction(`update job ${id}`, (query) =>
      applyCalls(query, calls, this.writer),
    );
    if (failure !== undefined) throw failure;
  }

  updateMany(updates: readonly JobUpdate[], lines: readonly LogLine[] = []): Promise<void> {
    const open = this.#joinable();
    const call: UpdateCall = { updates, lines };
    if (open?.kind === 'insert' && lines.length === 0 && updates.every(({ id }) => open.rows.has(id))) {
      for (const { id, patch } of updates) {
        const row = open.rows.get(id);
        if (row !== undefined) open.rows.set(id, folded(row, patch));
      }
      return open.done;
    }
    if (open?.kind === 'update') return settled(open, open.calls.push(call) - 1);
    const write: OpenUpdate = {
      kind: 'update',
      calls: [call],
      mark: undefined,
      done: Promise.resolve([]),
    };
    write.done = this.db.transaction('update jobs', (query) => {
      if (this.#open === write) this.#open = undefined;
      return applyCalls(query, write.calls, this.writer);
    });
    this.#openWrite(write);
    return settled(write, 0);
  }

  #openWrite(write: OpenInsert | OpenUpdate): void {
    write.mark = this.db.writeMark;
    this.#open = write;
  }

  /** The open write, if it is still the last one requested (and the database is not closing). */
  #joinable(): OpenInsert | OpenUpdate | undefined {
    const open = this.#open;
    return open !== undefined && open.mark !== undefined && open.mark === this.db.writeMark
      ? open
      : undefined;
  }
}

async function settled(write: OpenUpdate, call: number): Promise<void> {
  const failure = (await write.done)[call];
  if (failure !== undefined) throw failure;
}

/** Runs again from the start if the group commit retries its batch; `rows` no longer change then. */
async function insertRows(
  query: Query,
  jobs: readonly NewJob[],
  rows: ReadonlyMap<JobId, JobPatch>,
  writer: RunOwner,
): Promise<void> {
  if (jobs.length === 0) return;
  if (rows.size !== jobs.length) {
    const seen = new Set<string>();
    for (const { id } of jobs) {
      if (seen.has(id)) throw new ValkyrieError('VK_STORE', `job ${id} appears twice in one batch`);
      seen.add(id);
    }
  }
  const count = jobs.length;
  const ids = new Array<string>(count);
  const runKeys = new Array<string>(count);
  const keys = new Array<string>(count);
  const names = new Array<string>(count);
  const matrices = new Array<string>(count);
  const statuses = new Array<string>(count);
  const startedAt = new Array<number | null>(count);
  const finishedAt = new Array<number | null>(count);
  const outputs = new Array<string | null>(count);
  const reasons = new Array<string | null>(count);
  const attempts = new Array<number | null>(count);
  const queuedAt = new Array<number | null>(count);
  const notBefore = new Array<number | null>(count);
  const priorities = new Array<string | null>(count);
  const runners = new Array<string | null>(count);
  const fencingTokens = new Array<number | null>(count);
  const triesFrom = new Array<number | null>(count);
  const continuedOnError = new Array<string | null>(count);
  let i = 0;
  for (const job of jobs) {
    const key = runKey(job.runId);
    if (key === undefined) throw new ValkyrieError('VK_RUN_NOT_FOUND', `no run with id ${job.runId}`);
    const row = rows.get(job.id) ?? {};
    ids[i] = job.id;
    runKeys[i] = key;
    keys[i] = job.key;
    names[i] = row.name ?? job.name;
    matrices[i] = recordJson(row.matrix ?? job.matrix);
    statuses[i] = row.status ?? job.status;
    startedAt[i] = row.startedAt ?? null;
    finishedAt[i] = row.finishedAt ?? null;
    outputs[i] = row.outputs === undefined ? null : recordJson(row.outputs);
    reasons[i] = row.reason ?? null;
    attempts[i] = row.attempt ?? null;
    queuedAt[i] = row.queuedAt ?? null;
    notBefore[i] = row.notBefore ?? null;
    priorities[i] = row.priority ?? null;
    runners[i] = row.runner === undefined ? null : jobRunnerJson(row.runner);
    fencingTokens[i] = row.fencingToken ?? null;
    triesFrom[i] = row.triesFrom ?? null;
    continuedOnError[i] = row.continuedOnError === undefined ? null : 'true';
    i++;
  }
  await lockRunsOf(query, runKeys, writer);
  // Array literals (array-literal.ts), not node-postgres's serializer: see job-updates.ts.
  const columns = [
    textArrayLiteral(ids),
    integerArrayLiteral(runKeys),
    textArrayLiteral(keys),
    textArrayLiteral(names),
    textArrayLiteral(matrices),
    textArrayLiteral(statuses),
    integerArrayLiteral(startedAt),
    integerArrayLiteral(finishedAt),
    textArrayLiteral(outputs),
    textArrayLiteral(reasons),
    integerArrayLiteral(attempts),
    integerArrayLiteral(queuedAt),
    integerArrayLiteral(notBefore),
    textArrayLiteral(priorities),
    textArrayLiteral(runners),
    integerArrayLiteral(fencingTokens),
    integerArrayLiteral(triesFrom),
    textArrayLiteral(continuedOnError),
  ];
  try {
    await query(statements.addJobs, columns);
  } catch (error) {
    const key = violatingKey(error) ?? '?';
    if (pgCode(error) === sqlState.foreignKeyViolation) {
      throw new ValkyrieError('VK_RUN_NOT_FOUND', `no run with id ${key}`, { cause: error });
    }
    if (pgCode(error) === sqlState.uniqueViolation) {
      throw new ValkyrieError('VK_STORE', `job ${key} already exists`, { cause: error });
    }
    throw error;
  }
}

/**
 * Runs again from the start if the group commit retries its batch; `calls` no longer grows then.
 * The jobs of runs another owner holds are not locked (run-fence.ts): a call naming one applies its
 * other jobs' updates and lines and fails with RunTakenOverError, unless it names a missing job too.
 */
async function applyCalls(
  query: Query,
  calls: readonly UpdateCall[],
  writer: RunOwner,
): Promise<(ValkyrieError | undefined)[]> {
  const byJob = foldByJob(calls);
  const named = new Set<string>(byJob.keys());
  for (const { lines } of calls) for (const { jobId } of lines) named.add(jobId);
  if (named.size === 0) return [];
  const locking = [textArrayLiteral([...named]), ...writerValues(writer)];
  const counted = await query<{ locked: number }>(fencedStatements.lockJobsCounted, locking);
  if (counted.rows[0]?.locked === named.size) {
    if (byJob.size > 0) await updateJobRows(query, byJob);
    await insertLogRows(query, linesOf(calls));
    return [];
  }
  // Locked, the jobs found stay so until the commit: a call is checked against them alone.
  const { rows } = await query<{ id: string }>(fencedStatements.lockJobs, locking);
  const found = new Set(rows.map(({ id }) => id));
  const runs = await runsOfJobs(
    query,
    [...named].filter((id) => !found.has(id)),
  );
  const failures: (ValkyrieError | undefined)[] = [];
  const applied: UpdateCall[] = [];
  for (const call of calls) {
    const missing =
      call.updates.find(({ id }) => !found.has(id) && !runs.has(id))?.id ??
      call.lines.find(({ jobId }) => !found.has(jobId) && !runs.has(jobId))?.jobId;
    if (missing !== undefined) {
      failures.push(new ValkyrieError('VK_JOB_NOT_FOUND', `no job with id ${missing}`));
      continue;
    }
    const taken = new Set<RunId>();
    const takenRunOf = (jobId: string) => {
      const runId = found.has(jobId) ? undefined : runs.get(jobId);
      if (runId !== undefined) taken.add(runId);
    };
    for (const { id } of call.updates) takenRunOf(id);
    for (const { jobId } of call.lines) takenRunOf(jobId);
    if (taken.size === 0) {
      failures.push(undefined);
      applied.push(call);
      continue;
    }
    failures.push(new RunTakenOverError([...taken]));
    applied.push({
      updates: call.updates.filter(({ id }) => found.has(id)),
      lines: call.lines.filter(({ jobId }) => found.has(jobId)),
    });
  }
  const appliedJobs = foldByJob(applied);
  if (appliedJobs.size > 0) await updateJobRows(query, appliedJobs);
  await insertLogRows(query, linesOf(applied));
  return failures;
}

function linesOf(calls: readonly UpdateCall[]): readonly LogLine[] {
  const [only, ...others] = calls;
  return others.length === 0 ? (only?.lines ?? []) : calls.flatMap(({ lines }) => lines);
}

/** Each job's patches, in order, as one patch with the same effect; jobs in order of first update. */
function foldByJob(calls: readonly UpdateCall[]): Map<JobId, JobPatch> {
  const byJob = new Map<JobId, JobPatch>();
  for (const { updates } of calls) {
    for (const { id, patch } of updates) {
      const earlier = byJob.get(id);
      byJob.set(id, earlier === undefined ? patch : folded(earlier, patch));
    }
  }
  return byJob;
}

/**
 * `earlier` then `later` as one patch. A later attempt clears the times, reason, queue time,
 * not-before, runner, fencing token and continuedOnError of the earlier patches (job-updates.ts); other columns keep the latest value set
 * (triesFrom too, which a later attempt keeps).
 */
function folded(earlier: JobPatch, later: JobPatch): JobPatch {
  const restarts = later.attempt !== undefined;
  return {
    status: later.status ?? earlier.status,
    startedAt: restarts ? later.startedAt : (later.startedAt ?? earlier.startedAt),
    finishedAt: restarts ? later.finishedAt : (later.finishedAt ?? earlier.finishedAt),
    outputs: later.outputs ?? earlier.outputs,
    reason: restarts ? later.reason : (later.reason ?? earlier.reason),
    attempt: later.attempt ?? earlier.attempt,
    name: later.name ?? earlier.name,
    matrix: later.matrix ?? earlier.matrix,
    queuedAt: restarts ? later.queuedAt : (later.queuedAt ?? earlier.queuedAt),
    notBefore: restarts ? later.notBefore : (later.notBefore ?? earlier.notBefore),
    priority: later.priority ?? earlier.priority,
    runner: restarts ? later.runner : (later.runner ?? earlier.runner),
    fencingToken: restarts ? later.fencingToken : (later.fencingToken ?? earlier.fencingToken),
    triesFrom: later.triesFrom ?? earlier.triesFrom,
    continuedOnError: restarts
      ? later.continuedOnError
      : (later.continuedOnError ?? earlier.continuedOnError),
  };
}
