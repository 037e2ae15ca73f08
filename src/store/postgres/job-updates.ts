import type { JobId } from '../../core/ids.js';
import { jobRunnerJson, recordJson } from '../rows.js';
import type { JobPatch } from '../runs.js';
import { integerArrayLiteral, textArrayLiteral } from './array-literal.js';
import type { Query, Statement } from './database.js';

/**
 * Job updates as one statement per batch of distinct jobs (one UPDATE changes a row once, whatever
 * number of `u` rows match it): the patches go as parallel arrays, one row of `u` per job. A patch with an attempt starts that attempt, so the previous one's times,
 * reason, runner, its lease's token and continued_on_error go; without one, a column the patch leaves out keeps its value
 * (and tries_from, the attempt the job's retries count from, with one too).
 *
 * On a server on Postgres a turn's updates went as one statement each, a round trip apiece: 36,000
 * round trips for 12,000 jobs through the control plane, most of its run time.
 */
const updateJobs: Statement = {
  name: 'vk_update_jobs',
  text: `UPDATE jobs SET status = coalesce(u.status, jobs.status),
    started_at = CASE WHEN u.attempt IS NULL THEN coalesce(u.started_at, jobs.started_at) ELSE u.started_at END,
    finished_at = CASE WHEN u.attempt IS NULL THEN coalesce(u.finished_at, jobs.finished_at) ELSE u.finished_at END,
    outputs = coalesce(u.outputs::json, jobs.outputs),
    reason = CASE WHEN u.attempt IS NULL THEN coalesce(u.reason, jobs.reason) ELSE u.reason END,
    attempt = coalesce(u.attempt, jobs.attempt), name = coalesce(u.name, jobs.name),
    matrix = coalesce(u.matrix::json, jobs.matrix),
    queued_at = CASE WHEN u.attempt IS NULL THEN coalesce(u.queued_at, jobs.queued_at) ELSE u.queued_at END,
    not_before = CASE WHEN u.attempt IS NULL THEN coalesce(u.not_before, jobs.not_before) ELSE u.not_before END,
    priority = coalesce(u.priority, jobs.priority),
    runner = CASE WHEN u.attempt IS NULL THEN coalesce(u.runner::json, jobs.runner) ELSE u.runner::json END,
    fencing_token = CASE WHEN u.attempt IS NULL THEN coalesce(u.fencing_token, jobs.fencing_token)
      ELSE u.fencing_token END,
    tries_from = coalesce(u.tries_from, jobs.tries_from),
    continued_on_error = CASE WHEN u.attempt IS NULL THEN coalesce(u.continued_on_error, jobs.continued_on_error)
      ELSE u.continued_on_error END
  FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::integer[],
              $8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::text[], $13::text[], $14::bigint[],
              $15::integer[], $16::boolean[])
    AS u(id, status, started_at, finished_at, outputs, reason, attempt, name, matrix, queued_at, not_before, priority,
         runner, fencing_token, tries_from, continued_on_error)
  WHERE jobs.id = u.id`,
};

/**
 * Each job's patch, in one statement (one patch per job: fold a job's patches into one first, as
 * JobRowWrites does); how many rows changed. The columns go as array literals (array-literal.ts):
 * node-postgres's own serializer made most of this call's garbage.
 */
export async function updateJobRows(query: Query, patches: ReadonlyMap<JobId, JobPatch>): Promise<number> {
  const count = patches.size;
  const id = new Array<string>(count);
  const status = new Array<string | null>(count);
  const startedAt = new Array<number | null>(count);
  const finishedAt = new Array<number | null>(count);
  const outputs = new Array<string | null>(count);
  const reason = new Array<string | null>(count);
  const attempt = new Array<number | null>(count);
  const name = new Array<string | null>(count);
  const matrix = new Array<string | null>(count);
  const queuedAt = new Array<number | null>(count);
  const notBefore = new Array<number | null>(count);
  const priority = new Array<string | null>(count);
  const runner = new Array<string | null>(count);
  const fencingToken = new Array<number | null>(count);
  const triesFrom = new Array<number | null>(count);
  const continuedOnError = new Array<string | null>(count);
  let row = 0;
  for (const [jobId, patch] of patches) {
    id[row] = jobId;
    status[row] = patch.status ?? null;
    startedAt[row] = patch.startedAt ?? null;
    finishedAt[row] = patch.finishedAt ?? null;
    outputs[row] = patch.outputs === undefined ? null : recordJson(patch.outputs);
    reason[row] = patch.reason ?? null;
    attempt[row] = patch.attempt ?? null;
    name[row] = patch.name ?? null;
    matrix[row] = patch.matrix === undefined ? null : recordJson(patch.matrix);
    queuedAt[row] = patch.queuedAt ?? null;
    notBefore[row] = patch.notBefore ?? null;
    priority[row] = patch.priority ?? null;
    runner[row] = patch.runner === undefined ? null : jobRunnerJson(patch.runner);
    fencingToken[row] = patch.fencingToken ?? null;
    triesFrom[row] = patch.triesFrom ?? null;
    continuedOnError[row] = patch.continuedOnError === undefined ? null : 'true';
    row++;
  }
  const values = [
    textArrayLiteral(id),
    textArrayLiteral(status),
    integerArrayLiteral(startedAt),
    integerArrayLiteral(finishedAt),
    textArrayLiteral(outputs),
    textArrayLiteral(reason),
    integerArrayLiteral(attempt),
    textArrayLiteral(name),
    textArrayLiteral(matrix),
    integerArrayLiteral(queuedAt),
    integerArrayLiteral(notBefore),
    textArrayLiteral(priority),
    textArrayLiteral(runner),
    integerArrayLiteral(fencingToken),
    integerArrayLiteral(triesFrom),
    textArrayLiteral(continuedOnError),
  ];
  return (await query(updateJobs, values)).rowCount ?? 0;
}
