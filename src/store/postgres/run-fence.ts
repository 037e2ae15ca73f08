import { ValkyrieError } from '../../core/errors.js';
import { type RunId, runIdOfJob } from '../../core/ids.js';
import type { RunOwner } from '../recovery.js';
import { jobAttemptColumns, stepColumns } from '../rows.js';
import { RunTakenOverError } from '../run-fence.js';
import { integerArrayLiteral, textArrayLiteral } from './array-literal.js';
import { jobAttemptUpsert, runIdOf, stepUpsert } from './columns.js';
import type { Query, Statement } from './database.js';

/**
 * The run fence (store/run-fence.ts) on Postgres, in the statements that write: each names the writer
 * and holds the run's row until the transaction ends — FOR SHARE, or the UPDATE's own row lock — so
 * that a claim (an UPDATE of that row) waits for the commit, and a claim that committed first is seen
 * (READ COMMITTED re-reads a row it waited for). No statement is added to a write, except to addJobs.
 */
export const ownedBy = (host: string, pid: string) =>
  `(r.owner_host IS NULL OR (r.owner_host = ${host} AND r.owner_pid = ${pid}))`;

const lockJobsText = `SELECT j.id FROM jobs j JOIN runs r ON r.id = j.run_id
  WHERE j.id = ANY($1::text[]) AND ${ownedBy('$2', '$3')} FOR UPDATE OF j FOR SHARE OF r`;

export const fencedStatements = {
  updateRun: {
    name: 'vk_update_run_fenced',
    text: `UPDATE runs r SET status = $2, started_at = coalesce($3, started_at),
           finished_at = coalesce($4, finished_at) WHERE id = $1 AND ${ownedBy('$5', '$6')}`,
  },
  recordConcurrency: {
    name: 'vk_record_concurrency_fenced',
    text: `UPDATE runs r SET concurrency_group = $2, concurrency_state = $3, concurrency_ahead = $4,
           concurrency_at = $5, concurrency_joined_at = $6 WHERE id = $1 AND ${ownedBy('$7', '$8')}`,
  },
  // A missing job inserts nothing here (no foreign key error): writtenOrWhy tells it from a taken run.
  recordStep: {
    name: 'vk_record_step_fenced',
    text: `INSERT INTO steps (${stepColumns})
           SELECT $1::text, $2::integer, $3::integer, $4::integer, $5::text, $6::text, $7::text, $8::integer,
             $9::bigint, $10::bigint, $11::bigint, $12::bigint, $13::bigint
           FROM jobs j JOIN runs r ON r.id = j.run_id WHERE j.id = $1 AND ${ownedBy('$14', '$15')} FOR SHARE OF r

           ${stepUpsert}`,
  },
  recordJobAttempt: {
    name: 'vk_record_job_attempt_fenced',
    text: `INSERT INTO job_attempts (${jobAttemptColumns})
           SELECT $1::text, $2::integer, $3::text, $4::bigint, $5::bigint, $6::text, $7::bigint, $8::text, $9::json,
             $10::bigint
           FROM jobs j JOIN runs r ON r.id = j.run_id WHERE j.id = $1 AND ${ownedBy('$11', '$12')} FOR SHARE OF r

           ${jobAttemptUpsert}`,
  },
  /** The jobs to update, of runs the writer may write, locked; with their runs held (FOR SHARE). */
  lockJobs: { name: 'vk_lock_jobs_fenced', text: lockJobsText },
  /**
   * lockJobs counted: the same locks, and how many jobs they took, without a row of each for the
   * client to read (~1k instructions a row on the server's main thread). A count short of the jobs
   * asked for is followed by lockJobs, which names the jobs locked (locks held are taken again).
   */
  lockJobsCounted: {
    name: 'vk_lock_jobs_fenced_count',
    text: `WITH locked AS (${lockJobsText}) SELECT count(*)::int AS locked FROM locked`,
  },
  /** After lockJobs found fewer: which jobs exist, and their runs. */
  jobRuns: { name: 'vk_job_runs', text: 'SELECT id, run_id FROM jobs WHERE id = ANY($1::text[])' },
  /** addJobs' runs the writer may write, held; another owner's are not locked (nor waited for). */
  lockRuns: {
    name: 'vk_lock_runs_fenced',
    text: `SELECT r.id FROM runs r WHERE r.id = ANY($1::bigint[]) AND ${ownedBy('$2', '$3')} FOR SHARE`,
  },
  /** After lockRuns found fewer: which of those runs exist (another owner's). */
  runsExisting: { name: 'vk_runs_existing', text: 'SELECT id FROM runs WHERE id = ANY($1::bigint[])' },
  runExists: { name: 'vk_run_exists', text: 'SELECT 1 FROM runs WHERE id = $1' },
  jobExists: { name: 'vk_job_exists', text: 'SELECT 1 FROM jobs WHERE id = $1' },
} satisfies Record<string, Statement>;

/** The writer's parameters, as the fenced statements take them last. */
export function writerValues(writer: RunOwner): readonly [string, number] {
  return [writer.host, writer.pid];
}

/**
 * After a fenced statement on a run wrote no row: VK_RUN_NOT_FOUND when the run does not exist,
 * else the run is another owner's (RunTakenOverError). Nothing was written either way.
 */
export async function runNotWritten(query: Query, runId: RunId, key: string | undefined): Promise<never> {
  if (key !== undefined && (await query(fencedStatements.runExists, [key])).rows.length > 0)
    throw new RunTakenOverError([runId]);
  throw new ValkyrieError('VK_RUN_NOT_FOUND', `no run with id ${runId}`);
}

/** As runNotWritten, for a fenced statement on a job's row: VK_JOB_NOT_FOUND or RunTakenOverError. */
export async function jobNotWritten(query: Query, jobId: string): Promise<never> {
  const runId = runIdOfJob(jobId);
  if (runId !== undefined && (await query(fencedStatements.jobExists, [jobId])).rows.length > 0)
    throw new RunTakenOverError([runId]);
  throw new ValkyrieError('VK_JOB_NOT_FOUND', `no job with id ${jobId}`);
}

/** Holds addJobs' runs (FOR SHARE) and refuses the write when another owner holds one of them. */
export async function lockRunsOf(query: Query, runKeys: readonly string[], writer: RunOwner): Promise<void> {
  const distinct = [...new Set(runKeys)];
  const { rows } = await query<{ id: string }>(fencedStatements.lockRuns, [
    integerArrayLiteral(distinct),
    ...writerValues(writer),
  ]);
  if (rows.length === distinct.length) return;
  // The owner test is in the WHERE, as in every fenced statement: a stale writer locks no run another
  // owner holds, so that owner's writes never wait for (or deadlock with) the stale batch. A run that
  // does not exist is left to the INSERT's foreign key (VK_RUN_NOT_FOUND).
  const held = new Set(rows.map((row) => String(row.id)));
  const missing = distinct.filter((key) => !held.has(key));
  const taken = await query<{ id: string }>(fencedStatements.runsExisting, [integerArrayLiteral(missing)]);
  if (taken.rows.length > 0) throw new RunTakenOverError(taken.rows.map((row) => runIdOf(row.id)));
}

/** The runs of `jobIds` that exist (by job id): after lockJobs, those not locked are another owner's. */
export async function runsOfJobs(query: Query, jobIds: readonly string[]): Promise<Map<string, RunId>> {
  const { rows } = await query<{ id: string; run_id: string }>(fencedStatements.jobRuns, [
    textArrayLiteral(jobIds),
  ]);
  return new Map(rows.map((row) => [row.id, runIdOf(row.run_id)]));
}
